package fatfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"
)

// maxFileSize is the largest size a directory entry can hold.
const maxFileSize = 0xFFFFFFFF

// nodeKey names a directory entry: its directory's first cluster (0 for the
// FAT12/16 fixed root) and the slot of its 8.3 entry.
type nodeKey struct {
	dir  uint32
	slot int
}

// node is a file open for writing, shared by every File open on it.
type node struct {
	key      nodeKey
	dirPath  string // the directory, for errors
	name     string
	detached bool // removed while open

	attr     Attr
	first    uint32
	size     int64
	clusters []uint32 // the whole chain (may be longer than size needs)
	exts     []extent // of clusters; nil when stale
	mtime    time.Time
	info     EntryInfo
	refs     int
}

// wstate is the write side of a File opened with OpenFile.
type wstate struct {
	fs   *FS
	n    *node
	flag int
}

// nodeExtents returns the node's extents, rebuilt when stale.
func (w *writer) nodeExtents(n *node) []extent {
	if n.exts == nil && len(n.clusters) > 0 {
		n.exts = w.extentsOf(n.clusters)
	}
	return n.exts
}

// Create creates or truncates the named file for reading and writing, like
// os.Create.
func (f *FS) Create(name string) (*File, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// OpenFile opens the named file with the os package's flags (O_RDONLY,
// O_WRONLY or O_RDWR, and O_CREATE, O_EXCL, O_TRUNC, O_APPEND; others are
// ignored). perm matters only when the file is created, and only its write
// bits: none sets the read-only attribute. Writing a read-only file, or
// opening a directory, gives an error (fs.ErrPermission, "is a
// directory"). On an FS from New any flag asking for writing gives
// ErrReadOnly.
//
// The returned File reads what has been written through any File on the
// same entry. Every Write, WriteAt and Truncate reaches the volume before it
// returns: data first, then the FAT (all copies), then the directory entry
// with the new size and modification time.
func (f *FS) OpenFile(name string, flag int, perm fs.FileMode) (*File, error) {
	writing := flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0
	if f.w == nil {
		if writing {
			return nil, &fs.PathError{Op: "open", Path: name, Err: ErrReadOnly}
		}
		fl, err := f.Open(name)
		if err != nil {
			return nil, err
		}
		if file, ok := fl.(*File); ok {
			return file, nil
		}
		fl.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: errIsDir}
	}
	w, err := f.lockW("open", name)
	if err != nil {
		return nil, err
	}
	defer w.mu.Unlock()
	pe := func(err error) error { return &fs.PathError{Op: "open", Path: name, Err: err} }
	parent, base, e, err := w.walk("open", name)
	if err != nil {
		return nil, err
	}
	canWrite := flag&(os.O_WRONLY|os.O_RDWR) != 0
	var n *node
	if e != nil {
		if flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL {
			return nil, pe(fs.ErrExist)
		}
		if e.attr.IsDir() {
			return nil, pe(errIsDir)
		}
		if e.attr.ReadOnly() && (canWrite || flag&os.O_TRUNC != 0) {
			return nil, pe(fs.ErrPermission)
		}
		n, err = w.node(parent, e)
		if err != nil {
			return nil, pe(err)
		}
	} else {
		if flag&os.O_CREATE == 0 {
			return nil, pe(fs.ErrNotExist)
		}
		short, nt, err := w.newEntryName(parent, base)
		if err != nil {
			return nil, pe(err)
		}
		attr := AttrArchive
		if perm&0o222 == 0 {
			attr |= AttrReadOnly
		}
		slot, err := w.addEntry(parent, base, w.newShort(short, nt, attr, 0, 0, w.now()))
		if err != nil {
			return nil, pe(err)
		}
		if n, err = w.node(parent, parent.entryAt(slot)); err != nil {
			return nil, pe(err)
		}
	}
	n.refs++
	file := &File{v: f.v, path: name, ws: &wstate{fs: f, n: n, flag: flag}}
	if flag&os.O_TRUNC != 0 && canWrite && n.size > 0 {
		if err := w.truncate(n, 0); err != nil {
			w.release(n)
			return nil, pe(err)
		}
	}
	return file, nil
}

// node returns the shared node of entry e of parent, making it.
func (w *writer) node(parent *wdir, e *entry) (*node, error) {
	if e == nil {
		return nil, errors.New("fatfs: internal error: new entry not found")
	}
	k := nodeKey{parent.first, e.slot}
	if n, ok := w.nodes[k]; ok {
		return n, nil
	}
	p := path.Join(parent.path, e.name)
	cs, err := w.fat.chain(p, e.first, (e.size+int64(w.fs.v.g.ClusterSize)-1)/int64(w.fs.v.g.ClusterSize))
	if err != nil {
		return nil, err
	}
	n := &node{key: k, dirPath: parent.path, name: e.name, attr: e.attr, first: e.first, size: e.size, clusters: cs, mtime: e.mtime, info: e.info}
	w.nodes[k] = n
	return n, nil
}

