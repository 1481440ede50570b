package tftp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// This file holds a minimal raw-UDP TFTP client used to drive the server in
// tests and benchmarks.

// rawClient sends and receives single packets.
type rawClient struct {
	tb   testing.TB
	conn net.PacketConn
	buf  []byte
}

func newRawClient(tb testing.TB, network, laddr string) *rawClient {
	tb.Helper()
	pc, err := net.ListenPacket(network, laddr)
	if err != nil {
		tb.Fatalf("client socket: %v", err)
	}
	tb.Cleanup(func() { pc.Close() })
	return &rawClient{tb: tb, conn: pc, buf: make([]byte, 70000)}
}

func (c *rawClient) send(to net.Addr, pkt []byte) {
	c.tb.Helper()
	if _, err := c.conn.WriteTo(pkt, to); err != nil {
		c.tb.Fatalf("send to %v: %v", to, err)
	}
}

// recv returns the next packet, failing the test after wait.
func (c *rawClient) recv(wait time.Duration) (Packet, *net.UDPAddr) {
	c.tb.Helper()
	p, from, err := c.tryRecv(wait)
	if err != nil {
		c.tb.Fatalf("waiting for a packet: %v", err)
	}
	return p, from
}

func (c *rawClient) tryRecv(wait time.Duration) (Packet, *net.UDPAddr, error) {
	if err := c.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return nil, nil, err
	}
	n, from, err := c.conn.ReadFrom(c.buf)
	if err != nil {
		return nil, nil, err
	}
	p, err := ParsePacket(append([]byte(nil), c.buf[:n]...))
	if err != nil {
		return nil, nil, err
	}
	return p, from.(*net.UDPAddr), nil
}

func (c *rawClient) expectError(wait time.Duration, code ErrorCode) (*Error, *net.UDPAddr) {
	c.tb.Helper()
	p, from := c.recv(wait)
	e, ok := p.(*Error)
	if !ok {
		c.tb.Fatalf("got %v packet %+v, want ERROR %d", p.Opcode(), p, code)
	}
	if e.Code != code {
		c.tb.Fatalf("got ERROR %d %q, want code %d", e.Code, e.Message, code)
	}
	return e, from
}

func rrq(file, mode string, opts ...string) []byte {
	var o Options
	for i := 0; i+1 < len(opts); i += 2 {
		o = append(o, Option{opts[i], opts[i+1]})
	}
	return AppendRequest(nil, OpRRQ, file, mode, o)
}

func wrq(file, mode string, opts ...string) []byte {
	b := rrq(file, mode, opts...)
	b[1] = byte(OpWRQ)
	return b
}

// getOpts configures clientGet.
type getOpts struct {
	mode     string
	opts     Options
	rollover Rollover
	timeout  time.Duration // per packet; 0 → 1s
	retries  int           // 0 → 10
	dally    bool          // after the final ACK, re-ACK a resent last block
}

// getResult is what clientGet learned.
type getResult struct {
	data   []byte
	oack   Options
	server net.Addr // the transfer's TID
}

// clientGet reads file from srv with windowsize support (RFC 7440 receiver
// rules: ACK at the end of each window, ACK the last in-order block on a
// gap, resend the last ACK on timeout).
func clientGet(conn net.PacketConn, srv net.Addr, file string, o getOpts) (*getResult, error) {
	if o.mode == "" {
		o.mode = ModeOctet
	}
	if o.timeout == 0 {
		o.timeout = time.Second
	}
	if o.retries == 0 {
		o.retries = 10
	}
	t := &transfer{rolled: o.rollover}
	blk, win := DefaultBlockSize, 1
	req := AppendRequest(nil, OpRRQ, file, o.mode, o.opts)
	last := req // what to resend on timeout
	lastTo := srv
	if _, err := conn.WriteTo(req, srv); err != nil {
		return nil, err
	}
	res := &getResult{}
	buf := make([]byte, 65536+8)
	expected := int64(1)
	inWin := 0
	gapAcked := false
	timeouts := 0
	var tid net.Addr
	ack := func(seq int64) error {
		last = AppendAck(nil, t.wire(seq))
		_, err := conn.WriteTo(last, tid)
		return err
	}
	for {
		if err := conn.SetReadDeadline(time.Now().Add(o.timeout)); err != nil {
			return nil, err
		}
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				timeouts++
				if timeouts > o.retries {
					return res, fmt.Errorf("timeout waiting for block %d", expected)
				}
				if tid != nil && (expected > 1 || res.oack != nil) {
					// RFC 7440: acknowledge the last block received in order.
					inWin = 0
					if err := ack(expected - 1); err != nil {
						return nil, err
					}
					continue
				}
				if _, err := conn.WriteTo(last, lastTo); err != nil {
					return nil, err
				}
				continue
			}
			return nil, err
		}
		if tid == nil {
			tid = from
			lastTo = from
			res.server = from
		} else if from.String() != tid.String() {
			continue
		}
		p, err := ParsePacket(buf[:n])
		if err != nil {
			return nil, err
		}
		switch p := p.(type) {
		case *Error:
			return res, p
		case *OACKPacket:
			if expected != 1 || res.oack != nil {
				if res.oack != nil && expected == 1 {
					if err := ack(0); err != nil {
						return nil, err
					}
				}
				continue
			}
			res.oack = p.Options
			if v, ok := p.Options.Get(OptBlockSize); ok {
				blk, _ = strconv.Atoi(v)
			}
			if v, ok := p.Options.Get(OptWindowSize); ok {
				win, _ = strconv.Atoi(v)
			}
			timeouts = 0
			if err := ack(0); err != nil {
				return nil, err
			}
		case *DataPacket:
			seq := t.seqNear(p.Block, expected)
			switch {
			case seq == expected:
				timeouts = 0
				gapAcked = false
				res.data = append(res.data, p.Data...)
				expected++
				inWin++
				if len(p.Data) < blk {
					if err := ack(seq); err != nil {
						return nil, err
					}
					if o.dally {
						dallyGet(conn, tid, buf, p.Block, last, 2*o.timeout)
					}
					return res, nil
				}
				if inWin >= win {
					inWin = 0
					if err := ack(seq); err != nil {
						return nil, err
					}
				}
			case seq == expected-1 && seq > 0:
				// Our ACK for this block may have been lost.
				inWin = 0
				if err := ack(seq); err != nil {
					return nil, err
				}
			case seq > expected:
				if !gapAcked {
					gapAcked = true
					inWin = 0
					if err := ack(expected - 1); err != nil {
						return nil, err
					}
				}
			}
		}
	}
}

