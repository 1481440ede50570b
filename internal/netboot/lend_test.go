package netboot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/config"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// linkImage links img to a new name, to be replaced by replaceImage, and
// returns that name.
func linkImage(t *testing.T, img string) string {
	t.Helper()
	live := filepath.Join(t.TempDir(), "live.img")
	if err := os.Link(img, live); err != nil {
		t.Fatal(err)
	}
	return live
}

// replaceImage replaces the image live by a link to with, by rename, as an
// image is replaced in production.
func replaceImage(t *testing.T, live, with string) {
	t.Helper()
	tmp := live + ".new"
	if err := os.Link(with, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, live); err != nil {
		t.Fatal(err)
	}
}

// lendWant checks one LendAt of c against the file's bytes: it must lend
// exactly up to n bytes, the end of the file or the end of the chunk,
// whichever comes first, in a slice that cannot grow into the chunk.
func lendWant(t *testing.T, name string, c *content, want []byte, off int64, n int) []byte {
	t.Helper()
	b, ok := c.LendAt(off, n)
	if !ok {
		t.Fatalf("%s: LendAt(%d, %d) declined", name, off, n)
	}
	end := min(off+int64(n), int64(len(want)), (off/chunkSize+1)*chunkSize)
	if int64(len(b)) != end-off || cap(b) != len(b) || !bytes.Equal(b, want[off:end]) {
		t.Fatalf("%s: LendAt(%d, %d) lent %d bytes (cap %d), want the %d of the file from there", name, off, n, len(b), cap(b), end-off)
	}
	return b
}

// TestCacheLend: the content of a busy file lends the file's bytes at every
// offset near a chunk boundary and at both ends, up to n and to the end of
// the chunk; lends of cached chunks read nothing and share the chunk's
// memory (no copy); a lone reader of an uncached file is declined without
// loading anything, and so are offsets out of the file and n <= 0.
func TestCacheLend(t *testing.T) {
	v := cacheVolume(t, cacheTree())
	var rc readCounter
	r := newRouter(Config{Boards: []config.Board{floppyBoard(v.Image)}}, nil, rc.wrap)
	defer r.Close()
	for _, name := range []string{"big.bin", "even.bin", "small.txt", "frag.bin"} {
		want := v.Tree[name].Data
		size := int64(len(want))
		c := openContent(t, r, name)
		_, before := r.cache.stats()
		if b, ok := c.LendAt(0, 100); ok {
			t.Errorf("%s: a lone reader of an uncached file was lent %d bytes", name, len(b))
		}
		if _, loads := r.cache.stats(); loads != before {
			t.Errorf("%s: a lone reader's LendAt loaded %d chunks", name, loads-before)
		}
		openContent(t, r, name) // a second transfer: chunks are cached for busy files
		offs := map[int64]bool{0: true, size - 1: true}
		for b := int64(0); b < size; b += chunkSize {
			for _, d := range []int64{-1469, -1, 0, 1, 1467, 32296} {
				if b+d >= 0 && b+d < size {
					offs[b+d] = true
				}
			}
		}
		for off := range offs {
			for _, n := range []int{1, 7, 1468, 32296, chunkSize, chunkSize + 10} {
				lendWant(t, name, c, want, off, n)
			}
		}
		rc.reads.Store(0)
		a, b := lendWant(t, name, c, want, 5, 10), lendWant(t, name, c, want, 5, 10)
		if &a[0] != &b[0] {
			t.Errorf("%s: two lends of one cached offset are different memory: a copy", name)
		}
		if got := rc.reads.Load(); got != 0 {
			t.Errorf("%s: %d reads of the image to lend cached bytes", name, got)
		}
		for _, tc := range []struct {
			off int64
			n   int
		}{{size, 1}, {size + chunkSize, 1}, {-1, 10}, {0, 0}, {0, -1}} {
			if b, ok := c.LendAt(tc.off, tc.n); ok {
				t.Errorf("%s: LendAt(%d, %d) lent %d bytes, want a decline", name, tc.off, tc.n, len(b))
			}
		}
	}
}

