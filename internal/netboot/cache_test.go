package netboot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/config"
	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/tftp"
)

// readCounter counts the reads of the image files of a Router made with
// newRouter(..., rc.wrap); while gate holds a channel, reads wait for it to
// be closed.
type readCounter struct {
	reads atomic.Int64
	gate  atomic.Pointer[chan struct{}]
}

func (rc *readCounter) wrap(r io.ReaderAt) io.ReaderAt { return countedImage{r, rc} }

type countedImage struct {
	r  io.ReaderAt
	rc *readCounter
}

func (ci countedImage) ReadAt(p []byte, off int64) (int, error) {
	ci.rc.reads.Add(1)
	if g := ci.rc.gate.Load(); g != nil {
		<-*g
	}
	return ci.r.ReadAt(p, off)
}

// cacheTree has files of whole chunks, a short final chunk, a single short
// chunk and none; cacheVolume adds a fragmented file.
func cacheTree() fixture.Tree {
	return fixture.Tree{
		"big.bin":   {Data: fixture.Pseudo(1, 5*chunkSize+1234)},
		"even.bin":  {Data: fixture.Pseudo(2, 2*chunkSize)},
		"small.txt": {Data: fixture.Pseudo(3, 100)},
		"empty":     {Data: nil},
	}
}

// cacheVolume builds a FAT16 superfloppy of 2 KiB clusters holding tree and
// "frag.bin", 60 clusters in 60 runs.
func cacheVolume(t testing.TB, tree fixture.Tree) *fixture.Volume {
	t.Helper()
	return fixture.NewFAT(t, fixture.FAT{Type: 16, Size: 32 << 20, SectorsPerCluster: 4, Tree: tree,
		Fragment: &fixture.Fragment{Path: "frag.bin", Extents: 60}})
}

func floppyBoard(img string) config.Board {
	b := board("pi", "1234abcd", img)
	b.Partition = 0
	return b
}

// openContent opens name of board 1234abcd through r, closing it when the
// test ends.
func openContent(t testing.TB, r *Router, name string) *content {
	t.Helper()
	c, size, err := r.ServeTFTP(&tftp.Request{Op: tftp.OpRRQ, Filename: "1234abcd/" + name, Mode: tftp.ModeOctet,
		RemoteAddr: netip.MustParseAddrPort("127.0.0.1:4000")})
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	cc, ok := c.(*content)
	if !ok {
		t.Fatalf("open %s: a %T, want *content", name, c)
	}
	if size != cc.f.Size() {
		t.Fatalf("open %s: size %d, file says %d", name, size, cc.f.Size())
	}
	t.Cleanup(func() {
		if err := cc.Close(); err != nil {
			t.Errorf("close %s: %v", name, err)
		}
	})
	return cc
}