// release drops a File's reference to its node; the last one forgets the
// node and frees a detached node's clusters.
func (w *writer) release(n *node) error {
	n.refs--
	if n.refs > 0 {
		return nil
	}
	if n.detached {
		for i, d := range w.detached {
			if d == n {
				w.detached = append(w.detached[:i], w.detached[i+1:]...)
				break
			}
		}
		w.fat.freeChain(n.clusters)
		n.clusters, n.exts = nil, nil
		return w.flushFAT()
	}
	if w.nodes[n.key] == n {
		delete(w.nodes, n.key)
	}
	return nil
}

// updateEntry writes the node's first cluster, size and modification time
// (now) to its directory entry, and sets the archive bit.
func (w *writer) updateEntry(n *node) error {
	n.mtime = w.now().In(w.fs.loc).Truncate(2 * time.Second)
	if n.detached {
		return nil
	}
	d, err := w.loadDir(n.dirPath, n.key.dir)
	if err != nil {
		return err
	}
	s := d.raw[n.key.slot*32 : n.key.slot*32+32]
	setFirst(s, n.first)
	binary.LittleEndian.PutUint32(s[28:], uint32(n.size))
	date, tm, _ := fatDateTime(n.mtime, w.fs.loc)
	binary.LittleEndian.PutUint16(s[22:], tm)
	binary.LittleEndian.PutUint16(s[24:], date)
	s[11] |= byte(AttrArchive)
	n.attr |= AttrArchive
	if err := w.writeSlots(d, n.key.slot, n.key.slot+1); err != nil {
		return err
	}
	if e := d.entryAt(n.key.slot); e != nil {
		n.mtime, n.info = e.mtime, e.info
	}
	return nil
}

// zeros is a buffer of zero bytes for filling gaps.
var zeros = make([]byte, 64<<10)

// writeAt writes p at off of the node's file, growing it.
func (w *writer) writeAt(n *node, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fs.ErrInvalid
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := off + int64(len(p))
	if end > maxFileSize {
		return 0, fmt.Errorf("fatfs: %d bytes, more than a FAT file holds: %w", end, syscall.EFBIG)
	}
	if err := w.markDirty(); err != nil {
		return 0, err
	}
	oldFirst, oldClusters, oldSize := n.first, n.clusters, n.size
	if err := w.grow(n, end); err != nil {
		return 0, err
	}
	exts := w.nodeExtents(n)
	err := func() error {
		for z := oldSize; z < off; {
			k := min(int64(len(zeros)), off-z)
			if err := w.writeExtents(exts, zeros[:k], z); err != nil {
				return err
			}
			z += k
		}
		return w.writeExtents(exts, p, off)
	}()
	if err != nil {
		w.fat.undo()
		n.first, n.clusters, n.exts = oldFirst, oldClusters, nil
		return 0, err
	}
	if err := w.flushFAT(); err != nil {
		return 0, err
	}
	if end > n.size {
		n.size = end
	}
	if err := w.updateEntry(n); err != nil {
		return 0, err
	}
	return len(p), nil
}

// grow makes sure the node has the clusters for size bytes (in memory
// only: the caller writes the data, then flushes the FAT).
func (w *writer) grow(n *node, size int64) error {
	cs := int64(w.fs.v.g.ClusterSize)
	need := (size + cs - 1) / cs
	have := int64(len(n.clusters))
	if need <= have {
		return nil
	}
	var after uint32
	if have > 0 {
		after = n.clusters[have-1]
	}
	added, err := w.fat.alloc(path.Join(n.dirPath, n.name), int(need-have), after)
	if err != nil {
		return err
	}
	// The old slice header stays valid for undo: appending never changes
	// the elements it covers.
	n.clusters = append(n.clusters, added...)
	if n.first == 0 {
		n.first = added[0]
	}
	if n.exts != nil || have == 0 {
		n.exts = w.appendExtents(n.exts, have, added)
	}
	return nil
}

// truncate changes the node's size. Shrinking writes the directory entry
// first and then frees the clusters no longer needed; growing writes zeros.
func (w *writer) truncate(n *node, size int64) error {
	if size < 0 {
		return fs.ErrInvalid
	}
	if size > maxFileSize {
		return fmt.Errorf("fatfs: %d bytes, more than a FAT file holds: %w", size, syscall.EFBIG)
	}
	if err := w.markDirty(); err != nil {
		return err
	}
	if size > n.size {
		oldFirst, oldClusters, oldSize := n.first, n.clusters, n.size
		if err := w.grow(n, size); err != nil {
			return err
		}
		exts := w.nodeExtents(n)
		for z := oldSize; z < size; {
			k := min(int64(len(zeros)), size-z)
			if err := w.writeExtents(exts, zeros[:k], z); err != nil {
				w.fat.undo()
				n.first, n.clusters, n.exts = oldFirst, oldClusters, nil
				return err
			}
			z += k
		}
		if err := w.flushFAT(); err != nil {
			return err
		}
		n.size = size
		return w.updateEntry(n)
	}
	cs := int64(w.fs.v.g.ClusterSize)
	keep := (size + cs - 1) / cs
	cut := n.clusters[keep:]
	n.size = size
	n.clusters = n.clusters[:keep:keep]
	n.exts = nil
	if keep == 0 {
		n.first = 0
	}
	if err := w.updateEntry(n); err != nil {
		return err
	}
	if len(cut) == 0 {
		return nil
	}
	if keep > 0 {
		w.fat.set(n.clusters[keep-1], w.fat.eoc())
	}
	w.fat.freeChain(cut)
	return w.flushFAT()
}

