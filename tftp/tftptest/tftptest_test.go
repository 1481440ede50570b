package tftptest

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
)

func TestNewServer(t *testing.T) {
	s := NewServer(tftp.HandlerFunc(func(r *tftp.Request) (io.ReaderAt, int64, error) {
		return strings.NewReader("hello"), 5, nil
	}))
	if !s.AddrPort.Addr().IsLoopback() || s.Addr != s.AddrPort.String() {
		t.Errorf("address %q / %v", s.Addr, s.AddrPort)
	}
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteTo(tftp.AppendRequest(nil, tftp.OpRRQ, "x", "octet", nil), net.UDPAddrFromAddrPort(s.AddrPort)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 600)
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	blk, data, err := tftp.ParseData(buf[:n])
	if err != nil || blk != 1 || string(data) != "hello" {
		t.Fatalf("got %q %v", buf[:n], err)
	}
	if _, err := c.WriteTo(tftp.AppendAck(nil, 1), from); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if got := s.Server.Stats().Completed; got != 1 {
		t.Errorf("Completed = %d", got)
	}
}

// pipe returns two connected loopback sockets.
func pipe(t *testing.T) (a, b net.PacketConn) {
	t.Helper()
	a, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err = net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// exchange writes n one-byte packets numbered 0..n-1 from a through w and
// reads them on r until a read times out.
func exchange(t *testing.T, w net.PacketConn, dst net.Addr, r net.PacketConn, n int) []byte {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := w.WriteTo([]byte{byte(i)}, dst); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	buf := make([]byte, 10)
	for i := 0; i < 3*n+2; i++ {
		if err := r.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		m, _, err := r.ReadFrom(buf)
		if err != nil {
			break
		}
		got = append(got, buf[:m]...)
	}
	return got
}

func TestLossyConn(t *testing.T) {
	a, b := pipe(t)
	drop := NewLossyConn(a, 1, Loss{Drop: 1})
	if got := exchange(t, drop, b.LocalAddr(), b, 5); len(got) != 0 {
		t.Errorf("Drop 1 delivered %v", got)
	}
	dup := NewLossyConn(a, 1, Loss{Duplicate: 1})
	if got := exchange(t, dup, b.LocalAddr(), b, 3); !bytes.Equal(got, []byte{0, 0, 1, 1, 2, 2}) {
		t.Errorf("Duplicate 1 on write delivered %v", got)
	}
	rdup := NewLossyConn(b, 1, Loss{Duplicate: 1})
	if got := exchange(t, a, b.LocalAddr(), rdup, 2); !bytes.Equal(got, []byte{0, 0, 1, 1}) {
		t.Errorf("Duplicate 1 on read delivered %v", got)
	}
	// Reorder 1: every other packet is held and passed by the next.
	ro := NewLossyConn(a, 1, Loss{Reorder: 1})
	if got := exchange(t, ro, b.LocalAddr(), b, 4); !bytes.Equal(got, []byte{1, 0, 3, 2}) {
		t.Errorf("Reorder 1 on write delivered %v", got)
	}
	rro := NewLossyConn(b, 1, Loss{Reorder: 1})
	if got := exchange(t, a, b.LocalAddr(), rro, 3); !bytes.Equal(got, []byte{1, 0, 2}) {
		t.Errorf("Reorder 1 on read delivered %v", got)
	}
	// The same seed makes the same decisions.
	mixed := func() []byte {
		x, y := pipe(t)
		return exchange(t, NewLossyConn(x, 42, Loss{Drop: 0.3, Duplicate: 0.3}), y.LocalAddr(), y, 30)
	}
	if g1, g2 := mixed(), mixed(); !bytes.Equal(g1, g2) {
		t.Errorf("same seed, different results: %v vs %v", g1, g2)
	}
}