// TestCacheLendDeclines: content whose bytes are not in the cache declines
// to lend (an empty file, the cache off, a chunk larger than the budget, a
// closed content) and still reads right with ReadAt.
func TestCacheLendDeclines(t *testing.T) {
	tree := cacheTree()
	v := cacheVolume(t, tree)
	data := tree["big.bin"].Data
	for _, tc := range []struct {
		name  string
		cb    int64
		file  string
		lends bool
	}{
		{"empty", 0, "empty", false},
		{"cache off", -1, "big.bin", false},
		{"budget under a chunk", 1000, "big.bin", false},
		{"budget holds the file", 1000, "small.txt", true},
		{"cache on", 0, "big.bin", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Config{Boards: []config.Board{floppyBoard(v.Image)}, CacheBytes: tc.cb}, nil)
			defer r.Close()
			want := v.Tree[tc.file].Data
			c := openContent(t, r, tc.file)
			openContent(t, r, tc.file)
			b, ok := c.LendAt(0, 50)
			if ok != tc.lends {
				t.Fatalf("LendAt lent %v (%d bytes), want %v", ok, len(b), tc.lends)
			}
			if ok && !bytes.Equal(b, want[:min(50, len(want))]) {
				t.Error("wrong bytes lent")
			}
			if len(want) > 0 {
				p := make([]byte, min(len(want), 5000))
				if n, err := c.ReadAt(p, 0); n != len(p) || (err != nil && n < len(want)) || !bytes.Equal(p, want[:len(p)]) {
					t.Errorf("ReadAt after LendAt = %d, %v or wrong bytes", n, err)
				}
			}
		})
	}
	t.Run("closed", func(t *testing.T) {
		r := New(Config{Boards: []config.Board{floppyBoard(v.Image)}}, nil)
		defer r.Close()
		c := openContent(t, r, "big.bin")
		openContent(t, r, "big.bin")
		held := lendWant(t, "big.bin", c, data, 100, 1000)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if b, ok := c.LendAt(100, 1000); ok {
			t.Errorf("closed content lent %d bytes", len(b))
		}
		if !bytes.Equal(held, data[100:1100]) {
			t.Error("bytes lent before Close changed")
		}
	})
}

