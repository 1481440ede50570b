package tftp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestRollover(t *testing.T) {
	data := pattern(65536*8 + 8*3 + 5) // 65540 blocks of 8 bytes
	for _, ro := range []Rollover{RolloverZero, RolloverOne} {
		t.Run(ro.String(), func(t *testing.T) {
			sink := newStatsSink()
			srv := &Server{Handler: oneFile("big", data), Rollover: ro, OnTransfer: sink.on}
			addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
			c := newRawClient(t, "udp4", "127.0.0.1:0")
			res, err := clientGet(c.conn, addr, "big", getOpts{rollover: ro, opts: Options{{"blksize", "8"}, {"windowsize", "32"}}})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.data, data) {
				t.Fatalf("got %d bytes, want %d (byte-exact)", len(res.data), len(data))
			}
			if st := sink.next(t); st.Outcome != Completed || st.Blocks != 65540 {
				t.Errorf("stats %+v", st)
			}
		})
	}
	t.Run("exact-window-1", func(t *testing.T) {
		// Lock-step across the wrap with the strict raw driver: block
		// numbers 65535, 0, 1.
		d := pattern(8*65537 + 2)
		srv := &Server{Handler: oneFile("big", d)}
		addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
		c := newRawClient(t, "udp4", "127.0.0.1:0")
		res, err := clientGet(c.conn, addr, "big", getOpts{opts: Options{{"blksize", "8"}, {"windowsize", "1"}}})
		if err != nil || !bytes.Equal(res.data, d) {
			t.Fatalf("window 1 across the wrap: %v", err)
		}
	})
}

func TestRolloverOff(t *testing.T) {
	sink := newStatsSink()
	srv := &Server{Handler: oneFile("big", pattern(65535*8)), Rollover: RolloverOff, OnTransfer: sink.on}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	// 65535*8 bytes need a 65536th (empty) block: refused before any data.
	c.send(addr, rrq("big", "octet", "blksize", "8", "tsize", "0"))
	e, _ := c.expectError(5*time.Second, ErrUndefined)
	if !strings.Contains(e.Message, "rollover is off") || !strings.Contains(e.Message, "65535 blocks") {
		t.Errorf("message %q", e.Message)
	}
	if st := sink.next(t); st.Outcome != Failed || st.Blocks != 0 {
		t.Errorf("stats %+v", st)
	}
	// With a larger block size the same file fits.
	res, err := clientGet(c.conn, addr, "big", getOpts{opts: Options{{"blksize", "1024"}}})
	if err != nil || len(res.data) != 65535*8 {
		t.Fatalf("blksize 1024: %v", err)
	}
}

// TestRolloverOffUnknownSize: without a known size the transfer fails when
// block 65535 would be exceeded.
func TestRolloverOffUnknownSize(t *testing.T) {
	data := pattern(65535*8 + 20)
	sink := newStatsSink()
	srv := &Server{
		Handler: HandlerFunc(func(*Request) (io.ReaderAt, int64, error) {
			return bytes.NewReader(data), -1, nil
		}),
		Rollover: RolloverOff, OnTransfer: sink.on,
	}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	res, err := clientGet(c.conn, addr, "x", getOpts{rollover: RolloverOff, opts: Options{{"blksize", "8"}, {"windowsize", "32"}, {"tsize", "0"}}})
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "rollover is off") {
		t.Fatalf("got %v, want ERROR about rollover", err)
	}
	if _, ok := res.oack.Get("tsize"); len(res.data) != 65535*8 || ok {
		t.Errorf("received %d bytes, OACK %v (tsize must be absent)", len(res.data), res.oack)
	}
	if st := sink.next(t); st.Outcome != Failed || st.Blocks != 65535 {
		t.Errorf("stats %+v", st)
	}
}
