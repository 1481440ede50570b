package tftp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		testpeer.Missing(t, "/proc/self/fd: "+err.Error())
	}
	return len(ents)
}

// waitFor polls cond on a ticker until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// impatientServer serves "f" (5000 bytes) with a 20 ms timer and three
// retries, reporting to the sink it returns.
func impatientServer(t *testing.T) (*Server, *statsSink, *net.UDPAddr) {
	sink := newStatsSink()
	srv := &Server{Handler: oneFile("f", pattern(5000)), Timeout: 20 * time.Millisecond, MinTimeout: 5 * time.Millisecond, Retries: 3, OnTransfer: sink.on}
	return srv, sink, net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
}

func TestStuckClientReleased(t *testing.T) {
	srv, sink, addr := impatientServer(t)
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	c.send(addr, rrq("f", "octet"))
	datas := 0
	for i := 0; i < 10; i++ {
		p, _ := c.recv(5 * time.Second)
		if e, ok := p.(*Error); ok {
			if e.Code != ErrUndefined || e.Message != "timeout" {
				t.Errorf("final error %v", e)
			}
			break
		}
		if d, ok := p.(*DataPacket); !ok || d.Block != 1 {
			t.Fatalf("got %+v", p)
		}
		datas++
	}
	if datas != 1+3 {
		t.Errorf("DATA 1 sent %d times, want 1 + 3 retries", datas)
	}
	st := sink.next(t)
	if st.Outcome != TimedOut || st.Timeouts != 4 || st.Retransmits != 3 {
		t.Errorf("stats %+v", st)
	}
	waitFor(t, "the transfer's goroutine and socket to go", func() bool {
		return srv.Stats().Active == 0 && runtime.NumGoroutine() <= baseG && openFDs(t) <= baseFD
	})
	if srv.Stats().TimedOut != 1 {
		t.Errorf("counters %+v", srv.Stats())
	}
}

func TestShutdownGraceful(t *testing.T) {
	data := pattern(512*3 + 10)
	sink := newStatsSink()
	srv := &Server{Handler: oneFile("f", data), OnTransfer: sink.on, Timeout: 5 * time.Second}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(pc) }()
	addr := pc.LocalAddr().(*net.UDPAddr)

	c := newRawClient(t, "udp4", "127.0.0.1:0")
	c.send(addr, rrq("f", "octet"))
	d, tid := expectData(t, c, 1)
	got := append([]byte(nil), d.Data...)

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	select {
	case err := <-served:
		if !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	// New requests get no service.
	c2 := newRawClient(t, "udp4", "127.0.0.1:0")
	c2.send(addr, rrq("f", "octet"))
	if p, _, err := c2.tryRecv(300 * time.Millisecond); err == nil {
		t.Errorf("request after Shutdown answered with %v", p.Opcode())
	}
	// The transfer in flight finishes.
	for blk := uint16(1); len(d.Data) == 512; blk++ {
		c.send(tid, AppendAck(nil, blk))
		d, _ = expectData(t, c, blk+1)
		got = append(got, d.Data...)
	}
	c.send(tid, AppendAck(nil, 4))
	if !bytes.Equal(got, data) {
		t.Error("data differs")
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if st := sink.next(t); st.Outcome != Completed {
		t.Errorf("stats %+v", st)
	}
	if err := srv.Serve(c2.conn); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

func TestShutdownForced(t *testing.T) {
	for _, single := range []bool{false, true} {
		sink := newStatsSink()
		srv := &Server{Handler: oneFile("f", pattern(5000)), OnTransfer: sink.on, Timeout: 5 * time.Second, SinglePort: single}
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(pc) }()
		c := newRawClient(t, "udp4", "127.0.0.1:0")
		c.send(pc.LocalAddr(), rrq("f", "octet"))
		expectData(t, c, 1) // and never ACK it
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err = srv.Shutdown(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("single=%v: Shutdown = %v, want deadline exceeded", single, err)
		}
		e, _ := c.expectError(5*time.Second, ErrUndefined)
		if e.Message != "server shutting down" {
			t.Errorf("single=%v: client told %q", single, e.Message)
		}
		if st := sink.next(t); st.Outcome != Failed {
			t.Errorf("single=%v: stats %+v", single, st)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("single=%v: Serve = %v", single, err)
		}
		if a := srv.Stats().Active; a != 0 {
			t.Errorf("single=%v: %d transfers still active", single, a)
		}
	}
}
