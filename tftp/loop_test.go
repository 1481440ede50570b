package tftp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The read-side tests, re-run by TestGoroutineEngine with every read
// transfer in its own goroutine: both engines drive the same state machine
// and must behave identically on the wire.
var readTests = []string{
	"TestUnknownTID", "TestDuplicateAckNoResend", "TestWindowRewind",
	"TestAbortAfterOACKIsQuiet", "TestNetASCIIRead", "TestOACKContents",
	"TestLossyTransfers", "TestStuckClientReleased", "TestShutdownGraceful",
	"TestRollover", "TestRolloverOff", "TestRolloverOffUnknownSize",
	"TestReadOctet", "TestRequestErrors", "TestContentLongerThanSize",
	"TestRepliesFromRequestAddress", "TestPortRange", "TestPi4BootSequence",
	"TestLoopHandlerPanic", "TestClientGoneTimesOut", "TestServerAllocsPerBlock",
	"TestLenderRead", "TestLenderRollover", "TestLossyLentTransfers",
	"TestRequestAfterEndFromSamePort", "TestRequestBeforeFinalAckFromSamePort",
}

func TestGoroutineEngine(t *testing.T) {
	if goroutineEngine() {
		t.Skip("already running with the goroutine engine")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^("+strings.Join(readTests, "|")+")$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), engineEnv+"=goroutine")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("read tests with the goroutine engine: %v\n%s", err, out)
	}
	passed := regexp.MustCompile(`(?m)^--- PASS: (\w+)`).FindAllSubmatch(out, -1)
	seen := map[string]bool{}
	for _, m := range passed {
		seen[string(m[1])] = true
	}
	for _, name := range readTests {
		if !seen[name] {
			t.Errorf("%s did not pass with the goroutine engine:\n%s", name, out)
		}
	}
}

// panicky panics when read past half of its content.
type panicky struct{ data []byte }