// TestCacheLendEvicted: under a budget of two chunks, slices lent from
// every chunk keep the file's bytes after their chunks are evicted, after
// the cache is turned off and while readers lend concurrently (run with
// -race: nothing writes what was lent; a reader declined reads instead); a
// chunk loaded again is new memory.
func TestCacheLendEvicted(t *testing.T) {
	tree := cacheTree()
	data := tree["big.bin"].Data
	size := int64(len(data))
	v := cacheVolume(t, tree)
	var rc readCounter
	cfg := Config{Boards: []config.Board{floppyBoard(v.Image)}, CacheBytes: 2 * chunkSize}
	r := newRouter(cfg, nil, rc.wrap)
	defer r.Close()
	c := openContent(t, r, "big.bin")
	openContent(t, r, "big.bin")

	var held [][]byte
	var offs []int64
	for off := int64(7); off < size; off += chunkSize {
		held = append(held, lendWant(t, "big.bin", c, data, off, chunkSize))
		offs = append(offs, off)
	}
	if used, _ := r.cache.stats(); used > 2*chunkSize {
		t.Errorf("%d bytes held, budget %d", used, 2*chunkSize)
	}
	rc.reads.Store(0)
	again := lendWant(t, "big.bin", c, data, 7, 100)
	if rc.reads.Load() != 1 {
		t.Errorf("chunk 0 after its eviction: %d reads of the image, want 1", rc.reads.Load())
	}
	if &again[0] == &held[0][0] {
		t.Error("chunk 0 loaded again into the memory it was lent from")
	}

	// Readers in the engine's steps from shifted starts, holding all they
	// were lent, while the two-chunk budget evicts under them.
	const readers = 8
	var lends atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for i := range readers {
		rd := openContent(t, r, "big.bin")
		wg.Go(func() {
			type lent struct {
				off int64
				b   []byte
			}
			var all []lent
			for pass := range 2 {
				for off := int64((i*4099 + pass*1468) % chunkSize); off < size; {
					b, ok := rd.LendAt(off, 32296)
					if !ok {
						// Declined (the budget is held by chunks being
						// loaded): read, as the engine does.
						b = make([]byte, min(32296, size-off))
						if n, err := rd.ReadAt(b, off); n != len(b) || (err != nil && err != io.EOF) {
							errs <- fmt.Errorf("reader %d: ReadAt(%d) = %d, %v", i, off, n, err)
							return
						}
					} else {
						lends.Add(1)
					}
					all = append(all, lent{off, b})
					off += int64(len(b))
				}
			}
			for _, l := range all {
				if !bytes.Equal(l.b, data[l.off:l.off+int64(len(l.b))]) {
					errs <- fmt.Errorf("reader %d: bytes lent at %d changed", i, l.off)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if lends.Load() == 0 {
		t.Error("concurrent readers: nothing lent")
	}

	cfg.CacheBytes = -1
	r.Reconfigure(cfg)
	if used, _ := r.cache.stats(); used != 0 {
		t.Errorf("cache off: %d bytes held", used)
	}
	if b, ok := c.LendAt(7, 100); ok {
		t.Errorf("cache off: lent %d bytes", len(b))
	}
	for i, b := range held {
		if !bytes.Equal(b, data[offs[i]:offs[i]+int64(len(b))]) {
			t.Errorf("bytes lent at %d changed after eviction", offs[i])
		}
	}
}

// TestCacheLendImageReplaced: slices lent from a view keep the old image's
// bytes after the image is replaced by one whose file has the same key
// and other bytes, after the old view's last transfer ends (its chunks are
// dropped) and after the Router is closed; the new view lends the new
// bytes.
func TestCacheLendImageReplaced(t *testing.T) {
	oldData, newData := fixture.Pseudo(20, 3*chunkSize+99), fixture.Pseudo(21, 3*chunkSize+99)
	oldVol := fixture.NewFAT(t, fixture.FAT{Type: 12, Tree: fixture.Tree{"kernel8.img": {Data: oldData}}})
	newVol := fixture.NewFAT(t, fixture.FAT{Type: 12, Tree: fixture.Tree{"kernel8.img": {Data: newData}}})
	live := linkImage(t, oldVol.Image)
	r := New(Config{Boards: []config.Board{floppyBoard(live)}}, nil)
	defer r.Close()
	lendAll := func(c *content, want []byte) [][]byte {
		t.Helper()
		var all [][]byte
		for off := int64(0); off < int64(len(want)); off += chunkSize {
			all = append(all, lendWant(t, "kernel8.img", c, want, off, chunkSize))
		}
		return all
	}
	check := func(when string, lent [][]byte, want []byte) {
		t.Helper()
		if got := bytes.Join(lent, nil); !bytes.Equal(got, want) {
			t.Errorf("%s: the bytes lent are not the file's", when)
		}
	}

	old, oldPeer := openContent(t, r, "kernel8.img"), openContent(t, r, "kernel8.img")
	oldLent := lendAll(old, oldData)
	replaceImage(t, live, newVol.Image)
	cur, curPeer := openContent(t, r, "kernel8.img"), openContent(t, r, "kernel8.img")
	if cur.key != old.key || cur.v == old.v {
		t.Fatalf("keys %v, %v; views shared %v: the test needs equal keys and two views", cur.key, old.key, cur.v == old.v)
	}
	curLent := lendAll(cur, newData)
	check("old view, after the replacement", oldLent, oldData)
	check("new view", curLent, newData)
	if err := errors.Join(old.Close(), oldPeer.Close()); err != nil {
		t.Fatal(err)
	}
	if !old.v.cache.dropped {
		t.Fatal("old view's cache not dropped")
	}
	check("old view, after its chunks were dropped", oldLent, oldData)
	if err := errors.Join(cur.Close(), curPeer.Close(), r.Close()); err != nil {
		t.Fatal(err)
	}
	check("old view, after the Router closed", oldLent, oldData)
	check("new view, after the Router closed", curLent, newData)
}

// TestLendThroughServer: a file several transfers read is served byte-exact
// by the TFTP server from cached chunks, at several block sizes, also while
// the budget holds less than the file.
func TestLendThroughServer(t *testing.T) {
	tree := cacheTree()
	v := cacheVolume(t, tree)
	cfg := Config{Boards: []config.Board{floppyBoard(v.Image)}}
	r := New(cfg, nil)
	defer r.Close()
	var _ tftp.Lender = (*content)(nil)
	s := tftptest.Start(t, r)
	openContent(t, r, "big.bin") // another transfer: the server's is the second
	for _, cb := range []int64{0, 2 * chunkSize} {
		cfg.CacheBytes = cb
		r.Reconfigure(cfg)
		for _, bs := range []int{512, 1468, 8192} {
			var got bytes.Buffer
			c := tftp.Client{BlockSize: bs, WindowSize: 4}
			if _, err := c.Get(tftptest.Context(t, 20*time.Second), s.Addr, "1234abcd/big.bin", &got); err != nil || !bytes.Equal(got.Bytes(), tree["big.bin"].Data) {
				t.Fatalf("CacheBytes %d, blksize %d: %d bytes, %v; want the file", cb, bs, got.Len(), err)
			}
		}
	}
	if _, loads := r.cache.stats(); loads == 0 {
		t.Error("no chunk loaded: the transfers did not go through the cache")
	}
}