// wlock checks that the File may be used, and returns its writer locked.
func (f *File) wlock(op string) (*writer, error) {
	if f.closed.Load() {
		return nil, &fs.PathError{Op: op, Path: f.path, Err: fs.ErrClosed}
	}
	return f.ws.fs.lockW(op, f.path)
}

// wlockWritable is wlock for an operation that changes the file's content:
// it fails on a file of a read-only FS or one not opened for writing.
func (f *File) wlockWritable(op string) (*writer, error) {
	if f.ws == nil {
		return nil, &fs.PathError{Op: op, Path: f.path, Err: ErrReadOnly}
	}
	w, err := f.wlock(op)
	if err != nil {
		return nil, err
	}
	if f.ws.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		w.mu.Unlock()
		return nil, &fs.PathError{Op: op, Path: f.path, Err: fs.ErrPermission}
	}
	return w, nil
}

// Write writes p at the current offset (at the end with O_APPEND) and
// advances it. A write that does not fit on the volume writes nothing and
// returns an error wrapping syscall.ENOSPC; the file keeps what it had.
func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, err := f.wlockWritable("write")
	if err != nil {
		return 0, err
	}
	defer w.mu.Unlock()
	off := f.off
	if f.ws.flag&os.O_APPEND != 0 {
		off = f.ws.n.size
	}
	n, err := w.writeAt(f.ws.n, p, off)
	f.off = off + int64(n)
	if err != nil {
		return n, &fs.PathError{Op: "write", Path: f.path, Err: err}
	}
	return n, nil
}

// WriteString is Write of a string.
func (f *File) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

// WriteAt writes p at off, growing the file (a gap reads as zeros), like
// os.File.WriteAt: it fails on a file opened with O_APPEND. Errors are as
// for Write.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	w, err := f.wlockWritable("write")
	if err != nil {
		return 0, err
	}
	defer w.mu.Unlock()
	if f.ws.flag&os.O_APPEND != 0 {
		return 0, &fs.PathError{Op: "write", Path: f.path, Err: errors.New("WriteAt on a file opened with O_APPEND")}
	}
	n, err := w.writeAt(f.ws.n, p, off)
	if err != nil {
		return n, &fs.PathError{Op: "write", Path: f.path, Err: err}
	}
	return n, nil
}

// Truncate changes the file's size; growing fills with zeros, shrinking
// frees the clusters no longer needed. The offset is not changed.
func (f *File) Truncate(size int64) error {
	w, err := f.wlockWritable("truncate")
	if err != nil {
		return err
	}
	defer w.mu.Unlock()
	if err := w.truncate(f.ws.n, size); err != nil {
		return &fs.PathError{Op: "truncate", Path: f.path, Err: err}
	}
	return nil
}

// Sync is FS.Sync.
func (f *File) Sync() error {
	if f.ws == nil {
		return nil
	}
	if f.closed.Load() {
		return &fs.PathError{Op: "sync", Path: f.path, Err: fs.ErrClosed}
	}
	return f.ws.fs.Sync()
}

func (f *File) wreadAt(p []byte, off int64) (int, error) {
	w, err := f.wlock("read")
	if err != nil {
		return 0, err
	}
	defer w.mu.Unlock()
	if f.ws.flag&os.O_WRONLY != 0 {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: fs.ErrPermission}
	}
	n := f.ws.n
	c, err := f.v.readExtents(w.nodeExtents(n), n.size, p, off)
	if err != nil && err != io.EOF {
		err = &fs.PathError{Op: "read", Path: f.path, Err: err}
	}
	return c, err
}

func (f *File) wsize() int64 {
	w := f.ws.fs.w
	w.mu.Lock()
	defer w.mu.Unlock()
	return f.ws.n.size
}

func (f *File) wstat() (fs.FileInfo, error) {
	w := f.ws.fs.w
	w.mu.Lock()
	defer w.mu.Unlock()
	n := f.ws.n
	info := n.info
	info.Attr, info.FirstCluster = n.attr, n.first
	return &fileInfo{e: &entry{name: n.name, short: info.ShortName, attr: n.attr, first: n.first, size: n.size, mtime: n.mtime, info: info}}, nil
}

func (f *File) wclose() error {
	w := f.ws.fs.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	if err := w.release(f.ws.n); err != nil {
		return &fs.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}
