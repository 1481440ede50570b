package fatfs

import (
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
)

// File is an open regular file of an *FS. Its ReadAt is safe for concurrent
// use; Read, Write and Seek share an offset. Files from FS.Open are
// read-only; those from OpenFile and Create on a writable FS also write
// (Write, WriteAt, WriteString, Truncate, Sync).
type File struct {
	v      *volume
	info   *fileInfo
	path   string
	exts   []extent
	size   int64
	closed atomic.Bool

	mu  sync.Mutex
	off int64

	ws *wstate // for files opened with OpenFile on a writable FS
}

// Stat returns the file's fs.FileInfo.
func (f *File) Stat() (fs.FileInfo, error) {
	if f.closed.Load() {
		return nil, &fs.PathError{Op: "stat", Path: f.path, Err: fs.ErrClosed}
	}
	if f.ws != nil {
		return f.wstat()
	}
	return f.info, nil
}

// Size returns the file's size in bytes.
func (f *File) Size() int64 {
	if f.ws != nil {
		return f.wsize()
	}
	return f.size
}

// Read reads from the current offset.
func (f *File) Read(p []byte) (int, error) {
	if f.closed.Load() {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: fs.ErrClosed}
	}
	if f.ws != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		n, err := f.wreadAt(p, f.off)
		f.off += int64(n)
		return n, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.v.readExtents(f.exts, f.size, p, f.off)
	f.off += int64(n)
	if err != nil && err != io.EOF {
		err = &fs.PathError{Op: "read", Path: f.path, Err: err}
	}
	return n, err
}

// ReadAt reads len(p) bytes at off, one read of the underlying io.ReaderAt
// per contiguous extent touched. Reading at or past the end returns io.EOF.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if f.closed.Load() {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: fs.ErrClosed}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: fs.ErrInvalid}
	}
	if f.ws != nil {
		return f.wreadAt(p, off)
	}
	n, err := f.v.readExtents(f.exts, f.size, p, off)
	if err != nil && err != io.EOF {
		err = &fs.PathError{Op: "read", Path: f.path, Err: err}
	}
	return n, err
}

// Seek sets the offset for the next Read or Write.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	if f.closed.Load() {
		return 0, &fs.PathError{Op: "seek", Path: f.path, Err: fs.ErrClosed}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.Size()
	default:
		return 0, &fs.PathError{Op: "seek", Path: f.path, Err: fs.ErrInvalid}
	}
	if offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.path, Err: fs.ErrInvalid}
	}
	f.off = offset
	return offset, nil
}

// Close closes the file; later calls fail with fs.ErrClosed. Closing the
// last File on a file that was removed while open frees its clusters.
func (f *File) Close() error {
	if f.closed.Swap(true) {
		return &fs.PathError{Op: "close", Path: f.path, Err: fs.ErrClosed}
	}
	if f.ws != nil {
		return f.wclose()
	}
	return nil
}

// dirFile is an open directory: an fs.ReadDirFile listing in directory order.
type dirFile struct {
	fs      *FS
	info    *fileInfo
	path    string
	entries []*entry
	closed  atomic.Bool

	mu  sync.Mutex
	pos int
}

func (d *dirFile) Stat() (fs.FileInfo, error) {
	if d.closed.Load() {
		return nil, &fs.PathError{Op: "stat", Path: d.path, Err: fs.ErrClosed}
	}
	return d.info, nil
}

func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.path, Err: errIsDir}
}

func (d *dirFile) Close() error {
	if d.closed.Swap(true) {
		return &fs.PathError{Op: "close", Path: d.path, Err: fs.ErrClosed}
	}
	return nil
}

// ReadDir returns the next n entries (all remaining if n ≤ 0), with the
// semantics fs.ReadDirFile requires.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.closed.Load() {
		return nil, &fs.PathError{Op: "readdir", Path: d.path, Err: fs.ErrClosed}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	rest := len(d.entries) - d.pos
	if n > 0 && rest == 0 {
		return nil, io.EOF
	}
	if n <= 0 || n > rest {
		n = rest
	}
	out := make([]fs.DirEntry, n)
	for i := range out {
		out[i] = d.fs.info(d.entries[d.pos+i])
	}
	d.pos += n
	return out, nil
}
