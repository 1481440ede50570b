package fatfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// ErrCorrupt is matched (errors.Is) by every *CorruptError.
var ErrCorrupt = errors.New("fatfs: corrupt file system")

// CorruptError reports damage found in a file's or directory's cluster chain
// or directory entry.
type CorruptError struct {
	Path    string // the file or directory, as named in the FS ("." for the root)
	Cluster uint32 // the cluster where the damage was found
	Problem string // what is wrong, e.g. "cluster chain loops"
}

// Error returns e.g. "fatfs: kernel8.img: cluster chain loops at cluster 1234".
func (e *CorruptError) Error() string {
	return fmt.Sprintf("fatfs: %s: %s at cluster %d", e.Path, e.Problem, e.Cluster)
}

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// maxDirSize is the largest directory the specification allows: 65536
// entries of 32 bytes.
const maxDirSize = 65536 * 32

// fat32ChunkSize is the unit in which FAT32 tables are read and cached.
const fat32ChunkSize = 64 << 10

// fat32MaxChunks bounds the FAT32 chunk cache (16 MiB).
const fat32MaxChunks = 256

// volume is a FAT volume's geometry and FAT access: the part of the package
// that knows the on-disk layout and nothing of io/fs. A writer extends it
// with an io.WriterAt.
type volume struct {
	r io.ReaderAt
	g *Geometry

	// fatBytes is the length of the part of the active FAT that holds
	// entries for clusters 0..Clusters+1.
	fatBytes int64
	fatBase  int64 // offset of the active FAT

	// FAT chunks by index: FAT32 tables in chunks of fat32ChunkSize bytes,
	// FAT12/16 tables whole as chunk 0. A writer replaces the table on disk
	// and then drops the chunks it touched (dropFAT); gen counts those drops
	// so that a reader that read the disk before one does not cache what it
	// read.
	mu     sync.Mutex
	chunks map[int64][]byte
	gen    uint64

	// visited holds cleared bitsets of Clusters+2 bits for loop detection;
	// a chain walk clears the bits it set, so its cost follows the chain's
	// length, not the volume's.
	visited sync.Pool
}

func newVolume(r io.ReaderAt, g *Geometry) *volume {
	return &volume{
		r:        r,
		g:        g,
		fatBytes: (int64(g.Clusters+2)*int64(g.Type) + 7) / 8,
		fatBase:  g.FATOffset + int64(g.ActiveFAT)*g.FATSize,
		chunks:   make(map[int64][]byte),
	}
}

// readFull reads len(p) bytes at off of the volume; a short volume is an
// io.ErrUnexpectedEOF.
func (v *volume) readFull(p []byte, off int64) error {
	n, err := v.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("fatfs: reading %d bytes at volume offset %d: %w", len(p), off, err)
}

// fatChunk returns the cached FAT bytes holding byte offset off of the active
// FAT, and the offset of the chunk's first byte.
func (v *volume) fatChunk(off int64) ([]byte, int64, error) {
	size := int64(fat32ChunkSize)
	if v.g.Type != FAT32 {
		size = v.fatBytes
	}
	idx := off / size
	v.mu.Lock()
	b, ok := v.chunks[idx]
	gen := v.gen
	v.mu.Unlock()
	if ok {
		return b, idx * size, nil
	}
	start := idx * size
	n := min(size, v.fatBytes-start)
	b = make([]byte, n)
	if err := v.readFull(b, v.fatBase+start); err != nil {
		return nil, 0, err
	}
	v.mu.Lock()
	if v.gen == gen {
		if len(v.chunks) >= fat32MaxChunks {
			for k := range v.chunks { // evict an arbitrary chunk
				delete(v.chunks, k)
				break
			}
		}
		v.chunks[idx] = b
	}
	v.mu.Unlock()
	return b, start, nil
}

// dropFAT forgets the cached FAT bytes from byte lo to hi of the table,
// after a writer changed them on disk.
func (v *volume) dropFAT(lo, hi int64) {
	size := int64(fat32ChunkSize)
	if v.g.Type != FAT32 {
		size = v.fatBytes
	}
	v.mu.Lock()
	for i := lo / size; i <= (hi-1)/size; i++ {
		delete(v.chunks, i)
	}
	v.gen++
	v.mu.Unlock()
}

// fatCursor reads FAT entries, keeping the current chunk so that walking a
// chain takes no lock per entry.
type fatCursor struct {
	v     *volume
	chunk []byte
	base  int64
}

// next returns the FAT entry of cluster c (a valid data cluster).
func (fc *fatCursor) next(c uint32) (uint32, error) {
	v := fc.v
	var off int64
	switch v.g.Type {
	case FAT12:
		off = int64(c) + int64(c)/2
	case FAT16:
		off = int64(c) * 2
	default:
		off = int64(c) * 4
	}
	width := int64(v.g.Type+7) / 8
	if fc.chunk == nil || off < fc.base || off+width > fc.base+int64(len(fc.chunk)) {
		b, base, err := v.fatChunk(off)
		if err != nil {
			return 0, err
		}
		fc.chunk, fc.base = b, base
	}
	p := fc.chunk[off-fc.base:]
	switch v.g.Type {
	case FAT12:
		e := uint32(binary.LittleEndian.Uint16(p))
		if c&1 == 1 {
			return e >> 4, nil
		}
		return e & 0xFFF, nil
	case FAT16:
		return uint32(binary.LittleEndian.Uint16(p)), nil
	default:
		return binary.LittleEndian.Uint32(p) & 0x0FFFFFFF, nil
	}
}

