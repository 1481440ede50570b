package tftp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// clFake is a scripted TFTP server for client tests: a request socket and a
// transfer socket on loopback, driven step by step by the test.
type clFake struct {
	t      *testing.T
	main   *net.UDPConn
	xfer   *net.UDPConn
	client netip.AddrPort
}

func clNewFake(t *testing.T) *clFake {
	t.Helper()
	f := &clFake{t: t}
	for _, c := range []**net.UDPConn{&f.main, &f.xfer} {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		*c = conn
	}
	return f
}

func (f *clFake) addr() string { return f.main.LocalAddr().String() }

// read returns the next packet on conn within a generous deadline.
func (f *clFake) read(conn *net.UDPConn) (tftp.Packet, netip.AddrPort, error) {
	buf := make([]byte, 70000)
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, netip.AddrPort{}, err
	}
	n, from, err := conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil, from, err
	}
	p, err := tftp.ParsePacket(buf[:n])
	return p, from, err
}

// request reads the client's request on the main socket.
func (f *clFake) request() (*tftp.RequestPacket, error) {
	p, from, err := f.read(f.main)
	if err != nil {
		return nil, err
	}
	r, ok := p.(*tftp.RequestPacket)
	if !ok {
		return nil, fmt.Errorf("want a request, got %T", p)
	}
	f.client = from
	return r, nil
}

// expect reads the next packet on the transfer socket and checks that it is
// want (compared by encoding).
func (f *clFake) expect(want tftp.Packet) error {
	p, _, err := f.read(f.xfer)
	if err != nil {
		return fmt.Errorf("waiting for %T: %w", want, err)
	}
	if got, w := p.AppendTo(nil), want.AppendTo(nil); !bytes.Equal(got, w) {
		return fmt.Errorf("got %s %x, want %s %x", p.Opcode(), got[:min(len(got), 16)], want.Opcode(), w[:min(len(w), 16)])
	}
	return nil
}

func (f *clFake) send(p tftp.Packet) error {
	_, err := f.xfer.WriteToUDPAddrPort(p.AppendTo(nil), f.client)
	return err
}

// run runs script in a goroutine and returns a function that waits for it
// and fails the test with its error.
func (f *clFake) run(script func() error) (wait func()) {
	done := make(chan error, 1)
	go func() { done <- script() }()
	return func() {
		f.t.Helper()
		select {
		case err := <-done:
			if err != nil {
				f.t.Fatalf("fake server: %v", err)
			}
		case <-time.After(30 * time.Second):
			f.t.Fatal("fake server script did not finish")
		}
	}
}

func data(block uint16, b []byte) *tftp.DataPacket { return &tftp.DataPacket{Block: block, Data: b} }
func ack(block uint16) *tftp.AckPacket             { return &tftp.AckPacket{Block: block} }

// TestClientLockStep: a resent copy of the block last acknowledged is
// acknowledged again at once (its ACK was lost), an older copy is ignored,
// and a packet from a stranger is answered with ERROR 5 without disturbing
// the transfer.
func TestClientLockStep(t *testing.T) {
	f := clNewFake(t)
	b1, b2, b3 := clPattern(512, 1), clPattern(512, 2), clPattern(100, 3)
	stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	wait := f.run(func() error {
		r, err := f.request()
		if err != nil {
			return err
		}
		// Timeout 5s is offered as the timeout option; this server
		// ignores options and answers with DATA 1.
		if r.Op != tftp.OpRRQ || r.Filename != "file" || r.Mode != "octet" || len(r.Options) != 1 || r.Options[0] != (tftp.Option{Name: "timeout", Value: "5"}) {
			return fmt.Errorf("request %+v, want an octet RRQ for file with only timeout=5", r)
		}
		if err := f.send(data(1, b1)); err != nil {
			return err
		}
		if err := f.expect(ack(1)); err != nil {
			return err
		}
		// A stranger butts in.
		if _, err := stranger.WriteToUDPAddrPort(data(2, b3).AppendTo(nil), f.client); err != nil {
			return err
		}
		p, _, err := f.read(stranger)
		if err != nil {
			return fmt.Errorf("stranger: %w", err)
		}
		if e, ok := p.(*tftp.Error); !ok || e.Code != tftp.ErrUnknownTID {
			return fmt.Errorf("stranger got %v, want ERROR 5", p)
		}
		for range 3 { // the same block three times
			if err := f.send(data(2, b2)); err != nil {
				return err
			}
		}
		// Each resent copy of the block last acknowledged means the ACK
		// was lost: one ACK 2 per copy, no more.
		for i := range 3 {
			if err := f.expect(ack(2)); err != nil {
				return fmt.Errorf("ACK 2 #%d: %w", i+1, err)
			}
		}
		// A copy of an older block (1) is ignored.
		if err := f.send(data(1, b1)); err != nil {
			return err
		}
		if err := f.send(data(3, b3)); err != nil {
			return err
		}
		// The next ACK must be for block 3: nothing for the old copy.
		return f.expect(ack(3))
	})
	c := tftp.Client{BlockSize: 512, Timeout: 5 * time.Second}
	var buf bytes.Buffer
	n, err := c.Get(tftptest.Context(t, 30*time.Second), f.addr(), "file", &buf)
	wait()
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte{}, b1...), b2...), b3...)
	if n != int64(len(want)) || !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("got %d bytes, want %d", n, len(want))
	}
}

