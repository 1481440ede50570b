package netboot

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/nobodd-go/nobodd-go/config"
	"github.com/nobodd-go/nobodd-go/fatfs"
)

// DefaultCacheBytes is the block cache budget when Config.CacheBytes is 0:
// the daemon's default, config.DefaultCacheSize.
//
// 16 MiB holds a Pi 4's boot set (start4.elf, fixup4.dat, a device tree, the
// overlays and a kernel of about 9 MB) with room to spare. The daemon's peak
// RSS with 200 transfers running was 18 MiB without the cache
// (docs/benchmarks.md); the cache adds at most its budget, so the sum stays
// well under 64 MB.
const DefaultCacheBytes = config.DefaultCacheSize

// chunkSize is the unit of the block cache: files are cached in aligned
// chunks of this many bytes, the last one of a file shorter.
//
// 64 KiB is the largest FAT cluster, and cluster sizes are powers of two,
// so a chunk always starts on a cluster boundary and covers whole clusters
// (but at the end of the file): loading a chunk of a contiguous file is one
// pread, and a fragmented one costs one pread per run of clusters. The
// TFTP engine's read-ahead (32 KiB, at most 32296 bytes for 1468-byte
// blocks) spans at most two chunks, so each ReadAt takes the cache's lock
// at most twice, and each LendAt (which stops at the chunk's end) once.
// Larger chunks would save few preads more but make the first reader of a
// chunk wait longer and the eviction coarser: the default budget holds 256
// chunks.
const chunkSize = 64 << 10

// cacheBudget turns Config.CacheBytes into a budget; 0 is off.
func cacheBudget(n int64) int64 {
	switch {
	case n == 0:
		return DefaultCacheBytes
	case n < 0:
		return 0
	}
	return n
}

// blockCache is the Router's cache of file chunks, shared by every view
// under one byte budget and one least-recently-used list, so that the memory
// it takes does not grow with the count of images and the image being booted
// gets all of it. Its entries belong to views (viewCache): a view's chunks
// are never served from another view, and go when the view's last reference
// is released.
type blockCache struct {
	budget atomic.Int64 // bytes; 0 turns the cache off

	// waiting, when set (by tests), is called when a reader starts waiting
	// for a chunk that another reader is loading.
	waiting func()

	mu         sync.Mutex
	used       int64  // bytes of the chunks held, loaded or being loaded
	head, tail *chunk // loaded chunks, most recently used first
	loads      int64  // chunks loaded (a count for tests and benchmarks)
}

// viewCache holds the chunks of one view's files.
type viewCache struct {
	c       *blockCache
	chunks  map[chunkKey]*chunk // guarded by c.mu
	opens   map[fileKey]int     // guarded by c.mu: transfers reading each file
	dropped bool                // guarded by c.mu: the view is gone
}

// fileKey names a file within a view. In a read-only FAT file system the
// first cluster and the size fix the clusters read, so two names of one
// file share a key and two files sharing a key have the same bytes.
type fileKey struct {
	first uint32
	size  int64
}

type chunkKey struct {
	file fileKey
	idx  int64 // offset / chunkSize
}

// chunk is one cached chunk. While it is loaded, readers that want it wait
// for done; after done, data and ok do not change, and neither do the bytes
// of data: they are lent to the TFTP engine (content.LendAt), which may
// still hold them after the chunk is evicted or its view dropped, so a
// chunk's buffer is made for it alone and never reused.
type chunk struct {
	key   chunkKey
	owner *viewCache
	size  int64 // bytes charged to the budget
	done  chan struct{}
	data  []byte
	ok    bool // data holds the chunk; false when the load failed

	listed     bool // in the LRU list; guarded by owner.c.mu
	prev, next *chunk
}

func newBlockCache(budget int64) *blockCache {
	c := &blockCache{}
	c.budget.Store(budget)
	return c
}

func (c *blockCache) newView() *viewCache {
	return &viewCache{c: c, chunks: make(map[chunkKey]*chunk), opens: make(map[fileKey]int)}
}

// open and close count the transfers reading a file. Chunks are loaded
// into the cache only while two or more read it: a lone reader (one Pi, or
// one big file streamed through a budget smaller than it) would pay the
// cache's extra copy and churn for nothing, while in a storm every board
// after the first finds the chunks there. Chunks already cached serve any
// reader.
func (vc *viewCache) open(fk fileKey) {
	vc.c.mu.Lock()
	vc.opens[fk]++
	vc.c.mu.Unlock()
}

func (vc *viewCache) close(fk fileKey) {
	vc.c.mu.Lock()
	if vc.opens[fk]--; vc.opens[fk] <= 0 {
		delete(vc.opens, fk)
	}
	vc.c.mu.Unlock()
}