// dallyGet re-sends the final ACK while the server re-sends the final block
// (because that ACK was lost), until the line stays quiet for quiet.
func dallyGet(conn net.PacketConn, tid net.Addr, buf []byte, block uint16, ack []byte, quiet time.Duration) {
	for i := 0; i < 50; i++ {
		if conn.SetReadDeadline(time.Now().Add(quiet)) != nil {
			return
		}
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if from.String() != tid.String() {
			continue
		}
		if b, _, err := ParseData(buf[:n]); err == nil && b == block {
			if _, err := conn.WriteTo(ack, tid); err != nil {
				return
			}
		}
	}
}

// clientPut writes data to srv as file, lock-step (window 1).
func clientPut(conn net.PacketConn, srv net.Addr, file string, data []byte, o getOpts) error {
	if o.mode == "" {
		o.mode = ModeOctet
	}
	if o.timeout == 0 {
		o.timeout = time.Second
	}
	if o.retries == 0 {
		o.retries = 10
	}
	blk := DefaultBlockSize
	last := AppendRequest(nil, OpWRQ, file, o.mode, o.opts)
	lastTo := srv
	if _, err := conn.WriteTo(last, srv); err != nil {
		return err
	}
	buf := make([]byte, 2048)
	var tid net.Addr
	next := int64(0) // last block sent; waiting for its ACK
	timeouts := 0
	t := &transfer{rolled: o.rollover}
	for {
		if err := conn.SetReadDeadline(time.Now().Add(o.timeout)); err != nil {
			return err
		}
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				timeouts++
				if timeouts > o.retries {
					return fmt.Errorf("timeout waiting for ACK %d", next)
				}
				if _, err := conn.WriteTo(last, lastTo); err != nil {
					return err
				}
				continue
			}
			return err
		}
		if tid == nil {
			tid, lastTo = from, from
		} else if from.String() != tid.String() {
			continue
		}
		p, err := ParsePacket(buf[:n])
		if err != nil {
			return err
		}
		switch p := p.(type) {
		case *Error:
			return p
		case *OACKPacket:
			if next != 0 {
				continue
			}
			if v, ok := p.Options.Get(OptBlockSize); ok {
				blk, _ = strconv.Atoi(v)
			}
		case *AckPacket:
			if t.seqNear(p.Block, next) != next {
				continue
			}
		default:
			continue
		}
		timeouts = 0
		off := next * int64(blk)
		if off > int64(len(data)) {
			return nil // the final block was acknowledged
		}
		next++
		end := min(off+int64(blk), int64(len(data)))
		last = AppendData(nil, t.wire(next), data[off:end])
		if _, err := conn.WriteTo(last, tid); err != nil {
			return err
		}
	}
}

// statsSink collects TransferStats.
type statsSink struct {
	mu sync.Mutex
	ch chan *TransferStats
}

func newStatsSink() *statsSink { return &statsSink{ch: make(chan *TransferStats, 100)} }

func (s *statsSink) on(st *TransferStats) { s.ch <- st }

func (s *statsSink) next(tb testing.TB) *TransferStats {
	tb.Helper()
	select {
	case st := <-s.ch:
		return st
	case <-time.After(20 * time.Second):
		tb.Fatal("no TransferStats within 20s")
	}
	return nil
}

// startServer serves s on a fresh loopback socket and returns its address.
// engineEnv, set to "goroutine", makes startServer run read transfers in
// goroutines instead of event loops (TestGoroutineEngine re-runs the read
// tests so).
const engineEnv = "NOBODD_TFTP_ENGINE"

func goroutineEngine() bool { return os.Getenv(engineEnv) == "goroutine" }

func startServer(tb testing.TB, s *Server, network, addr string) netip.AddrPort {
	tb.Helper()
	if goroutineEngine() {
		s.EventLoops = -1
	}
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(pc) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			tb.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			tb.Errorf("Serve returned %v", err)
		}
	})
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}