// TestClientRetriesExhausted: the client re-ACKs on each timeout, then gives
// up with an error naming the block it waited for and tells the server.
func TestClientRetriesExhausted(t *testing.T) {
	f := clNewFake(t)
	wait := f.run(func() error {
		if _, err := f.request(); err != nil {
			return err
		}
		if err := f.send(data(1, clPattern(512, 1))); err != nil {
			return err
		}
		for i := range 3 { // the ACK, then one per retry
			if err := f.expect(ack(1)); err != nil {
				return fmt.Errorf("ACK %d: %w", i, err)
			}
		}
		p, _, err := f.read(f.xfer)
		if err != nil {
			return err
		}
		if _, ok := p.(*tftp.Error); !ok {
			return fmt.Errorf("after the retries got %v, want ERROR", p)
		}
		return nil
	})
	c := tftp.Client{BlockSize: 512, Timeout: 50 * time.Millisecond, Retries: 2}
	_, err := c.Get(tftptest.Context(t, 30*time.Second), f.addr(), "file", &bytes.Buffer{})
	wait()
	if err == nil || !strings.Contains(err.Error(), "block 2") || !strings.Contains(err.Error(), `"file"`) {
		t.Fatalf("error %v, want one naming the file and block 2", err)
	}
}

// TestClientCancel: cancelling the context mid-transfer sends ERROR 0 to the
// server and returns the context's error.
func TestClientCancel(t *testing.T) {
	f := clNewFake(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	wait := f.run(func() error {
		if _, err := f.request(); err != nil {
			return err
		}
		if err := f.send(data(1, clPattern(512, 1))); err != nil {
			return err
		}
		if err := f.expect(ack(1)); err != nil {
			return err
		}
		cancel()
		p, _, err := f.read(f.xfer)
		if err != nil {
			return err
		}
		if e, ok := p.(*tftp.Error); !ok || e.Code != tftp.ErrUndefined {
			return fmt.Errorf("after cancel got %v, want ERROR 0", p)
		}
		return nil
	})
	c := tftp.Client{BlockSize: 512, Timeout: 10 * time.Second}
	_, err := c.Get(ctx, f.addr(), "file", &bytes.Buffer{})
	wait()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// TestClientOptionRefused: ERROR 8 in reply to a request with options makes
// the client ask again without them.
func TestClientOptionRefused(t *testing.T) {
	f := clNewFake(t)
	body := clPattern(300, 9)
	wait := f.run(func() error {
		r, err := f.request()
		if err != nil {
			return err
		}
		if v, ok := r.Options.Get("blksize"); !ok || v != "1468" {
			return fmt.Errorf("first request options %v, want blksize 1468 (the default)", r.Options)
		}
		if _, err := f.main.WriteToUDPAddrPort((&tftp.Error{Code: tftp.ErrOption, Message: "no options"}).AppendTo(nil), f.client); err != nil {
			return err
		}
		r, err = f.request()
		if err != nil {
			return err
		}
		if len(r.Options) != 0 {
			return fmt.Errorf("second request has options %v", r.Options)
		}
		if err := f.send(data(1, body)); err != nil {
			return err
		}
		return f.expect(ack(1))
	})
	var c tftp.Client
	var buf bytes.Buffer
	_, err := c.Get(tftptest.Context(t, 30*time.Second), f.addr(), "file", &buf)
	wait()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), body) {
		t.Fatal("data differs")
	}
}

