package tftp

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

func oneFile(name string, data []byte) Handler {
	return FileServer(fstest.MapFS{name: &fstest.MapFile{Data: data}})
}

func expectData(t *testing.T, c *rawClient, block uint16) (*DataPacket, *net.UDPAddr) {
	t.Helper()
	p, from := c.recv(5 * time.Second)
	d, ok := p.(*DataPacket)
	if !ok || d.Block != block {
		t.Fatalf("got %v %+v, want DATA %d", p.Opcode(), p, block)
	}
	return d, from
}

func TestBusy(t *testing.T) {
	srv := &Server{Handler: oneFile("f", pattern(4096)), MaxTransfers: 1, Timeout: 5 * time.Second}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c1 := newRawClient(t, "udp4", "127.0.0.1:0")
	c1.send(addr, rrq("f", "octet"))
	_, tid := expectData(t, c1, 1) // transfer 1 is running, unacknowledged
	c2 := newRawClient(t, "udp4", "127.0.0.1:0")
	c2.send(addr, rrq("f", "octet"))
	e, from := c2.expectError(5*time.Second, ErrUndefined)
	if e.Message != "server busy" || from.Port != addr.Port {
		t.Errorf("busy reply %q from %v", e.Message, from)
	}
	if got := srv.Stats().Busy; got != 1 {
		t.Errorf("Busy = %d", got)
	}
	c1.send(tid, AppendError(nil, ErrUndefined, "bye"))
}

func TestUnknownTID(t *testing.T) {
	sink := newStatsSink()
	data := pattern(3000)
	// A patient timer: a retransmit here would only mean a stalled machine.
	srv := &Server{Handler: oneFile("f", data), OnTransfer: sink.on, MinTimeout: 10 * time.Second, Timeout: 10 * time.Second}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	c.send(addr, rrq("f", "octet"))
	d, tid := expectData(t, c, 1)
	got := append([]byte(nil), d.Data...)
	// A stranger pokes the transfer socket.
	s := newRawClient(t, "udp4", "127.0.0.1:0")
	s.send(tid, AppendAck(nil, 1))
	e, from := s.expectError(5*time.Second, ErrUnknownTID)
	if from.String() != tid.String() || e.Message != "unknown transfer ID" {
		t.Errorf("ERROR 5 %q from %v, want from %v", e.Message, from, tid)
	}
	// The transfer goes on undisturbed.
	for blk := uint16(1); ; blk++ {
		c.send(tid, AppendAck(nil, blk))
		if len(d.Data) < 512 {
			break
		}
		d, _ = expectData(t, c, blk+1)
		got = append(got, d.Data...)
	}
	if !bytes.Equal(got, data) {
		t.Error("data differs")
	}
	if st := sink.next(t); st.Outcome != Completed || st.Retransmits != 0 {
		t.Errorf("stats %+v", st)
	}
	if srv.Stats().BadPackets != 1 {
		t.Errorf("BadPackets = %d", srv.Stats().BadPackets)
	}
}