// refFile opens name in the volume with fatfs directly, for comparison.
func refFile(t testing.TB, v *fixture.Volume, name string) *fatfs.File {
	t.Helper()
	fsys, err := fatfs.New(v.Open(t), v.Size, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	return f.(*fatfs.File)
}

// sameRead compares one ReadAt of c with the same ReadAt of ref and with the
// file's bytes.
func sameRead(t *testing.T, name string, c *content, ref *fatfs.File, want []byte, off int64, n int) {
	t.Helper()
	p, q := make([]byte, n), make([]byte, n)
	gn, gerr := c.ReadAt(p, off)
	wn, werr := ref.ReadAt(q, off)
	if gn != wn || gerr != werr {
		t.Fatalf("%s: ReadAt(%d bytes, %d) = %d, %v; fatfs says %d, %v", name, n, off, gn, gerr, wn, werr)
	}
	if !bytes.Equal(p[:gn], q[:wn]) || gn > 0 && !bytes.Equal(p[:gn], want[off:off+int64(gn)]) {
		t.Fatalf("%s: ReadAt(%d bytes, %d): bytes differ", name, n, off)
	}
}

// TestCacheReadsExact reads every file at every offset near a chunk
// boundary and at both ends, with lengths from 0 to more than the file,
// and compares each result with fatfs's.
func TestCacheReadsExact(t *testing.T) {
	v := cacheVolume(t, cacheTree())
	for _, cb := range []int64{0, -1} {
		t.Run(fmt.Sprintf("CacheBytes=%d", cb), func(t *testing.T) {
			r := New(Config{Boards: []config.Board{floppyBoard(v.Image)}, CacheBytes: cb}, nil)
			defer r.Close()
			for _, name := range []string{"big.bin", "even.bin", "small.txt", "empty", "frag.bin"} {
				want := v.Tree[name].Data
				size := int64(len(want))
				c, ref := openContent(t, r, name), refFile(t, v, name)
				openContent(t, r, name) // a second transfer: chunks are cached for busy files
				if c.cached != (size > 0) {
					t.Errorf("%s: cached %v for %d bytes", name, c.cached, size)
				}
				near := map[int64]bool{}
				for b := int64(0); b <= size+chunkSize; b += chunkSize {
					for _, e := range []int64{b, size} {
						for d := int64(-300); d <= 300; d++ {
							if e+d >= 0 {
								near[e+d] = true
							}
						}
					}
				}
				for off := range near {
					for _, n := range []int{0, 1, 7, 512, 1468} {
						sameRead(t, name, c, ref, want, off, n)
					}
					if off%61 == 0 || off%chunkSize <= 1 || off%chunkSize == chunkSize-1 || off >= size-1 && off <= size+1 {
						for _, n := range []int{32296, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 5, int(size) + 10} {
							sameRead(t, name, c, ref, want, off, n)
						}
					}
				}
				for off := int64(0); off < size; off += 4099 {
					sameRead(t, name, c, ref, want, off, 32296)
				}
			}
			used, loads := r.cache.stats()
			if cb < 0 && (used != 0 || loads != 0) {
				t.Errorf("cache off: %d bytes held, %d chunks loaded", used, loads)
			}
			if cb == 0 && loads == 0 {
				t.Error("cache on: no chunk loaded")
			}
		})
	}
}

func TestCacheEOF(t *testing.T) {
	tree := cacheTree()
	v := cacheVolume(t, tree)
	r := New(Config{Boards: []config.Board{floppyBoard(v.Image)}}, nil)
	defer r.Close()
	big := openContent(t, r, "big.bin")
	size := int64(len(tree["big.bin"].Data))
	for _, c := range []struct {
		off   int64
		n     int
		wantN int
		eof   bool
	}{
		{0, int(size), int(size), false},                            // exactly the file
		{size - 10, 10, 10, false},                                  // ends at the end
		{size - 1, 10, 1, true},                                     // crosses the end
		{size - chunkSize - 5, chunkSize + 10, chunkSize + 5, true}, // crosses a chunk and the end
		{size, 10, 0, true},
		{size, 0, 0, true},
		{size + chunkSize, 10, 0, true},
		{3, 0, 0, false},
	} {
		p := make([]byte, c.n)
		n, err := big.ReadAt(p, c.off)
		if n != c.wantN || (err == io.EOF) != c.eof || (err != nil && err != io.EOF) {
			t.Errorf("ReadAt(%d bytes, %d) = %d, %v; want %d, EOF %v", c.n, c.off, n, err, c.wantN, c.eof)
		}
		if n > 0 && !bytes.Equal(p[:n], tree["big.bin"].Data[c.off:c.off+int64(n)]) {
			t.Errorf("ReadAt(%d bytes, %d): wrong bytes", c.n, c.off)
		}
	}
	if n, err := big.ReadAt(make([]byte, 4), -1); n != 0 || err == nil || err == io.EOF {
		t.Errorf("ReadAt at -1 = %d, %v; want an error", n, err)
	}
	empty := openContent(t, r, "empty")
	if n, err := empty.ReadAt(make([]byte, 4), 0); n != 0 || err != io.EOF {
		t.Errorf("empty file: ReadAt = %d, %v; want 0, EOF", n, err)
	}
	if err := big.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := big.ReadAt(make([]byte, 4), 0); n != 0 || !errors.Is(err, fs.ErrClosed) {
		t.Errorf("ReadAt after Close = %d, %v; want fs.ErrClosed", n, err)
	}
}

// TestCacheOneReadPerChunk holds the first read of a chunk until every
// other reader of it waits, then checks that the chunk was read once.
func TestCacheOneReadPerChunk(t *testing.T) {
	const readers = 8
	tree := cacheTree()
	v := cacheVolume(t, tree)
	var rc readCounter
	r := newRouter(Config{Boards: []config.Board{floppyBoard(v.Image)}}, nil, rc.wrap)
	defer r.Close()
	cs := make([]*content, readers)
	for i := range cs {
		cs[i] = openContent(t, r, "big.bin")
	}
	waits := make(chan struct{}, readers)
	r.cache.waiting = func() { waits <- struct{}{} }
	gate := make(chan struct{})
	var openGate sync.Once
	defer openGate.Do(func() { close(gate) })
	rc.gate.Store(&gate)
	rc.reads.Store(0)

	const off, n = chunkSize + 100, 40000 // within chunk 1
	want := tree["big.bin"].Data[off : off+n]
	var wg sync.WaitGroup
	errs := make([]error, readers)
	for i, c := range cs {
		wg.Go(func() {
			p := make([]byte, n)
			if m, err := c.ReadAt(p, off); m != n || err != nil {
				errs[i] = fmt.Errorf("reader %d: ReadAt = %d, %v", i, m, err)
			} else if !bytes.Equal(p, want) {
				errs[i] = fmt.Errorf("reader %d: wrong bytes", i)
			}
		})
	}
	timeout := time.After(20 * time.Second)
	for i := 0; i < readers-1; i++ {
		select {
		case <-waits:
		case <-timeout:
			openGate.Do(func() { close(gate) })
			wg.Wait()
			t.Fatalf("%d of %d readers waited for the chunk being read; %d reads of the image", i, readers-1, rc.reads.Load())
		}
	}
	openGate.Do(func() { close(gate) })
	wg.Wait()
	rc.gate.Store(nil)
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := rc.reads.Load(); got != 1 {
		t.Errorf("%d readers of one chunk: %d reads of the image, want 1", readers, got)
	}
	if _, loads := r.cache.stats(); loads != 1 {
		t.Errorf("%d chunks loaded, want 1", loads)
	}
}

// TestCacheConcurrentReaders runs readers of every file at once, under a
// budget that holds all of them and under one of three chunks, comparing
// every byte. With room for all, a storm of whole-file readers reads each
// chunk of a contiguous file once.
func TestCacheConcurrentReaders(t *testing.T) {
	const readers = 16
	tree := cacheTree()
	v := cacheVolume(t, tree)
	names := []string{"big.bin", "even.bin", "small.txt", "empty", "frag.bin"}
	for _, cb := range []int64{0, 3 * chunkSize} {
		t.Run(fmt.Sprintf("CacheBytes=%d", cb), func(t *testing.T) {
			var rc readCounter
			r := newRouter(Config{Boards: []config.Board{floppyBoard(v.Image)}, CacheBytes: cb}, nil, rc.wrap)
			defer r.Close()
			// Opening reads directories and the FAT: count only what follows.
			cs := make([]*content, readers)
			for i := range cs {
				cs[i] = openContent(t, r, names[i%len(names)])
			}
			rc.reads.Store(0)
			var wg sync.WaitGroup
			errs := make(chan error, readers)
			for i, c := range cs {
				name := names[i%len(names)]
				want := v.Tree[name].Data
				wg.Go(func() {
					// Whole-file passes in read-ahead steps, from a shifted start.
					step := int64(32296)
					for pass := range 3 {
						for off := int64(pass * 1000 * i % 7919); off < int64(len(want)); off += step {
							p := make([]byte, step)
							n, err := c.ReadAt(p, off)
							end := min(off+step, int64(len(want)))
							if int64(n) != end-off || (err != nil && err != io.EOF) || !bytes.Equal(p[:n], want[off:end]) {
								errs <- fmt.Errorf("%s: ReadAt(%d, %d) = %d, %v or wrong bytes", name, step, off, n, err)
								return
							}
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			used, loads := r.cache.stats()
			if budget := cacheBudget(cb); used > budget {
				t.Errorf("%d bytes held, budget %d", used, budget)
			}
			if cb == 0 {
				chunks := int64(0)
				for _, name := range []string{"big.bin", "even.bin", "small.txt"} {
					chunks += (int64(len(tree[name].Data)) + chunkSize - 1) / chunkSize
				}
				fragChunks := (int64(len(v.Tree["frag.bin"].Data)) + chunkSize - 1) / chunkSize
				if loads != chunks+fragChunks {
					t.Errorf("%d chunks loaded, want %d (each once)", loads, chunks+fragChunks)
				}
				// frag.bin is 60 runs of one cluster: one read each.
				if got := rc.reads.Load(); got != chunks+60 {
					t.Errorf("%d reads of the image, want %d: one per chunk of the contiguous files, one per run of frag.bin", got, chunks+60)
				}
			}
		})
	}
}

// TestCacheEviction checks the LRU order and the budget.
// A file one transfer reads is read from the image directly, without
// loading chunks; a second transfer of it starts the caching, and chunks
// cached serve a lone reader too.
func TestCacheLoneReader(t *testing.T) {
	tree := cacheTree()
	data := tree["big.bin"].Data
	v := cacheVolume(t, tree)
	var rc readCounter
	r := newRouter(Config{Boards: []config.Board{floppyBoard(v.Image)}}, nil, rc.wrap)
	defer r.Close()
	p := make([]byte, 1000)
	readAt := func(c *content, off int64) {
		t.Helper()
		if n, err := c.ReadAt(p, off); n != len(p) || err != nil || !bytes.Equal(p, data[off:off+int64(len(p))]) {
			t.Fatalf("ReadAt(%d) = %d, %v or wrong bytes", off, n, err)
		}
	}
	lone := openContent(t, r, "big.bin")
	readAt(lone, 10)
	readAt(lone, 20)
	if used, loads := r.cache.stats(); used != 0 || loads != 0 {
		t.Errorf("one reader: %d bytes held, %d chunks loaded; want none", used, loads)
	}
	second := openContent(t, r, "big.bin")
	rc.reads.Store(0)
	readAt(second, 10)
	readAt(lone, 20)
	if _, loads := r.cache.stats(); loads != 1 || rc.reads.Load() != 1 {
		t.Errorf("two readers: %d chunks loaded, %d image reads; want 1 and 1", loads, rc.reads.Load())
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	rc.reads.Store(0)
	readAt(lone, 30) // cached: no read
	readAt(lone, chunkSize+5)
	if got := rc.reads.Load(); got != 1 {
		t.Errorf("lone reader again: %d image reads, want 1 (the uncached chunk only)", got)
	}
	if _, loads := r.cache.stats(); loads != 1 {
		t.Errorf("lone reader again: %d chunks loaded, want still 1", loads)
	}
}

func TestCacheEviction(t *testing.T) {
	tree := cacheTree()
	data := tree["big.bin"].Data
	v := cacheVolume(t, tree)
	var rc readCounter
	r := newRouter(Config{Boards: []config.Board{floppyBoard(v.Image)}, CacheBytes: 3 * chunkSize}, nil, rc.wrap)
	defer r.Close()
	c := openContent(t, r, "big.bin")
	openContent(t, r, "big.bin") // a second transfer: chunks are cached for busy files
	read := func(idx int64, wantReads int64) {
		t.Helper()
		rc.reads.Store(0)
		p := make([]byte, 100)
		if n, err := c.ReadAt(p, idx*chunkSize+7); n != len(p) || err != nil || !bytes.Equal(p, data[idx*chunkSize+7:][:100]) {
			t.Fatalf("chunk %d: ReadAt = %d, %v or wrong bytes", idx, n, err)
		}
		if got := rc.reads.Load(); got != wantReads {
			t.Errorf("chunk %d: %d reads of the image, want %d", idx, got, wantReads)
		}
		if used, _ := r.cache.stats(); used > 3*chunkSize {
			t.Errorf("chunk %d: %d bytes held, budget %d", idx, used, 3*chunkSize)
		}
	}
	read(0, 1)
	read(1, 1)
	read(2, 1)
	read(0, 0) // 0 is now the most recently used
	read(3, 1) // evicts 1
	read(0, 0)
	read(2, 0)
	read(1, 1) // evicts 3
	read(3, 1) // evicts 0
	read(0, 1)
	read(5, 1) // the short last chunk

	// A smaller budget evicts at once; one below a chunk caches nothing
	// of big.bin but still reads it right.
	r.Reconfigure(Config{Boards: []config.Board{floppyBoard(v.Image)}, CacheBytes: chunkSize})
	if used, _ := r.cache.stats(); used > chunkSize {
		t.Errorf("after shrinking to one chunk: %d bytes held", used)
	}
	r.Reconfigure(Config{Boards: []config.Board{floppyBoard(v.Image)}, CacheBytes: 1000})
	read(4, 1)
	read(4, 1)
	if used, _ := r.cache.stats(); used != 0 {
		t.Errorf("budget of 1000 bytes: %d bytes held", used)
	}
	small := openContent(t, r, "small.txt")
	openContent(t, r, "small.txt")
	p := make([]byte, 200)
	if n, err := small.ReadAt(p, 0); n != 100 || err != io.EOF || !bytes.Equal(p[:n], tree["small.txt"].Data) {
		t.Errorf("small.txt: ReadAt = %d, %v or wrong bytes", n, err)
	}
	if used, _ := r.cache.stats(); used != 100 {
		t.Errorf("budget of 1000 bytes after reading a 100-byte file: %d bytes held, want 100", used)
	}
	// Off: nothing held, reads still right.
	r.Reconfigure(Config{Boards: []config.Board{floppyBoard(v.Image)}, CacheBytes: -1})
	read(2, 1)
	read(2, 1)
	if used, _ := r.cache.stats(); used != 0 {
		t.Errorf("cache off: %d bytes held", used)
	}
	// Close keeps the budget: still off.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if b := r.cache.budget.Load(); b != 0 {
		t.Errorf("budget %d after Close, want 0 (off, as configured)", b)
	}
}

// TestCacheImageReplaced replaces an image by one whose file has the same
// first cluster and size but other bytes, so that only the view tells the
// two apart: new requests must get the new bytes, the transfer open on the
// old image the old ones, and the old image's chunks must go with its last
// transfer.
func TestCacheImageReplaced(t *testing.T) {
	oldData, newData := fixture.Pseudo(10, 3*chunkSize+99), fixture.Pseudo(11, 3*chunkSize+99)
	oldVol := fixture.NewFAT(t, fixture.FAT{Type: 12, Tree: fixture.Tree{"kernel8.img": {Data: oldData}}})
	newVol := fixture.NewFAT(t, fixture.FAT{Type: 12, Tree: fixture.Tree{"kernel8.img": {Data: newData}}})
	live := linkImage(t, oldVol.Image)
	readAll := func(c *content) []byte {
		t.Helper()
		b := make([]byte, c.f.Size())
		for off := int64(0); off < int64(len(b)); off += 32296 {
			if _, err := c.ReadAt(b[off:min(off+32296, int64(len(b)))], off); err != nil && err != io.EOF {
				t.Fatal(err)
			}
		}
		return b
	}
	r := New(Config{Boards: []config.Board{floppyBoard(live)}}, nil)
	defer r.Close()

	// Each version is read by two transfers at once: chunks are cached
	// for busy files.
	old, oldPeer := openContent(t, r, "kernel8.img"), openContent(t, r, "kernel8.img")
	if !bytes.Equal(readAll(old), oldData) {
		t.Fatal("first read: not the old image's bytes")
	}
	replaceImage(t, live, newVol.Image)
	cur, curPeer := openContent(t, r, "kernel8.img"), openContent(t, r, "kernel8.img")
	if cur.key != old.key {
		t.Fatalf("file keys %v and %v differ: the test needs equal ones", cur.key, old.key)
	}
	if !bytes.Equal(readAll(cur), newData) {
		t.Error("request after the replacement got stale bytes")
	}
	if cur.v == old.v || cur.v.cache == old.v.cache {
		t.Fatal("the replaced image shares the old view or its cache")
	}
	if !bytes.Equal(readAll(old), oldData) {
		t.Error("transfer started before the replacement lost the old bytes")
	}
	if used, _ := r.cache.stats(); used != int64(len(oldData)+len(newData)) {
		t.Errorf("%d bytes held, want both versions (%d)", used, len(oldData)+len(newData))
	}
	if err := errors.Join(old.Close(), oldPeer.Close()); err != nil {
		t.Fatal(err)
	}
	if used, _ := r.cache.stats(); used != int64(len(newData)) {
		t.Errorf("%d bytes held after the old image's last transfer, want the new version's %d", used, len(newData))
	}
	if !old.v.cache.dropped {
		t.Error("old view's cache not dropped")
	}

	// Back to the old version (the very inode of the dropped view): a new
	// view, the old bytes, the new version's chunks gone with its last
	// transfer.
	replaceImage(t, live, oldVol.Image)
	again := openContent(t, r, "kernel8.img")
	openContent(t, r, "kernel8.img")
	if !bytes.Equal(readAll(again), oldData) {
		t.Error("request after replacing back got the wrong bytes")
	}
	if err := errors.Join(cur.Close(), curPeer.Close()); err != nil {
		t.Fatal(err)
	}
	if used, _ := r.cache.stats(); used != int64(len(oldData)) {
		t.Errorf("%d bytes held, want the current version's %d", used, len(oldData))
	}
}

// BenchmarkStormRead is a storm of 50 boards reading one 9 MB kernel of a
// FAT32 image at once, in the TFTP engine's read-ahead reads of 32296
// bytes, starting from a cold cache each time. It reports the preads of the
// image per GB served.
func BenchmarkStormRead(b *testing.B) {
	const boards, step = 50, 32296
	data := fixture.Pseudo(7, 9_000_000)
	d := piDisk(b, fixture.Tree{"kernel8.img": {Data: data}})
	for _, cb := range []int64{0, -1} {
		name := "cache=on"
		if cb < 0 {
			name = "cache=off"
		}
		b.Run(name, func(b *testing.B) {
			var rc readCounter
			img := board("pi", "1234abcd", d.Path)
			r := newRouter(Config{Boards: []config.Board{img}, CacheBytes: cb}, nil, rc.wrap)
			defer r.Close()
			openContent(b, r, "kernel8.img") // opens the view and reads the directory
			b.SetBytes(boards * int64(len(data)))
			var preads int64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				r.cache.setBudget(0) // cold
				r.cache.setBudget(cacheBudget(cb))
				rc.reads.Store(0)
				b.StartTimer()
				var wg sync.WaitGroup
				for range boards {
					wg.Go(func() {
						c, size, err := r.ServeTFTP(&tftp.Request{Op: tftp.OpRRQ, Filename: "1234abcd/kernel8.img",
							Mode: tftp.ModeOctet, RemoteAddr: netip.MustParseAddrPort("127.0.0.1:4000")})
						if err != nil {
							b.Error(err)
							return
						}
						p := make([]byte, step)
						for off := int64(0); off < size; off += step {
							if n, err := c.ReadAt(p, off); n != int(min(step, size-off)) || (err != nil && err != io.EOF) {
								b.Errorf("ReadAt(%d, %d) = %d, %v", step, off, n, err)
								break
							}
						}
						if err := c.(io.Closer).Close(); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				preads += rc.reads.Load()
			}
			b.ReportMetric(float64(preads)/(float64(b.N)*boards*float64(len(data))/1e9), "preads/GB")
		})
	}
}
