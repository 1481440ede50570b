package tftp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

// lendingReaderAt is content over data that lends its bytes: at most max of
// them per call (0: up to n) and never past the next multiple of grid (0:
// no grid), declining every decline-th call (0: never). With excess it lends
// everything from off on, past n (which the engine must not use); with
// empty it answers ok with no bytes where it would decline.
type lendingReaderAt struct {
	data               []byte
	max, grid, decline int
	excess, empty      bool

	calls, declined, reads atomic.Int64
}

func (l *lendingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	l.reads.Add(1)
	if off >= int64(len(l.data)) {
		return 0, io.EOF
	}
	n := copy(p, l.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (l *lendingReaderAt) LendAt(off int64, n int) ([]byte, bool) {
	c := l.calls.Add(1)
	if off < 0 || off >= int64(len(l.data)) || (l.decline > 0 && c%int64(l.decline) == 0) {
		l.declined.Add(1)
		if l.empty {
			return l.data[:0], true
		}
		return nil, false
	}
	b := l.data[off:]
	if l.excess {
		return b, true
	}
	b = b[:min(len(b), n)]
	if l.max > 0 {
		b = b[:min(len(b), l.max)]
	}
	if l.grid > 0 {
		b = b[:min(len(b), l.grid-int(off%int64(l.grid)))]
	}
	return b, true
}

// lenders are the kinds of lending content the tests run: always
// reports whether every LendAt before the end of the data lends.
var lenders = []struct {
	name   string
	always bool
	make   func(data []byte) *lendingReaderAt
}{
	{"whole", true, func(d []byte) *lendingReaderAt { return &lendingReaderAt{data: d} }},
	// Short lends cross block boundaries for every block size used.
	{"short", true, func(d []byte) *lendingReaderAt { return &lendingReaderAt{data: d, max: 700} }},
	// Like the netboot cache: lends stop at a chunk boundary.
	{"grid", true, func(d []byte) *lendingReaderAt { return &lendingReaderAt{data: d, grid: 4096} }},
	{"excess", true, func(d []byte) *lendingReaderAt { return &lendingReaderAt{data: d, excess: true} }},
	{"sometimes", false, func(d []byte) *lendingReaderAt { return &lendingReaderAt{data: d, max: 1000, decline: 3} }},
	{"empty", false, func(d []byte) *lendingReaderAt { return &lendingReaderAt{data: d, decline: 2, empty: true} }},
	{"never", false, func(d []byte) *lendingReaderAt { return &lendingReaderAt{data: d, decline: 1} }},
}

// TestBlockSourceLend: with content that lends, the blocks are exactly the
// content (or its first size bytes) for known and unknown sizes, content
// longer or shorter than announced, lends short of n, past n, declined or
// empty; the lent bytes are never written; and content that always lends
// is never read with ReadAt (so no read-ahead buffer is made) while the
// size is known, and once, to find the end, when it is not.
func TestBlockSourceLend(t *testing.T) {
	for _, blksize := range []int{8, 512, 1468, 16384, 16385} {
		for _, n := range []int{0, 1, blksize - 1, blksize, blksize + 1, 3 * blksize, readAheadSize + 1, 100000} {
			for _, tc := range []struct {
				name  string
				size  int64
				extra int // content beyond n
			}{
				{"known", int64(n), 0},
				{"unknown", -1, 0},
				{"longer", int64(n), 3000},
				{"shorter", int64(n) + 5000, 0},
			} {
				for _, kind := range lenders {
					t.Run(fmt.Sprintf("blksize=%d/n=%d/%s/%s", blksize, n, tc.name, kind.name), func(t *testing.T) {
						want := pattern(n + tc.extra)
						l := kind.make(pattern(n + tc.extra))
						src := newBlockSource(l, int64(blksize), tc.size)
						got := readAll(t, src, blksize)
						if !bytes.Equal(got, want[:n]) {
							t.Fatalf("got %d bytes, want the %d first of %d", len(got), n, len(want))
						}
						if !bytes.Equal(l.data, want) {
							t.Fatal("the lent bytes were written")
						}
						reads, calls := l.reads.Load(), l.calls.Load()
						switch {
						case src.aheadMax == 0:
							if calls != 0 {
								t.Errorf("%d LendAt calls without a read-ahead", calls)
							}
						case kind.always && tc.size == int64(n):
							if reads != 0 || src.buf != nil {
								t.Errorf("%d ReadAt calls, read-ahead buffer %d bytes: want none", reads, len(src.buf))
							}
						case kind.always:
							if reads > 1 {
								t.Errorf("%d ReadAt calls, want one at most (the end)", reads)
							}
						}
						if src.aheadMax > 0 && n > 0 && calls == 0 {
							t.Error("LendAt never called")
						}
					})
				}
			}
		}
	}
}

// TestBlockSourceLendReadError: when the lender declines, ReadAt's error is
// reported for the block that needs the bytes; the blocks lent before it
// are intact.
func TestBlockSourceLendReadError(t *testing.T) {
	data := pattern(100000)
	ra := &failingLender{countingReaderAt: countingReaderAt{data: data, fail: 50000}, lendBelow: 40000}
	src := newBlockSource(ra, 1024, int64(len(data)))
	p := make([]byte, 1024)
	for seq := int64(1); seq <= 200; seq++ {
		n, err := src.read(p, seq)
		if err != nil {
			if !errors.Is(err, errInjected) {
				t.Fatalf("block %d: %v", seq, err)
			}
			if seq*1024 <= 40000 {
				t.Fatalf("block %d failed, but it lies in the lent bytes", seq)
			}
			return
		}
		if !bytes.Equal(p[:n], data[(seq-1)*1024:(seq-1)*1024+int64(n)]) {
			t.Fatalf("block %d differs", seq)
		}
	}
	t.Fatal("no error")
}

// failingLender lends the bytes below lendBelow and declines the rest.
type failingLender struct {
	countingReaderAt
	lendBelow int64
}

func (f *failingLender) LendAt(off int64, n int) ([]byte, bool) {
	if off >= f.lendBelow {
		return nil, false
	}
	return f.data[off:min(f.lendBelow, off+int64(n))], true
}

// lendFS is an fstest.MapFS whose files lend their bytes through the
// lender of their name.
type lendFS struct {
	fstest.MapFS
	lenders map[string]*lendingReaderAt
}

type lendFile struct {
	fs.File
	*lendingReaderAt
}

func (l lendFS) Open(name string) (fs.File, error) {
	f, err := l.MapFS.Open(name)
	if err != nil {
		return nil, err
	}
	return lendFile{f, l.lenders[name]}, nil
}

// TestLenderRead: content that lends, in every way lendingReaderAt can, is
// served byte-exact to the package's Client at several block sizes (one
// without a read-ahead), for empty files, files of one short block, exact
// multiples of the block size and files longer than the read-ahead; the
// lent bytes are never written, and LendAt is used. FileServer passes a
// lending file's LendAt on.
func TestLenderRead(t *testing.T) {
	sink := newStatsSink()
	made := make(chan *lendingReaderAt, 1)
	srv := &Server{OnTransfer: sink.on, Handler: HandlerFunc(func(r *Request) (io.ReaderAt, int64, error) {
		var kind string
		var n int
		if _, err := fmt.Sscanf(r.Filename, "%s %d", &kind, &n); err != nil {
			return nil, 0, err
		}
		for _, k := range lenders {
			if k.name == kind {
				l := k.make(pattern(n))
				made <- l
				return l, int64(n), nil
			}
		}
		return nil, 0, fs.ErrNotExist
	})}
	addr := startServer(t, srv, "udp4", "127.0.0.1:0").String()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, bs := range []int{8, 512, 1468, 16384, 16385} {
		for _, n := range []int{0, 1, bs - 1, bs, bs + 1, 3 * bs, 40 * bs, 100000} {
			if bs == 8 && n > 3*bs {
				continue // 12500 round trips would add little
			}
			for _, kind := range lenders {
				name := fmt.Sprintf("%s %d", kind.name, n)
				var buf bytes.Buffer
				c := Client{BlockSize: bs, WindowSize: 4, TransferSize: true}
				got, err := c.Get(ctx, addr, name, &buf)
				if err != nil || got != int64(n) || !bytes.Equal(buf.Bytes(), pattern(n)) {
					t.Fatalf("blksize %d, %q: %d bytes, %v; want the %d bytes of the file", bs, name, got, err, n)
				}
				l := <-made
				st := sink.next(t)
				if st.Outcome != Completed || st.Bytes != int64(n) || st.BlockSize != bs {
					t.Errorf("blksize %d, %q: stats %+v", bs, name, st)
				}
				if !bytes.Equal(l.data, pattern(n)) {
					t.Errorf("blksize %d, %q: the lent bytes were written", bs, name)
				}
				if lent := l.calls.Load() - l.declined.Load(); bs <= readAheadSize/2 && n > 0 && kind.name != "never" && lent == 0 {
					t.Errorf("blksize %d, %q: nothing lent", bs, name)
				}
			}
		}
	}

	t.Run("FileServer", func(t *testing.T) {
		data := pattern(100000)
		fsys := lendFS{fstest.MapFS{"f": {Data: data}}, map[string]*lendingReaderAt{"f": {data: data, grid: 4096}}}
		sink := newStatsSink()
		srv := &Server{OnTransfer: sink.on, Handler: FileServer(fsys)}
		addr := startServer(t, srv, "udp4", "127.0.0.1:0").String()
		var buf bytes.Buffer
		c := Client{BlockSize: 1468}
		if _, err := c.Get(ctx, addr, "f", &buf); err != nil || !bytes.Equal(buf.Bytes(), pattern(100000)) {
			t.Fatalf("%d bytes, %v", buf.Len(), err)
		}
		if st := sink.next(t); st.Outcome != Completed {
			t.Errorf("stats %+v", st)
		}
		if l := fsys.lenders["f"]; l.calls.Load() == 0 || l.reads.Load() != 0 {
			t.Errorf("%d LendAt and %d ReadAt calls: want lends only", l.calls.Load(), l.reads.Load())
		}
	})
}

// TestLenderRollover: a lending file of 65540 blocks of 8 bytes, lent in
// pieces that end off block boundaries, crosses the block number wrap
// byte-exact with either rollover.
func TestLenderRollover(t *testing.T) {
	const n = 65536*8 + 8*3 + 5
	for _, ro := range []Rollover{RolloverZero, RolloverOne} {
		t.Run(ro.String(), func(t *testing.T) {
			sink := newStatsSink()
			srv := &Server{Rollover: ro, OnTransfer: sink.on, Handler: HandlerFunc(func(*Request) (io.ReaderAt, int64, error) {
				return &lendingReaderAt{data: pattern(n), grid: 4099}, n, nil
			})}
			ap := startServer(t, srv, "udp4", "127.0.0.1:0")
			c := newRawClient(t, "udp4", "127.0.0.1:0")
			res, err := clientGet(c.conn, net.UDPAddrFromAddrPort(ap), "big", getOpts{rollover: ro, opts: Options{{"blksize", "8"}, {"windowsize", "32"}}})
			if err != nil || !bytes.Equal(res.data, pattern(n)) {
				t.Fatalf("got %d bytes, %v; want the %d of the file", len(res.data), err, n)
			}
			if st := sink.next(t); st.Outcome != Completed || st.Blocks != 65540 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}