// setBudget changes the budget, evicting chunks down to it.
func (c *blockCache) setBudget(n int64) {
	c.budget.Store(n)
	c.mu.Lock()
	c.makeRoom(0)
	c.mu.Unlock()
}

// stats returns the bytes held and the count of chunks loaded so far.
func (c *blockCache) stats() (used, loads int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used, c.loads
}

// makeRoom evicts least recently used chunks until need more bytes fit in
// the budget, and reports whether they do. Chunks being loaded cannot be
// evicted, so it may fail. It is called with c.mu held.
func (c *blockCache) makeRoom(need int64) bool {
	budget := c.budget.Load()
	for c.used+need > budget && c.tail != nil {
		k := c.tail
		c.unlink(k)
		delete(k.owner.chunks, k.key)
		c.used -= k.size
	}
	return c.used+need <= budget
}

func (c *blockCache) unlink(k *chunk) {
	if k.prev != nil {
		k.prev.next = k.next
	} else {
		c.head = k.next
	}
	if k.next != nil {
		k.next.prev = k.prev
	} else {
		c.tail = k.prev
	}
	k.prev, k.next, k.listed = nil, nil, false
}

func (c *blockCache) pushFront(k *chunk) {
	k.prev, k.next, k.listed = nil, c.head, true
	if c.head != nil {
		c.head.prev = k
	} else {
		c.tail = k
	}
	c.head = k
}

// drop forgets every chunk of the view and uncharges them, those being
// loaded included; their loaders hand their bytes to their own readers only.
func (vc *viewCache) drop() {
	c := vc.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range vc.chunks {
		if k.listed {
			c.unlink(k)
		}
		c.used -= k.size
	}
	vc.chunks, vc.dropped = nil, true
}

// get returns the bytes of chunk idx of file fk, reading them through f when
// no other reader is (and at least two transfers read the file). Readers of
// a chunk being loaded wait for it: each chunk is read once however many
// transfers want it at the same time. It returns nil when the cache is off,
// when the chunk does not fit in the budget (every byte of it is held by
// chunks being loaded), or when its load failed: the caller then reads f
// itself, and so sees its own error.
func (vc *viewCache) get(f *fatfs.File, fk fileKey, idx int64) []byte {
	c := vc.c
	key := chunkKey{fk, idx}
	c.mu.Lock()
	if vc.dropped || c.budget.Load() == 0 {
		c.mu.Unlock()
		return nil
	}
	if k := vc.chunks[key]; k != nil {
		if k.listed {
			c.unlink(k)
			c.pushFront(k)
		}
		c.mu.Unlock()
		select {
		case <-k.done:
		default:
			if c.waiting != nil {
				c.waiting()
			}
			<-k.done
		}
		if !k.ok {
			return nil
		}
		return k.data
	}
	if vc.opens[fk] < 2 {
		c.mu.Unlock()
		return nil // a lone reader reads the file itself
	}
	size := min(chunkSize, fk.size-idx*chunkSize)
	if !c.makeRoom(size) {
		c.mu.Unlock()
		return nil
	}
	k := &chunk{key: key, owner: vc, size: size, done: make(chan struct{})}
	vc.chunks[key] = k
	c.used += size
	c.mu.Unlock()

	buf := make([]byte, size)
	n, err := f.ReadAt(buf, idx*chunkSize)
	ok := n == len(buf) && (err == nil || err == io.EOF)

	c.mu.Lock()
	if ok {
		k.data, k.ok = buf, true
		c.loads++
	}
	if !vc.dropped {
		if ok {
			c.pushFront(k)
			c.makeRoom(0) // the budget may have shrunk meanwhile
		} else {
			delete(vc.chunks, key)
			c.used -= size
		}
	}
	c.mu.Unlock()
	close(k.done)
	if !ok {
		return nil
	}
	return buf
}

// readCached is content.ReadAt through the cache: it has io.ReaderAt's and
// fatfs.File.ReadAt's results (io.EOF exactly when fewer than len(p) bytes
// are read), copying from cached chunks and reading missing ones whole.
func (c *content) readCached(p []byte, off int64) (int, error) {
	size := c.key.size
	if off >= size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off+int64(n) < size {
		pos := off + int64(n)
		idx := pos / chunkSize
		in := pos - idx*chunkSize
		if data := c.v.cache.get(c.f, c.key, idx); data != nil {
			n += copy(p[n:], data[in:])
			continue
		}
		want := int(min(int64(len(p)-n), min(chunkSize, size-idx*chunkSize)-in))
		m, err := c.f.ReadAt(p[n:n+want], pos)
		n += m
		if m < want {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
