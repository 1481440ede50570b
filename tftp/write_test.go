package tftp

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestDirWriter(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "exists"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	sink := newStatsSink()
	dw := DirWriter(dir)
	dw.MaxSize = 100000
	srv := &Server{WriteHandler: dw, OnTransfer: sink.on}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	// A second server on the same directory gives up on silent clients fast.
	impatient := &Server{WriteHandler: dw, OnTransfer: sink.on, Timeout: 30 * time.Millisecond, MinTimeout: 5 * time.Millisecond, Retries: 2}
	impatientAddr := net.UDPAddrFromAddrPort(startServer(t, impatient, "udp4", "127.0.0.1:0"))

	t.Run("upload", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			size int
			opts Options
		}{
			{"sub/new.bin", 3000, nil},
			{"/exact", 1024, nil},
			{"big", 70000, Options{{"blksize", "1468"}, {"tsize", "70000"}}},
		} {
			c := newRawClient(t, "udp4", "127.0.0.1:0")
			data := pattern(tc.size)
			if err := clientPut(c.conn, addr, tc.name, data, getOpts{opts: tc.opts}); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			st := sink.next(t)
			if st.Outcome != Completed || st.Bytes != int64(tc.size) {
				t.Errorf("%s: stats %+v", tc.name, st)
			}
			got, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(tc.name, "/")))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s: stored file differs (%v)", tc.name, err)
			}
		}
		if got := dirNames(t, filepath.Join(dir, "sub")); len(got) != 1 || got[0] != "new.bin" {
			t.Errorf("sub holds %v", got)
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			pkt  []byte
			code ErrorCode
		}{
			{wrq("exists", "octet"), ErrFileExists},
			{wrq("../x", "octet"), ErrAccess},
			{wrq("//etc/x", "octet"), ErrAccess},
			{wrq("sub\\x", "octet"), ErrAccess},
			{wrq("nodir/x", "octet"), ErrNotFound},
			{wrq("huge", "octet", "tsize", "100001"), ErrDiskFull},
		} {
			c := newRawClient(t, "udp4", "127.0.0.1:0")
			c.send(addr, tc.pkt)
			c.expectError(5*time.Second, tc.code)
			if st := sink.next(t); st.Outcome != Failed {
				t.Errorf("%q: stats %+v", tc.pkt, st)
			}
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "exists")); string(got) != "old" {
			t.Errorf("existing file changed to %q", got)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x")); err == nil {
			t.Error("../x was created")
		}
	})
	t.Run("too-large-without-tsize", func(t *testing.T) {
		c := newRawClient(t, "udp4", "127.0.0.1:0")
		err := clientPut(c.conn, addr, "toolarge", pattern(100001), getOpts{})
		if e, ok := err.(*Error); !ok || e.Code != ErrDiskFull {
			t.Errorf("got %v, want ERROR 3", err)
		}
		sink.next(t)
	})
	t.Run("client-stops", func(t *testing.T) {
		c := newRawClient(t, "udp4", "127.0.0.1:0")
		c.send(impatientAddr, wrq("partial", "octet"))
		p, tid := c.recv(5 * time.Second)
		if a, ok := p.(*AckPacket); !ok || a.Block != 0 {
			t.Fatalf("got %+v", p)
		}
		c.send(tid, AppendData(nil, 1, pattern(512)))
		st := sink.next(t) // the client goes silent; the server gives up
		if st.Outcome != TimedOut {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("client-aborts", func(t *testing.T) {
		c := newRawClient(t, "udp4", "127.0.0.1:0")
		c.send(addr, wrq("sub/aborted", "octet"))
		_, tid := c.recv(5 * time.Second)
		c.send(tid, AppendData(nil, 1, pattern(512)))
		c.send(tid, AppendError(nil, ErrDiskFull, "client disk full"))
		if st := sink.next(t); st.Outcome != Aborted {
			t.Errorf("stats %+v", st)
		}
	})
	// No partial file, no temporary file anywhere.
	if got := strings.Join(dirNames(t, dir), ","); got != "big,exact,exists,sub" {
		t.Errorf("directory holds %s", got)
	}
	if got := strings.Join(dirNames(t, filepath.Join(dir, "sub")), ","); got != "new.bin" {
		t.Errorf("sub holds %s", got)
	}
}

func TestNetASCIIWrite(t *testing.T) {
	dir := t.TempDir()
	sink := newStatsSink()
	srv := &Server{WriteHandler: DirWriter(dir), OnTransfer: sink.on, Timeout: 200 * time.Millisecond}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	// A CR LF pair split across blocks (blksize 8) must still translate.
	wire := []byte("1234567\r\nab\r\x00cd\r\nend\r")
	if err := clientPut(c.conn, addr, "t.txt", wire, getOpts{mode: "netascii", opts: Options{{"blksize", "8"}}}); err != nil {
		t.Fatal(err)
	}
	sink.next(t)
	got, err := os.ReadFile(filepath.Join(dir, "t.txt"))
	if err != nil || string(got) != "1234567\nab\rcd\nend\r" {
		t.Errorf("stored %q, %v", got, err)
	}
}

// memUpload collects an upload in memory.
type memUpload struct {
	buf       bytes.Buffer
	committed chan []byte
}

func (m *memUpload) Write(p []byte) (int, error) { return m.buf.Write(p) }
func (m *memUpload) Commit() error               { m.committed <- m.buf.Bytes(); return nil }
func (m *memUpload) Abort() error                { close(m.committed); return nil }

func TestWriteWindow(t *testing.T) {
	up := &memUpload{committed: make(chan []byte, 1)}
	sink := newStatsSink()
	srv := &Server{
		WriteHandler: WriteHandlerFunc(func(*Request) (Upload, error) { return up, nil }),
		OnTransfer:   sink.on, Timeout: 5 * time.Second,
	}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	c.send(addr, wrq("w", "octet", "blksize", "8", "windowsize", "4", "tsize", "76"))
	p, tid := c.recv(5 * time.Second)
	if o, ok := p.(*OACKPacket); !ok || len(o.Options) != 3 || o.Options[2].Value != "76" {
		t.Fatalf("got %+v, want OACK echoing tsize 76", p)
	}
	data := pattern(76) // 9 full blocks of 8 + 4 bytes
	block := func(n uint16) []byte {
		off := int(n-1) * 8
		return AppendData(nil, n, data[off:min(off+8, len(data))])
	}
	expectAck := func(n uint16) {
		t.Helper()
		p, _ := c.recv(5 * time.Second)
		if a, ok := p.(*AckPacket); !ok || a.Block != n {
			t.Fatalf("got %+v, want ACK %d", p, n)
		}
	}
	for b := uint16(1); b <= 4; b++ {
		c.send(tid, block(b))
	}
	expectAck(4) // one ACK per window
	c.send(tid, block(5))
	c.send(tid, block(7)) // block 6 lost: ACK the last in-order block
	expectAck(5)
	c.send(tid, block(8)) // still missing 6: no second gap ACK
	for b := uint16(6); b <= 9; b++ {
		c.send(tid, block(b))
	}
	expectAck(9)
	c.send(tid, block(10))
	expectAck(10)
	select {
	case got := <-up.committed:
		if !bytes.Equal(got, data) {
			t.Errorf("stored %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not committed")
	}
	if st := sink.next(t); st.Outcome != Completed || st.Blocks != 10 || st.TransferSize != 76 {
		t.Errorf("stats %+v", st)
	}
}

// A client whose final ACK was lost resends its last block after its own
// timer (here 300 ms: longer than the adaptive timer's 100 ms floor, shorter
// than Server.Timeout); the server is still there to ACK it again, so the
// client does not report a failure for an upload the server stored.
func TestWriteDallyOutlastsClientTimer(t *testing.T) {
	up := &memUpload{committed: make(chan []byte, 1)}
	sink := newStatsSink()
	srv := &Server{
		WriteHandler: WriteHandlerFunc(func(*Request) (Upload, error) { return up, nil }),
		OnTransfer:   sink.on,
	}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	c.send(addr, wrq("d", "octet"))
	p, tid := c.recv(5 * time.Second)
	if !isAck(p, 0) {
		t.Fatalf("got %+v, want ACK 0", p)
	}
	last := AppendData(nil, 1, []byte("short and final"))
	c.send(tid, last)
	if p, _ := c.recv(5 * time.Second); !isAck(p, 1) {
		t.Fatalf("got %+v, want ACK 1", p)
	}
	// The ACK "was lost": the client hears nothing for 300 ms, then resends.
	if p, _, err := c.tryRecv(300 * time.Millisecond); err == nil {
		t.Fatalf("unexpected %+v while the client waits", p)
	}
	c.send(tid, last)
	p, from := c.recv(5 * time.Second)
	if !isAck(p, 1) || from.String() != tid.String() {
		t.Fatalf("got %+v from %v, want ACK 1 again from %v", p, from, tid)
	}
	if got := <-up.committed; string(got) != "short and final" {
		t.Errorf("committed %q", got)
	}
	if st := sink.next(t); st.Outcome != Completed {
		t.Errorf("stats %+v", st)
	}
}

func isAck(p Packet, block uint16) bool {
	a, ok := p.(*AckPacket)
	return ok && a.Block == block
}