// TestDuplicateAckNoResend is the Sorcerer's Apprentice check: duplicate
// ACKs must never make the server send a DATA block again.
func TestDuplicateAckNoResend(t *testing.T) {
	sink := newStatsSink()
	data := pattern(512*6 + 100)
	srv := &Server{Handler: oneFile("f", data), OnTransfer: sink.on, Timeout: 10 * time.Second, MinTimeout: 10 * time.Second}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	c.send(addr, rrq("f", "octet", "blksize", "512"))
	p, tid := c.recv(5 * time.Second)
	if _, ok := p.(*OACKPacket); !ok {
		t.Fatalf("got %v, want OACK", p.Opcode())
	}
	c.send(tid, AppendAck(nil, 0))
	c.send(tid, AppendAck(nil, 0))
	count := map[uint16]int{}
	var got []byte
	for i := 0; i < 50; i++ {
		wait := 5 * time.Second
		if len(got) == len(data) {
			wait = 300 * time.Millisecond // done: anything more would be a resend
		}
		p, _, err := c.tryRecv(wait)
		if err != nil {
			break
		}
		d, ok := p.(*DataPacket)
		if !ok {
			t.Fatalf("got %v", p.Opcode())
		}
		count[d.Block]++
		if count[d.Block] == 1 {
			got = append(got, d.Data...)
		}
		// Acknowledge three times, plus a stale ACK for the block before.
		for j := 0; j < 3; j++ {
			c.send(tid, AppendAck(nil, d.Block))
		}
		c.send(tid, AppendAck(nil, d.Block-1))
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, want %d", len(got), len(data))
	}
	for blk, n := range count {
		if n != 1 {
			t.Errorf("DATA %d sent %d times", blk, n)
		}
	}
	if st := sink.next(t); st.Outcome != Completed || st.Retransmits != 0 || st.Timeouts != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestWindowRewind(t *testing.T) {
	sink := newStatsSink()
	data := pattern(100) // blocks of 8: 12 full + 1 of 4
	srv := &Server{Handler: oneFile("f", data), OnTransfer: sink.on, Timeout: 5 * time.Second, MinTimeout: 5 * time.Second}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	c.send(addr, rrq("f", "octet", "blksize", "8", "windowsize", "4"))
	p, tid := c.recv(5 * time.Second)
	if o, ok := p.(*OACKPacket); !ok || !reflect.DeepEqual(o.Options, Options{{"blksize", "8"}, {"windowsize", "4"}}) {
		t.Fatalf("got %+v, want OACK", p)
	}
	c.send(tid, AppendAck(nil, 0))
	for b := uint16(1); b <= 4; b++ {
		expectData(t, c, b)
	}
	// Pretend block 3 was lost: ACK 2 rewinds the window to 3..6.
	c.send(tid, AppendAck(nil, 2))
	for b := uint16(3); b <= 6; b++ {
		expectData(t, c, b)
	}
	// A stale ACK (older than the window) changes nothing.
	c.send(tid, AppendAck(nil, 1))
	c.send(tid, AppendAck(nil, 6))
	for b := uint16(7); b <= 10; b++ {
		expectData(t, c, b)
	}
	c.send(tid, AppendAck(nil, 10))
	for b := uint16(11); b <= 13; b++ {
		d, _ := expectData(t, c, b)
		if b == 13 && !bytes.Equal(d.Data, data[96:]) {
			t.Errorf("last block %q", d.Data)
		}
	}
	c.send(tid, AppendAck(nil, 13))
	st := sink.next(t)
	if st.Outcome != Completed || st.Rewinds != 1 || st.Retransmits != 2 || st.Timeouts != 0 || st.Blocks != 13 {
		t.Errorf("stats %+v", st)
	}
}

func TestAbortAfterOACKIsQuiet(t *testing.T) {
	sink := newStatsSink()
	var logs lockedBuffer
	srv := &Server{
		Handler:    oneFile("start4.elf", pattern(2000)),
		OnTransfer: sink.on,
		Logger:     slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	c.send(addr, rrq("start4.elf", "octet", "tsize", "0", "blksize", "1024"))
	p, tid := c.recv(5 * time.Second)
	o, ok := p.(*OACKPacket)
	if !ok || !reflect.DeepEqual(o.Options, Options{{"tsize", "2000"}, {"blksize", "1024"}}) {
		t.Fatalf("got %+v", p)
	}
	c.send(tid, AppendError(nil, ErrUndefined, "Early terminate"))
	st := sink.next(t)
	if st.Outcome != Aborted || st.Err == nil || !strings.Contains(st.Err.Error(), "Early terminate") {
		t.Errorf("stats %+v", st)
	}
	if _, _, err := c.tryRecv(200 * time.Millisecond); err == nil {
		t.Error("server answered the client's ERROR")
	}
	if got := srv.Stats(); got.Aborted != 1 || got.Failed != 0 {
		t.Errorf("counters %+v", got)
	}
	if logs.Len() != 0 {
		t.Errorf("abort logged at Info: %s", logs.String())
	}
	// The identical request that follows is served in full.
	c2 := newRawClient(t, "udp4", "127.0.0.1:0")
	res, err := clientGet(c2.conn, addr, "start4.elf", getOpts{opts: Options{{"tsize", "0"}, {"blksize", "1024"}}})
	if err != nil || !bytes.Equal(res.data, pattern(2000)) {
		t.Fatalf("second request: %v", err)
	}
	if st := sink.next(t); st.Outcome != Completed {
		t.Errorf("second request: %+v", st)
	}
	if !strings.Contains(logs.String(), "outcome=completed") {
		t.Errorf("no Info line for the completed transfer: %s", logs.String())
	}
}

func TestDuplicateRRQ(t *testing.T) {
	sink := newStatsSink()
	srv := &Server{Handler: oneFile("f", pattern(1000)), OnTransfer: sink.on, Timeout: 5 * time.Second}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	c.send(addr, rrq("f", "octet"))
	_, tid := expectData(t, c, 1)
	c.send(addr, rrq("f", "octet")) // retransmitted request
	c.send(addr, rrq("f", "octet"))
	// Let the main socket see both before the transfer can end (the two
	// sockets are not ordered with each other).
	waitFor(t, "the duplicates to be counted", func() bool { return srv.Stats().Duplicates == 2 })
	// A second transfer would send its own DATA 1; only ours may arrive.
	c.send(tid, AppendAck(nil, 1))
	d, from := expectData(t, c, 2)
	if from.String() != tid.String() || len(d.Data) != 488 {
		t.Fatalf("DATA 2 from %v (%d bytes)", from, len(d.Data))
	}
	c.send(tid, AppendAck(nil, 2))
	if st := sink.next(t); st.Outcome != Completed {
		t.Errorf("stats %+v", st)
	}
	if p, _, err := c.tryRecv(200 * time.Millisecond); err == nil {
		t.Errorf("unexpected %v packet: a second transfer started", p.Opcode())
	}
	if got := srv.Stats(); got.Duplicates != 2 || got.Requests != 1 {
		t.Errorf("counters %+v", got)
	}
}

func TestNetASCIIRead(t *testing.T) {
	sink := newStatsSink()
	text := []byte(strings.Repeat("line\n", 200) + "cr\rend")
	srv := &Server{Handler: oneFile("t.txt", text), OnTransfer: sink.on}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	res, err := clientGet(c.conn, addr, "t.txt", getOpts{mode: "NETASCII", opts: Options{{"tsize", "0"}, {"blksize", "100"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte(strings.Repeat("line\r\n", 200) + "cr\r\x00end")
	if !bytes.Equal(res.data, want) {
		t.Errorf("netascii data differs: %q...", res.data[:20])
	}
	if !reflect.DeepEqual(res.oack, Options{{"blksize", "100"}}) {
		t.Errorf("OACK %v: tsize must not be offered for netascii", res.oack)
	}
	if st := sink.next(t); st.Mode != ModeNetASCII || st.TransferSize != -1 {
		t.Errorf("stats %+v", st)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

func TestOACKContents(t *testing.T) {
	srv := &Server{Handler: oneFile("f", pattern(3000)), MaxBlockSize: 1024, MaxWindowSize: 8}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	cases := []struct {
		req  []byte
		want Options // nil: no OACK, DATA 1 comes first
	}{
		{rrq("f", "octet", "multicast", "", "foo", "bar"), nil},
		{rrq("f", "netascii", "tsize", "0"), nil},
		{rrq("f", "octet", "BlkSize", "1468", "WINDOWSIZE", "64", "tsize", "0"),
			Options{{"BlkSize", "1024"}, {"WINDOWSIZE", "8"}, {"tsize", "3000"}}},
		{rrq("f", "octet", "tsize", "enable", "blksize", "1024"), // atftp's documented form
			Options{{"tsize", "3000"}, {"blksize", "1024"}}},
		{rrq("f", "octet", "timeout", "2", "utimeout", "500000", "x", "y", "blksize", "512", "blksize", "600"),
			Options{{"timeout", "2"}, {"utimeout", "500000"}, {"blksize", "512"}}},
	}
	for _, tc := range cases {
		c := newRawClient(t, "udp4", "127.0.0.1:0")
		c.send(addr, tc.req)
		p, tid := c.recv(5 * time.Second)
		switch p := p.(type) {
		case *OACKPacket:
			if !reflect.DeepEqual(p.Options, tc.want) {
				t.Errorf("%q: OACK %v, want %v", tc.req, p.Options, tc.want)
			}
		case *DataPacket:
			if tc.want != nil || p.Block != 1 {
				t.Errorf("%q: DATA %d, want OACK %v", tc.req, p.Block, tc.want)
			}
		default:
			t.Errorf("%q: got %+v", tc.req, p)
		}
		c.send(tid, AppendError(nil, ErrUndefined, "done"))
	}
}

// heldContent is a file whose Close waits for release: its transfer's
// goroutine stays in its clean-up after the exchange has ended.
type heldContent struct {
	*bytes.Reader
	closing chan struct{} // closed when Close is called
	release chan struct{}
}

func (h *heldContent) Close() error {
	close(h.closing)
	<-h.release
	return nil
}

// TestRequestAfterEndFromSamePort: a client that reuses its port for a new
// request as soon as a transfer has ended is served at once, not dropped as
// a duplicate while the old transfer's goroutine is still cleaning up
// (which cost such a client its whole retransmit timeout).
func TestRequestAfterEndFromSamePort(t *testing.T) {
	held := &heldContent{Reader: bytes.NewReader(pattern(100)), closing: make(chan struct{}), release: make(chan struct{})}
	first := true
	var mu sync.Mutex
	h := HandlerFunc(func(r *Request) (io.ReaderAt, int64, error) {
		mu.Lock()
		defer mu.Unlock()
		if first {
			first = false
			return held, 100, nil
		}
		return bytes.NewReader(pattern(200)), 200, nil
	})
	sink := newStatsSink()
	srv := &Server{Handler: h, OnTransfer: sink.on, Timeout: 5 * time.Second}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	c.send(addr, rrq("f", "octet"))
	d, tid := expectData(t, c, 1)
	if len(d.Data) != 100 {
		t.Fatalf("first transfer: DATA 1 of %d bytes, want 100", len(d.Data))
	}
	c.send(tid, AppendAck(nil, 1)) // the transfer's last ACK
	select {
	case <-held.closing:
	case <-time.After(10 * time.Second):
		t.Fatal("the first transfer did not reach its clean-up")
	}
	defer close(held.release)
	// Sent once, from the same port, while the first transfer's goroutine
	// is held in its clean-up: without a reply the test fails.
	c.send(addr, rrq("f", "octet"))
	d2, tid2 := expectData(t, c, 1)
	if len(d2.Data) != 200 || tid2.Port == tid.Port {
		t.Fatalf("second request: DATA 1 of %d bytes from port %d (first transfer's %d)", len(d2.Data), tid2.Port, tid.Port)
	}
	c.send(tid2, AppendAck(nil, 1))
	if got := srv.Stats(); got.Duplicates != 0 || got.Requests != 2 {
		t.Errorf("counters %+v: want 2 requests, no duplicate", got)
	}
}

// heldRequests counts the requests the server holds until the transfer
// before them ends.
func heldRequests(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.peers {
		if e.pending != nil {
			n++
		}
	}
	return n
}

// TestRequestBeforeFinalAckFromSamePort: a client that sends its final ACK
// and at once a new request from the same port may have the request reach
// the main socket before the ACK reaches the transfer's: the request is
// held and served when the transfer completes, not dropped as a duplicate.
// If the transfer does not complete, the held request is dropped (it was a
// retransmission after all) and counted as a duplicate.
func TestRequestBeforeFinalAckFromSamePort(t *testing.T) {
	for _, complete := range []bool{true, false} {
		t.Run(fmt.Sprintf("complete=%v", complete), func(t *testing.T) {
			sink := newStatsSink()
			srv := &Server{Handler: oneFile("f", pattern(100)), OnTransfer: sink.on, Timeout: 5 * time.Second}
			addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
			c := newRawClient(t, "udp4", "127.0.0.1:0")
			c.send(addr, rrq("f", "octet"))
			_, tid := expectData(t, c, 1) // the last block
			c.send(addr, rrq("f", "octet"))
			waitFor(t, "the request to be held", func() bool { return heldRequests(srv) == 1 })
			if complete {
				c.send(tid, AppendAck(nil, 1))
				d, tid2 := expectData(t, c, 1)
				if len(d.Data) != 100 || tid2.Port == tid.Port {
					t.Fatalf("held request: DATA 1 of %d bytes from port %d (first transfer's %d)", len(d.Data), tid2.Port, tid.Port)
				}
				c.send(tid2, AppendAck(nil, 1))
				for range 2 {
					if st := sink.next(t); st.Outcome != Completed {
						t.Errorf("stats %+v", st)
					}
				}
				if got := srv.Stats(); got.Duplicates != 0 || got.Requests != 2 {
					t.Errorf("counters %+v: want 2 requests, no duplicate", got)
				}
				return
			}
			c.send(tid, AppendError(nil, ErrUndefined, "gone"))
			if st := sink.next(t); st.Outcome != Aborted {
				t.Errorf("stats %+v", st)
			}
			if p, _, err := c.tryRecv(300 * time.Millisecond); err == nil {
				t.Errorf("unexpected %v packet: the held request was served", p.Opcode())
			}
			waitFor(t, "the held request to be dropped", func() bool { return srv.Stats().Duplicates == 1 })
			if got := srv.Stats(); got.Requests != 1 {
				t.Errorf("counters %+v: want 1 request", got)
			}
		})
	}
}