// entry kinds beyond "next cluster".
func (v *volume) isEOC(e uint32) bool {
	switch v.g.Type {
	case FAT12:
		return e >= 0xFF8
	case FAT16:
		return e >= 0xFFF8
	default:
		return e >= 0x0FFFFFF8
	}
}

func (v *volume) isBad(e uint32) bool {
	switch v.g.Type {
	case FAT12:
		return e == 0xFF7
	case FAT16:
		return e == 0xFFF7
	default:
		return e == 0x0FFFFFF7
	}
}

// extent is a run of contiguous bytes of a file on the volume.
type extent struct {
	fileOff int64
	diskOff int64
	length  int64
}

// appendCluster adds a cluster of size bytes at disk offset diskOff, file
// offset fileOff, to exts: it grows the last extent when the cluster
// follows it on disk.
func appendCluster(exts []extent, fileOff, diskOff, size int64) []extent {
	if k := len(exts); k > 0 && exts[k-1].diskOff+exts[k-1].length == diskOff {
		exts[k-1].length += size
		return exts
	}
	return append(exts, extent{fileOff: fileOff, diskOff: diskOff, length: size})
}

// chain walks the cluster chain from first and maps it to extents.
//
// For a file (size ≥ 0) it walks exactly the clusters the size needs, ignores
// the rest of the chain and trims the last extent to the size. For a
// directory (size < 0) it walks to the end-of-chain mark, up to maxDirSize.
// The returned length is the number of bytes the extents cover.
func (v *volume) chain(name string, first uint32, size int64) ([]extent, int64, error) {
	g := v.g
	cs := int64(g.ClusterSize)
	corrupt := func(c uint32, format string, args ...any) error {
		return &CorruptError{Path: name, Cluster: c, Problem: fmt.Sprintf(format, args...)}
	}
	var need int64 // clusters to walk; 0 means to the end-of-chain mark
	limit := int64(g.Clusters)
	if size >= 0 {
		need = (size + cs - 1) / cs
		if need > int64(g.Clusters) {
			return nil, 0, corrupt(first, "size %d larger than the volume's %d clusters of %d bytes", size, g.Clusters, cs)
		}
		if need == 0 {
			return nil, 0, nil
		}
	} else {
		limit = min(limit, (maxDirSize+cs-1)/cs)
	}
	if !g.validCluster(first) {
		return nil, 0, corrupt(first, "first cluster outside the data area 2..%d", g.Clusters+1)
	}
	visited, _ := v.visited.Get().([]uint64)
	if visited == nil {
		visited = make([]uint64, (int64(g.Clusters)+2+63)/64)
	}
	var exts []extent
	defer func() {
		// Every visited cluster is in exts (before any trimming).
		for _, e := range exts {
			c := uint32((e.diskOff-g.DataOffset)/cs) + 2
			for k := int64(0); k < e.length; k += cs {
				visited[c/64] = 0
				c++
			}
		}
		v.visited.Put(visited)
	}()
	fc := fatCursor{v: v}
	var total int64
	c := first
	for n := int64(1); ; n++ {
		if visited[c/64]&(1<<(c%64)) != 0 {
			return nil, 0, corrupt(c, "cluster chain loops")
		}
		visited[c/64] |= 1 << (c % 64)
		exts = appendCluster(exts, total, g.clusterOffset(c), cs)
		total += cs
		if n == need {
			break
		}
		e, err := fc.next(c)
		if err != nil {
			return nil, 0, err
		}
		switch {
		case v.isEOC(e):
			if size >= 0 {
				return nil, 0, corrupt(c, "cluster chain ends after %d of the %d clusters that size %d needs", n, need, size)
			}
			return exts, total, nil
		case e == 0:
			return nil, 0, corrupt(c, "cluster chain reaches a free FAT entry")
		case e == 1:
			return nil, 0, corrupt(c, "cluster chain reaches a reserved FAT entry")
		case v.isBad(e):
			return nil, 0, corrupt(c, "cluster chain reaches a bad-cluster mark")
		case e > g.Clusters+1:
			return nil, 0, corrupt(c, "cluster chain points past the end of the volume (to %d)", e)
		}
		if n >= limit {
			if size < 0 && limit < int64(g.Clusters) {
				return nil, 0, corrupt(c, "directory larger than %d bytes", maxDirSize)
			}
			return nil, 0, corrupt(c, "cluster chain longer than the volume's %d clusters", g.Clusters)
		}
		c = e
	}
	if size >= 0 {
		// Trim the last extent to the size (a copy: the deferred clearing
		// needs the untrimmed lengths).
		out := slices.Clone(exts)
		out[len(out)-1].length -= total - size
		return out, size, nil
	}
	return exts, total, nil
}

// readExtents reads into p from byte off of a file mapped by exts (which
// cover size bytes), one underlying read per extent touched.
func (v *volume) readExtents(exts []extent, size int64, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("fatfs: negative offset")
	}
	if off >= size {
		return 0, io.EOF
	}
	want := len(p)
	if rem := size - off; int64(want) > rem {
		want = int(rem)
	}
	// Binary search for the extent holding off.
	lo, hi := 0, len(exts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if exts[m].fileOff+exts[m].length <= off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	n := 0
	for i := lo; n < want && i < len(exts); i++ {
		e := &exts[i]
		in := off + int64(n) - e.fileOff
		k := int(min(int64(want-n), e.length-in))
		if err := v.readFull(p[n:n+k], e.diskOff+in); err != nil {
			return n, err
		}
		n += k
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