func (p panicky) ReadAt(b []byte, off int64) (int, error) {
	if off > int64(len(p.data)/2) {
		panic("simulated content failure")
	}
	if off >= int64(len(p.data)) {
		return 0, io.EOF
	}
	n := copy(b, p.data[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// A handler whose content panics ends its own transfer with an ERROR, and
// the server (and the loop) go on serving others.
func TestLoopHandlerPanic(t *testing.T) {
	big := pattern(200_000)
	good := pattern(70_000)
	sink := newStatsSink()
	srv := &Server{OnTransfer: sink.on, Handler: HandlerFunc(func(r *Request) (io.ReaderAt, int64, error) {
		if r.Filename == "bad" {
			return panicky{big}, int64(len(big)), nil
		}
		return bytes.NewReader(good), int64(len(good)), nil
	})}
	addr := startServer(t, srv, "udp4", "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var c Client
	_, err := c.Get(ctx, addr.String(), "bad", io.Discard)
	var te *Error
	if !errors.As(err, &te) || te.Code != ErrUndefined {
		t.Fatalf("Get bad = %v, want ERROR 0", err)
	}
	st := sink.next(t)
	if st.Outcome != Failed || st.Err == nil || !strings.Contains(st.Err.Error(), "panic") {
		t.Errorf("stats of the failed transfer: %+v", st)
	}
	var buf bytes.Buffer
	if _, err := c.Get(ctx, addr.String(), "good", &buf); err != nil || !bytes.Equal(buf.Bytes(), good) {
		t.Fatalf("Get good after the panic: %v, %d bytes", err, buf.Len())
	}
}

// Transfers spread over the loops, every byte arrives, and the loops end
// once idle.
func TestLoopsSpreadAndStop(t *testing.T) {
	if goroutineEngine() || !loopsSupported() {
		t.Skip("event loops not in use")
	}
	data := pattern(300_000)
	srv := &Server{EventLoops: 3, Handler: oneFile("f", data)}
	addr := startServer(t, srv, "udp4", "127.0.0.1:0")
	baseG := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 12
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			c := Client{BlockSize: 512 + 100*i, WindowSize: 1 + i%4}
			var buf bytes.Buffer
			_, err := c.Get(ctx, addr.String(), "f", &buf)
			if err == nil && !bytes.Equal(buf.Bytes(), data) {
				err = fmt.Errorf("client %d: %d bytes differ from the file", i, buf.Len())
			}
			errs <- err
		}()
	}
	maxRunning := 0
	for i := 0; i < n; i++ {
		if r := srv.loops.running(); r > maxRunning {
			maxRunning = r
		}
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if maxRunning > 3 {
		t.Errorf("%d loops ran, EventLoops is 3", maxRunning)
	}
	waitFor(t, "the loops to stop", func() bool {
		return srv.loops.running() == 0 && runtime.NumGoroutine() <= baseG
	})
	if c := srv.Stats(); c.Completed != n {
		t.Errorf("counters %+v", c)
	}
}

// A client that goes away (its port closed: the kernel answers with ICMP
// port unreachable) is timed out like a silent one, after every retry: an
// ICMP error is a lost packet, never the end of a transfer by itself.
func TestClientGoneTimesOut(t *testing.T) {
	_, sink, addr := impatientServer(t)
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	c.send(addr, rrq("f", "octet"))
	expectData(t, c, 1)
	if err := c.conn.Close(); err != nil {
		t.Fatal(err)
	}
	st := sink.next(t)
	if st.Outcome != TimedOut || st.Retransmits != 3 || st.Timeouts != 4 {
		t.Errorf("stats %+v, want timed out after 3 retransmissions", st)
	}
}

// pickLoop fills one loop up to the share before it starts another, then
// gives each transfer to the running loop with the fewest.
func TestPickLoop(t *testing.T) {
	for _, c := range []struct {
		counts []int
		want   int
	}{
		{[]int{-1, -1}, 0},
		{[]int{0, -1}, 0},
		{[]int{31, -1}, 0},
		{[]int{32, -1}, 1},
		{[]int{-1, 40}, 0},
		{[]int{32, 5}, 1},
		{[]int{33, 32}, 1},
		{[]int{40, 40}, 0},
		{[]int{40, 32, -1}, 2},
		{[]int{40, 31, -1}, 1},
		{[]int{-1, 3, -1}, 1},
		{[]int{7}, 0},
	} {
		if got := pickLoop(c.counts, 32); got != c.want {
			t.Errorf("pickLoop(%v, 32) = %d, want %d", c.counts, got, c.want)
		}
	}
}

// A few transfers share one loop; past loopShare live transfers a second
// loop starts, and no more than EventLoops ever run.
func TestLoopsStartPastShare(t *testing.T) {
	if goroutineEngine() || !loopsSupported() {
		t.Skip("event loops not in use")
	}
	sink := newStatsSink()
	srv := &Server{EventLoops: 3, Handler: oneFile("f", pattern(10_000)), OnTransfer: sink.on,
		Timeout: time.Second, MinTimeout: time.Second, Retries: 1}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	// Clients that ask and never ACK keep their transfers alive until
	// the server gives up on them.
	ask := func(n int) {
		for range n {
			c := newRawClient(t, "udp4", "127.0.0.1:0")
			c.send(addr, rrq("f", "octet"))
			expectData(t, c, 1)
		}
	}
	ask(loopShare)
	if r := srv.loops.running(); r != 1 {
		t.Errorf("%d loops run %d transfers, want 1", r, loopShare)
	}
	ask(loopShare + 1)
	if r := srv.loops.running(); r != 3 {
		t.Errorf("%d loops run %d transfers, want 3", r, 2*loopShare+1)
	}
	for range 2*loopShare + 1 {
		if st := sink.next(t); st.Outcome != TimedOut {
			t.Errorf("stats %+v, want timed out", st)
		}
	}
	waitFor(t, "the loops to stop", func() bool { return srv.loops.running() == 0 })
}
