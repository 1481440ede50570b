package tftp

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net"
	"reflect"
	"testing"
	"testing/fstest"
	"time"
)

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestReadOctet(t *testing.T) {
	files := fstest.MapFS{}
	sizes := []int{0, 1, 511, 512, 513, 1024, 5000}
	for _, n := range sizes {
		files[fmt.Sprintf("f%d", n)] = &fstest.MapFile{Data: pattern(n)}
	}
	sink := newStatsSink()
	// A patient timer: a retransmit here would only mean a stalled machine.
	srv := &Server{Handler: FileServer(files), OnTransfer: sink.on, MinTimeout: 10 * time.Second, Timeout: 10 * time.Second}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	for _, n := range sizes {
		for _, opts := range []Options{nil, {{"tsize", "0"}, {"blksize", "1024"}}, {{"blksize", "8"}, {"windowsize", "4"}}} {
			c := newRawClient(t, "udp4", "127.0.0.1:0")
			res, err := clientGet(c.conn, addr, fmt.Sprintf("/f%d", n), getOpts{opts: opts})
			if err != nil {
				t.Fatalf("size %d opts %v: %v", n, opts, err)
			}
			if !bytes.Equal(res.data, pattern(n)) {
				t.Fatalf("size %d opts %v: got %d bytes, not the file", n, opts, len(res.data))
			}
			var want Options
			for _, o := range opts {
				if o.Name == "tsize" {
					o.Value = fmt.Sprint(n)
				}
				want = append(want, o)
			}
			if !reflect.DeepEqual(res.oack, want) {
				t.Errorf("size %d: OACK %v, want %v", n, res.oack, want)
			}
			st := sink.next(t)
			if st.Outcome != Completed || st.Bytes != int64(n) || st.Retransmits != 0 {
				t.Errorf("size %d: stats %+v", n, st)
			}
		}
	}
	if got := srv.Stats(); got.Completed != int64(3*len(sizes)) || got.Active != 0 {
		t.Errorf("counters %+v", got)
	}
}

// errHandler answers every read with err.
func errHandler(err error) Handler {
	return HandlerFunc(func(*Request) (io.ReaderAt, int64, error) { return nil, 0, err })
}

func TestRequestErrors(t *testing.T) {
	files := fstest.MapFS{"a/b": &fstest.MapFile{Data: []byte("x")}}
	mux := NewServeMux()
	mux.Handle("", FileServer(files))
	mux.Handle("perm/", errHandler(fs.ErrPermission))
	mux.Handle("custom/", errHandler(&Error{Code: ErrDiskFull, Message: "custom message"}))
	mux.Handle("other/", errHandler(fmt.Errorf("secret detail")))
	srv := &Server{Handler: mux}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	cases := []struct {
		pkt  []byte
		code ErrorCode
		msg  string
	}{
		{rrq("missing", "octet"), ErrNotFound, "file not found"},
		{rrq("a", "octet"), ErrNotFound, `"a" is a directory`},
		{rrq("perm/x", "octet"), ErrAccess, "access violation"},
		{rrq("custom/x", "octet"), ErrDiskFull, "custom message"},
		{rrq("other/x", "octet"), ErrUndefined, "internal server error"},
		{rrq("../etc/passwd", "octet"), ErrAccess, `filename has an empty, '.' or '..' element: "../etc/passwd"`},
		{rrq(`a\b`, "octet"), ErrAccess, `filename contains a backslash: "a\\b"`},
		{rrq("", "octet"), ErrAccess, `empty filename: ""`},
		{rrq("a/b", "mail"), ErrIllegalOp, `transfer mode "mail" not supported`},
		{rrq("a/b", "binary"), ErrIllegalOp, `transfer mode "binary" not supported`},
		{rrq("a/b", "octet", "blksize", "0"), ErrOption, ""},
		{rrq("a/b", "octet", "blksize", "7"), ErrOption, ""},
		{rrq("a/b", "octet", "timeout", "0"), ErrOption, ""},
		{rrq("a/b", "octet", "windowsize", "0"), ErrOption, ""},
		{wrq("a/b", "octet", "tsize", "-1"), ErrOption, ""},
		{wrq("a/b", "octet", "tsize", "enable"), ErrOption, ""},
		{rrq("a/b", "octet", "blksize", "big"), ErrOption, ""},
		{wrq("a/c", "octet"), ErrAccess, "writes are not allowed"},
		{[]byte("\x00\x01name-without-nul"), ErrIllegalOp, ""},
	}
	for _, tc := range cases {
		c := newRawClient(t, "udp4", "127.0.0.1:0")
		c.send(addr, tc.pkt)
		e, _ := c.expectError(5*time.Second, tc.code)
		if tc.msg != "" && e.Message != tc.msg {
			t.Errorf("%q: message %q, want %q", tc.pkt, e.Message, tc.msg)
		}
	}
	// The malformed request is not a transfer; the others each fail once.
	waitFor(t, "every refused transfer to be counted", func() bool { return srv.Stats().Failed >= int64(len(cases)-1) })
	if got := srv.Stats(); got.Failed != int64(len(cases)-1) || got.BadPackets != 1 {
		t.Errorf("Failed = %d, want %d; BadPackets = %d, want 1", got.Failed, len(cases)-1, got.BadPackets)
	}
}

// TestContentLongerThanSize: a handler whose content holds more than the size
// it announced sends exactly size bytes (and so ends the transfer properly).
func TestContentLongerThanSize(t *testing.T) {
	data := pattern(2048)
	srv := &Server{Handler: HandlerFunc(func(*Request) (io.ReaderAt, int64, error) {
		return bytes.NewReader(data), 1024, nil
	})}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	res, err := clientGet(c.conn, addr, "x", getOpts{timeout: 5 * time.Second, retries: 1})
	if err != nil || !bytes.Equal(res.data, data[:1024]) {
		t.Fatalf("got %d bytes, %v; want the first 1024", len(res.data), err)
	}
}