// TestClientBadOACK: an OACK granting a larger blksize or windowsize than
// asked, or one not asked for, is refused with ERROR 8 and fails the
// transfer with an error naming the option and why.
func TestClientBadOACK(t *testing.T) {
	for _, c := range []struct {
		client    tftp.Client
		opt       tftp.Option
		wantInErr string
	}{
		{tftp.Client{BlockSize: 1024}, tftp.Option{Name: "blksize", Value: "2048"}, "more than the 1024 asked for"},
		{tftp.Client{}, tftp.Option{Name: "windowsize", Value: "8"}, "not asked for"},
		{tftp.Client{WindowSize: 4}, tftp.Option{Name: "windowsize", Value: "16"}, "more than the 4 asked for"},
	} {
		t.Run(c.opt.Name+"="+c.opt.Value, func(t *testing.T) {
			f := clNewFake(t)
			wait := f.run(func() error {
				if _, err := f.request(); err != nil {
					return err
				}
				if err := f.send(&tftp.OACKPacket{Options: tftp.Options{c.opt}}); err != nil {
					return err
				}
				p, _, err := f.read(f.xfer)
				if err != nil {
					return err
				}
				if e, ok := p.(*tftp.Error); !ok || e.Code != tftp.ErrOption {
					return fmt.Errorf("got %v, want ERROR 8", p)
				}
				return nil
			})
			_, err := c.client.Get(tftptest.Context(t, 30*time.Second), f.addr(), "file", &bytes.Buffer{})
			wait()
			if err == nil || !strings.Contains(err.Error(), c.opt.Name) || !strings.Contains(err.Error(), c.wantInErr) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, c.opt.Name, c.wantInErr)
			}
		})
	}
}

// TestClientServerError: an ERROR packet comes back as *tftp.Error.
func TestClientServerError(t *testing.T) {
	f := clNewFake(t)
	wait := f.run(func() error {
		if _, err := f.request(); err != nil {
			return err
		}
		return f.send(&tftp.Error{Code: tftp.ErrAccess, Message: "go away"})
	})
	var c tftp.Client
	_, err := c.Get(tftptest.Context(t, 30*time.Second), f.addr(), "file", &bytes.Buffer{})
	wait()
	var te *tftp.Error
	if !errors.As(err, &te) || te.Code != tftp.ErrAccess || te.Message != "go away" {
		t.Fatalf("error %v, want *tftp.Error code 2 \"go away\"", err)
	}
}

// TestClientWindowGap: with windowsize 4, a missing block makes the client
// acknowledge the last in-order block once, and the server's rewind is
// accepted.
func TestClientWindowGap(t *testing.T) {
	f := clNewFake(t)
	blocks := make([][]byte, 8)
	for i := range blocks {
		blocks[i] = clPattern(512, uint64(i+1))
	}
	blocks[7] = blocks[7][:17] // the short last block
	wait := f.run(func() error {
		r, err := f.request()
		if err != nil {
			return err
		}
		if v, _ := r.Options.Get("windowsize"); v != "4" {
			return fmt.Errorf("request options %v, want windowsize 4", r.Options)
		}
		if _, ok := r.Options.Get("blksize"); ok {
			return fmt.Errorf("request options %v: blksize 512 must not be asked", r.Options)
		}
		if err := f.send(&tftp.OACKPacket{Options: tftp.Options{{Name: "windowsize", Value: "4"}}}); err != nil {
			return err
		}
		if err := f.expect(ack(0)); err != nil {
			return err
		}
		for _, b := range []int{1, 2, 4} { // 3 is lost
			if err := f.send(data(uint16(b), blocks[b-1])); err != nil {
				return err
			}
		}
		if err := f.expect(ack(2)); err != nil {
			return err
		}
		for b := 3; b <= 6; b++ {
			if err := f.send(data(uint16(b), blocks[b-1])); err != nil {
				return err
			}
		}
		if err := f.expect(ack(6)); err != nil {
			return err
		}
		for b := 7; b <= 8; b++ {
			if err := f.send(data(uint16(b), blocks[b-1])); err != nil {
				return err
			}
		}
		return f.expect(ack(8))
	})
	var pr clProgress
	c := tftp.Client{BlockSize: 512, WindowSize: 4, Timeout: 5 * time.Second, Progress: pr.hook}
	var buf bytes.Buffer
	_, err := c.Get(tftptest.Context(t, 30*time.Second), f.addr(), "file", &buf)
	wait()
	if err != nil {
		t.Fatal(err)
	}
	if want := bytes.Join(blocks, nil); !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("got %d bytes, want %d", buf.Len(), len(want))
	}
	if pr.last.WindowSize != 4 || pr.last.Block != 8 {
		t.Errorf("last progress %+v, want window 4, block 8", pr.last)
	}
}

