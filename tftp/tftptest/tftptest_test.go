package tftptest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
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
	// A second Close returns at once (it used to wait for Serve forever).
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
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

// TestLogBuffer: lines are matched on every word, written from several
// goroutines at once.
func TestLogBuffer(t *testing.T) {
	log, lb := NewLogger(slog.LevelInfo)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { log.Info("transfer", "n", i, "outcome", "completed") })
	}
	log.Debug("hidden")
	wg.Wait()
	if got := lb.Lines("msg=transfer", "outcome=completed"); len(got) != 4 {
		t.Errorf("%d matching lines, want 4:\n%s", len(got), lb)
	}
	if got := lb.Lines("n=2", "outcome=completed"); len(got) != 1 {
		t.Errorf("lines %q, want one with n=2", got)
	}
	if got := lb.Lines("hidden"); len(got) != 0 {
		t.Errorf("debug line logged at info level: %q", got)
	}
	if got := Lines("a b\n\nb c\na c\n", "a", "c"); len(got) != 1 || got[0] != "a c" {
		t.Errorf(`Lines(…, "a", "c") = %q, want ["a c"]`, got)
	}
}

// TestTransfers: Wait returns once n transfers are recorded, in order,
// whether they were recorded before or while it waits.
func TestTransfers(t *testing.T) {
	var tr Transfers
	tr.Record(&tftp.TransferStats{Filename: "a", Outcome: tftp.Completed})
	if got := tr.Wait(t, 1, 10*time.Second); len(got) != 1 || got[0].Filename != "a" {
		t.Fatalf("Wait(1) = %v", got)
	}
	go func() {
		tr.Record(&tftp.TransferStats{Filename: "b", Outcome: tftp.Aborted})
		tr.Record(&tftp.TransferStats{Filename: "c", Outcome: tftp.Completed})
	}()
	got := tr.Wait(t, 3, 10*time.Second)
	if len(got) != 3 || got[1].Filename != "b" || got[2].Filename != "c" {
		t.Fatalf("Wait(3) = %v", got)
	}
	if o := Outcomes(got); o[tftp.Completed] != 2 || o[tftp.Aborted] != 1 || len(o) != 2 {
		t.Errorf("Outcomes = %v", o)
	}
}

// TestContext: the context has the deadline asked for and is cancelled
// when the test that made it ends.
func TestContext(t *testing.T) {
	var ctx context.Context
	t.Run("inner", func(t *testing.T) {
		ctx = Context(t, time.Hour)
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > time.Hour || ctx.Err() != nil {
			t.Errorf("deadline %v (%v), err %v", d, ok, ctx.Err())
		}
	})
	if ctx.Err() == nil {
		t.Error("context still live after its test ended")
	}
}

// TestStart: a server from Start serves, and is closed when its test ends.
func TestStart(t *testing.T) {
	var s *Server
	t.Run("inner", func(t *testing.T) {
		s = Start(t, tftp.HandlerFunc(func(r *tftp.Request) (io.ReaderAt, int64, error) {
			return strings.NewReader("hi"), 2, nil
		}))
		var buf bytes.Buffer
		if _, err := (&tftp.Client{}).Get(Context(t, 10*time.Second), s.Addr, "x", &buf); err != nil || buf.String() != "hi" {
			t.Fatalf("Get: %q, %v", buf.String(), err)
		}
	})
	if err := s.Server.Serve(s.pc); !errors.Is(err, tftp.ErrServerClosed) {
		t.Errorf("Serve after the test ended: %v, want tftp.ErrServerClosed", err)
	}
}
