package netboot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/image"
)

// slotKey names one boot partition of one image file.
type slotKey struct {
	image     string
	partition int
}

// slot holds the open view of one image partition, shared by every board
// that uses it and by every routing table that names it.
type slot struct {
	key   slotKey
	log   *slog.Logger
	cache *blockCache
	wrap  func(io.ReaderAt) io.ReaderAt // when set (by tests), what the image is read through

	mu      sync.Mutex
	cur     *view // nil until the first request, or after a failure
	retired bool  // no table names the slot any more
}

// fileID tells one version of an image file from another.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

func idOf(st fs.FileInfo) fileID {
	id := fileID{size: st.Size(), mtime: st.ModTime()}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(s.Dev), uint64(s.Ino)
	}
	return id
}

// view is one opened version of an image: the file, its partition table,
// the FAT file system of the partition and the cached chunks of its files.
// It is reference counted: the slot holds one reference while the view is
// current, and every file served from it holds one until its transfer ends.
// The last release drops the cached chunks and closes the file.
type view struct {
	refs  atomic.Int64
	f     *os.File
	id    fileID
	fsys  *fatfs.FS
	cache *viewCache
	log   *slog.Logger
	key   slotKey
}

func (v *view) release() {
	if v.refs.Add(-1) != 0 {
		return
	}
	v.cache.drop()
	if err := v.f.Close(); err != nil {
		v.log.Warn("closing image", "image", v.key.image, "err", err)
	}
}

// imageError is a failure to open a board's boot partition: Client is what
// the TFTP client is told (no host paths), Err the full story for the log.
type imageError struct {
	Client string
	Perm   bool // the image could not be read for lack of permission
	Err    error
}

func (e *imageError) Error() string { return e.Err.Error() }
func (e *imageError) Unwrap() error { return e.Err }

// acquire returns the current view of the slot's image with a reference
// for the caller, opening the image when it is not open yet or when the
// file changed since it was opened.
func (s *slot) acquire() (*view, error) {
	st, err := os.Stat(s.key.image)
	if err != nil {
		s.drop()
		return nil, s.openError(err)
	}
	id := idOf(st)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && s.cur.id == id {
		s.cur.refs.Add(1)
		return s.cur, nil
	}
	v, err := s.open()
	if err != nil {
		return nil, err
	}
	if s.retired {
		v.refs.Store(1) // the caller's only: closed when its transfer ends
		return v, nil
	}
	v.refs.Store(2) // the slot's and the caller's
	old := s.cur
	s.cur = v
	if old != nil {
		s.log.Info("image changed; new requests use the new version, running transfers finish from the old one",
			"image", s.key.image, "partition", s.key.partition)
		old.release()
	}
	return v, nil
}

// drop forgets the current view (the image is gone); transfers using it
// keep it until they end.
func (s *slot) drop() {
	s.mu.Lock()
	old := s.cur
	s.cur = nil
	s.mu.Unlock()
	if old != nil {
		old.release()
	}
}

// retire marks the slot unused by any table and drops its view.
func (s *slot) retire() {
	s.mu.Lock()
	s.retired = true
	old := s.cur
	s.cur = nil
	s.mu.Unlock()
	if old != nil {
		old.release()
	}
}

func (s *slot) openError(err error) error {
	ie := &imageError{Client: "boot image not available", Err: err}
	if errors.Is(err, fs.ErrPermission) {
		ie.Client, ie.Perm = "boot image not readable", true
	}
	return ie
}

// open opens the image file and its partition. It is called with s.mu held.
func (s *slot) open() (*view, error) {
	f, err := os.Open(s.key.image)
	if err != nil {
		return nil, s.openError(err)
	}
	v, err := s.openFile(f)
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return v, nil
}

func (s *slot) openFile(f *os.File) (*view, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, s.openError(err)
	}
	size := st.Size()
	if st.Mode()&fs.ModeDevice != 0 {
		if size, err = f.Seek(0, io.SeekEnd); err != nil {
			return nil, s.openError(fmt.Errorf("%s: size of block device: %w", s.key.image, err))
		}
	}
	if !st.Mode().IsRegular() && st.Mode()&fs.ModeDevice == 0 {
		return nil, &imageError{Client: "boot image not available",
			Err: fmt.Errorf("%s: not a regular file or block device (%v)", s.key.image, st.Mode().Type())}
	}
	var ra io.ReaderAt
	if s.wrap != nil {
		ra = s.wrap(f)
	} else {
		ra = newFileReader(f)
	}
	img, err := image.New(ra, size, s.key.image)
	if err != nil {
		return nil, &imageError{Client: "boot image unreadable", Err: err}
	}
	p, err := img.Partition(s.key.partition)
	if err != nil {
		return nil, &imageError{Client: fmt.Sprintf("partition %d not found in boot image", s.key.partition), Err: err}
	}
	fsys, err := fatfs.New(p.Section(), p.Size, nil)
	if err != nil {
		return nil, &imageError{Client: fmt.Sprintf("partition %d of boot image is not FAT", s.key.partition),
			Err: fmt.Errorf("%v: not a FAT file system: %w", p, err)}
	}
	return &view{f: f, id: idOf(st), fsys: fsys, cache: s.cache.newView(), log: s.log, key: s.key}, nil
}

// content is a file served from a view; closing it releases the view.
type content struct {
	f      *fatfs.File
	v      *view
	key    fileKey
	cached bool // key names the file: its reads go through the view's cache
	closed atomic.Bool
	once   sync.Once
}

func newContent(f *fatfs.File, v *view) *content {
	c := &content{f: f, v: v}
	// An empty file, or one whose entry has no first cluster, is read
	// directly: its key would not tell it from another.
	if st, err := f.Stat(); err == nil && f.Size() > 0 {
		if ei, ok := st.Sys().(*fatfs.EntryInfo); ok && ei.FirstCluster != 0 {
			c.key, c.cached = fileKey{ei.FirstCluster, f.Size()}, true
			v.cache.open(c.key)
		}
	}
	return c
}

// ReadAt reads like fatfs.File.ReadAt, through the view's cache.
func (c *content) ReadAt(p []byte, off int64) (int, error) {
	if !c.cached || off < 0 || c.closed.Load() {
		return c.f.ReadAt(p, off) // errors included
	}
	return c.readCached(p, off)
}

// LendAt implements tftp.Lender: it lends up to n bytes of the file from
// off on, out of the cached chunk holding off (so never past the chunk's
// end), loading that chunk as ReadAt would. It declines when the file is
// not read through the cache, when the content is closed, at or past the
// end of the file, and when the chunk is neither cached nor to be loaded
// (a lone reader, the cache off or full, a failed load): the engine then
// calls ReadAt. A chunk's bytes are written once, before it is published,
// and never again (eviction and the view's end only forget the chunk), so
// a lent slice keeps the bytes the file had when its view was opened.
func (c *content) LendAt(off int64, n int) ([]byte, bool) {
	if !c.cached || off < 0 || off >= c.key.size || n <= 0 || c.closed.Load() {
		return nil, false
	}
	idx := off / chunkSize
	data := c.v.cache.get(c.f, c.key, idx)
	if data == nil {
		return nil, false
	}
	in := int(off - idx*chunkSize)
	end := min(len(data), in+n)
	return data[in:end:end], true
}

func (c *content) Close() error {
	var err error
	c.once.Do(func() {
		c.closed.Store(true)
		if c.cached {
			c.v.cache.close(c.key)
		}
		err = c.f.Close()
		c.v.release()
	})
	return err
}