// TestClientPutWindowRewind: a Put with windowsize 4 resends from the block
// after a partial-window ACK.
func TestClientPutWindowRewind(t *testing.T) {
	f := clNewFake(t)
	body := clPattern(10*512+33, 5)
	block := func(n int) []byte { return body[(n-1)*512 : min(n*512, len(body))] }
	var got []byte
	wait := f.run(func() error {
		r, err := f.request()
		if err != nil {
			return err
		}
		if r.Op != tftp.OpWRQ {
			return fmt.Errorf("request %v, want WRQ", r.Op)
		}
		if v, _ := r.Options.Get("tsize"); v != fmt.Sprint(len(body)) {
			return fmt.Errorf("request options %v, want tsize %d", r.Options, len(body))
		}
		if err := f.send(&tftp.OACKPacket{Options: tftp.Options{{Name: "windowsize", Value: "4"}, {Name: "tsize", Value: fmt.Sprint(len(body))}}}); err != nil {
			return err
		}
		for b := 1; b <= 4; b++ {
			if err := f.expect(data(uint16(b), block(b))); err != nil {
				return err
			}
		}
		got = append(got, block(1)...)
		got = append(got, block(2)...)
		if err := f.send(ack(2)); err != nil { // pretend 3 was lost
			return err
		}
		for _, win := range [][2]int{{3, 6}, {7, 10}} {
			for b := win[0]; b <= win[1]; b++ {
				if err := f.expect(data(uint16(b), block(b))); err != nil {
					return fmt.Errorf("block %d: %w", b, err)
				}
				got = append(got, block(b)...)
			}
			if err := f.send(ack(uint16(win[1]))); err != nil {
				return err
			}
		}
		if err := f.expect(data(11, block(11))); err != nil {
			return err
		}
		got = append(got, block(11)...)
		return f.send(ack(11))
	})
	var pr clProgress
	c := tftp.Client{BlockSize: 512, WindowSize: 4, TransferSize: true, Timeout: 5 * time.Second, Progress: pr.hook}
	err := c.Put(tftptest.Context(t, 30*time.Second), f.addr(), "file", bytes.NewReader(body), int64(len(body)))
	wait()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("server assembled %d bytes, want %d", len(got), len(body))
	}
	if pr.last.Bytes != int64(len(body)) || pr.last.Total != int64(len(body)) {
		t.Errorf("last progress %+v, want Bytes and Total %d", pr.last, len(body))
	}
}

// TestClientConfigErrors: out-of-range settings are refused before any
// packet is sent.
func TestClientConfigErrors(t *testing.T) {
	for _, c := range []tftp.Client{{BlockSize: 7}, {BlockSize: 65465}, {WindowSize: 65536}, {WindowSize: -1}, {Mode: "mail"}} {
		if _, err := c.Get(t.Context(), "127.0.0.1:9", "x", &bytes.Buffer{}); err == nil {
			t.Errorf("%+v: Get succeeded", c)
		}
	}
}

// TestClientStrangerBeforeLock: before the server's first reply, a packet
// from another IP address is answered with ERROR 5 and does not become the
// transfer's peer; the real server's reply then is.
func TestClientStrangerBeforeLock(t *testing.T) {
	f := clNewFake(t)
	stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	body := clPattern(40, 8)
	wait := f.run(func() error {
		if _, err := f.request(); err != nil {
			return err
		}
		if _, err := stranger.WriteToUDPAddrPort(data(1, []byte("forged")).AppendTo(nil), f.client); err != nil {
			return err
		}
		p, _, err := f.read(stranger)
		if err != nil {
			return fmt.Errorf("stranger: %w", err)
		}
		if e, ok := p.(*tftp.Error); !ok || e.Code != tftp.ErrUnknownTID {
			return fmt.Errorf("stranger got %v, want ERROR 5", p)
		}
		if err := f.send(data(1, body)); err != nil {
			return err
		}
		return f.expect(ack(1))
	})
	c := tftp.Client{BlockSize: 512, Timeout: 5 * time.Second}
	var buf bytes.Buffer
	_, err = c.Get(tftptest.Context(t, 30*time.Second), f.addr(), "file", &buf)
	wait()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), body) {
		t.Fatalf("got %q, want the server's %d bytes", buf.Bytes(), len(body))
	}
}
