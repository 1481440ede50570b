package fatfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ReadWriterAt is what NewRW writes through: an *os.File, or any
// io.ReaderAt that is also an io.WriterAt. If it has a Sync() error method,
// FS.Sync and FS.Close call it.
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// ErrReadOnly is the error (wrapped in an *fs.PathError) of a write to an
// FS opened with New. It matches fs.ErrPermission and syscall.EROFS.
var ErrReadOnly error = readOnlyError{}

type readOnlyError struct{}

func (readOnlyError) Error() string { return "read-only file system" }
func (readOnlyError) Is(target error) bool {
	return target == fs.ErrPermission || target == syscall.EROFS
}

// errNotEmpty is the error of removing a directory that is not empty.
// syscall.ENOTEMPTY matches fs.ErrExist, as POSIX tools expect.
var errNotEmpty error = syscall.ENOTEMPTY

// writer is the write side of an FS opened with NewRW.
type writer struct {
	fs *FS
	rw ReadWriterAt

	mu        sync.Mutex // serialises every write and every access below
	fat       *fatTable
	fatCopies []int64 // offsets of the FATs written to
	fsInfo    int64   // offset of the FSInfo sector; -1 without one
	infoFree  uint32  // the free count and hint FSInfo holds
	infoNext  uint32
	dirs      map[uint32]*wdir
	nodes     map[nodeKey]*node
	detached  []*node // removed while open: freed on their last Close
	markedOut bool    // the clean-shutdown bit is cleared on disk
	wasDirty  bool    // it was cleared when we opened: leave it so
	closed    bool
	now       func() time.Time
}

// NewRW opens the FAT volume of size bytes in rw for reading and writing.
// The returned FS reads like one from New and also has the write methods
// (OpenFile, Create, WriteFile, Mkdir, MkdirAll, Remove, RemoveAll, Rename,
// Chtimes, Sync, Close). It reads the whole FAT into memory (4 bytes per
// cluster) and counts the free clusters. Call Close (or Sync) when done:
// it marks the volume clean again.
func NewRW(rw ReadWriterAt, size int64, opts *Options) (*FS, error) {
	f, err := New(rw, size, opts)
	if err != nil {
		return nil, err
	}
	g := f.v.g
	w := &writer{
		fs:     f,
		rw:     rw,
		fsInfo: -1,
		dirs:   make(map[uint32]*wdir),
		nodes:  make(map[nodeKey]*node),
		now:    time.Now,
	}
	if opts != nil && opts.Now != nil {
		w.now = opts.Now
	}
	boot := make([]byte, 512)
	if err := f.v.readFull(boot, 0); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	if g.Type == FAT32 && le.Uint16(boot[40:])&0x80 != 0 {
		w.fatCopies = []int64{g.FATOffset + int64(g.ActiveFAT)*g.FATSize}
	} else {
		for i := 0; i < g.NumFATs; i++ {
			w.fatCopies = append(w.fatCopies, g.FATOffset+int64(i)*g.FATSize)
		}
	}
	if w.fat, err = loadFAT(f.v); err != nil {
		return nil, err
	}
	if g.Type == FAT32 {
		if s := int64(le.Uint16(boot[48:])); s > 0 && s < int64(g.ReservedSectors) {
			info := make([]byte, g.BytesPerSector)
			off := s * int64(g.BytesPerSector)
			if err := f.v.readFull(info, off); err != nil {
				return nil, err
			}
			if le.Uint32(info[0:]) == fsInfoLead && le.Uint32(info[484:]) == fsInfoStruct && le.Uint32(info[508:]) == fsInfoTrail {
				w.fsInfo = off
				w.infoFree, w.infoNext = le.Uint32(info[488:]), le.Uint32(info[492:])
				if h := w.infoNext; g.validCluster(h) {
					w.fat.hint = h
				}
			}
		}
	}
	if bit := w.cleanBit(); bit != 0 && w.fat.get(1)&bit == 0 {
		w.wasDirty = true
	}
	f.w = w
	return f, nil
}

// cleanBit is the clean-shutdown bit of FAT[1] (0 on FAT12, which has none).
func (w *writer) cleanBit() uint32 {
	switch w.fs.v.g.Type {
	case FAT16:
		return 0x8000
	case FAT32:
		return 0x08000000
	}
	return 0
}

// markDirty clears the clean-shutdown bit on disk before the first change
// after NewRW or Sync.
func (w *writer) markDirty() error {
	if w.markedOut {
		return nil
	}
	if bit := w.cleanBit(); bit != 0 && !w.wasDirty {
		w.fat.set(1, w.fat.get(1)&^bit)
		if err := w.flushFAT(); err != nil {
			return err
		}
	}
	w.markedOut = true
	return nil
}

// writeFSInfo records the free count and next-free hint in FSInfo when
// they changed.
func (w *writer) writeFSInfo() error {
	if w.fsInfo < 0 {
		return nil
	}
	free, next := w.fat.free, w.fat.hint
	if free == w.infoFree && next == w.infoNext {
		return nil
	}
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, free)
	binary.LittleEndian.PutUint32(b[4:], next)
	if _, err := w.rw.WriteAt(b, w.fsInfo+488); err != nil {
		return fmt.Errorf("fatfs: writing FSInfo: %w", err)
	}
	w.infoFree, w.infoNext = free, next
	return nil
}

// invalidateDir drops the reader's parsed copy of a directory.
func (f *FS) invalidateDir(first uint32) {
	f.mu.Lock()
	delete(f.dirs, first)
	f.gen++
	f.mu.Unlock()
}

// invalidateFiles drops the reader's extent maps after cluster chains
// changed.
func (f *FS) invalidateFiles() {
	f.mu.Lock()
	clear(f.files)
	f.gen++
	f.mu.Unlock()
}

// lockW takes the write lock for an operation, failing on a read-only or
// closed FS.
func (f *FS) lockW(op, name string) (*writer, error) {
	w := f.w
	if w == nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: ErrReadOnly}
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrClosed}
	}
	// Bound the directory cache between operations, never during one:
	// an operation relies on one *wdir per directory.
	if len(w.dirs) >= cacheLimit {
		clear(w.dirs)
	}
	return w, nil
}

// Sync makes the volume consistent on disk: every write is already there
// (writes go straight through), so Sync marks the volume clean (FAT[1]'s
// clean-shutdown bit on FAT16 and FAT32; unless it was dirty when opened),
// updates FSInfo and calls rw's Sync method if it has one. The next write
// marks it dirty again. With nothing written since NewRW or the last Sync,
// Sync writes nothing (so an FS over a writer that refuses every write can
// be read, synced and closed).
func (f *FS) Sync() error {
	w, err := f.lockW("sync", ".")
	if err != nil {
		return err
	}
	defer w.mu.Unlock()
	return w.sync()
}

func (w *writer) sync() error {
	if !w.markedOut {
		return nil // nothing written since NewRW or the last Sync
	}
	if err := w.flushFAT(); err != nil {
		return err
	}
	if bit := w.cleanBit(); bit != 0 && !w.wasDirty {
		w.fat.set(1, w.fat.get(1)|bit)
		if err := w.flushFAT(); err != nil {
			return err
		}
	}
	w.markedOut = false
	if err := w.writeFSInfo(); err != nil {
		return err
	}
	if s, ok := w.rw.(interface{ Sync() error }); ok {
		if err := s.Sync(); err != nil {
			return fmt.Errorf("fatfs: sync: %w", err)
		}
	}
	return nil
}

// Close frees the clusters of files removed while open, syncs (see Sync)
// and makes every later write, and every operation on files open for
// writing, fail with fs.ErrClosed. Reading through the FS still works.
// Close of a read-only FS does nothing.
func (f *FS) Close() error {
	if f.w == nil {
		return nil
	}
	w, err := f.lockW("close", ".")
	if err != nil {
		return err
	}
	defer w.mu.Unlock()
	for _, n := range w.detached {
		w.fat.freeChain(n.clusters)
		n.clusters = nil
	}
	w.detached = nil
	err = w.sync()
	w.closed = true
	return err
}

// Dirty reports whether the volume is marked dirty on disk (FAT[1]'s
// clean-shutdown bit cleared), as it is from the first write until Sync or
// Close. FAT12 has no such bit: always false.
func (f *FS) Dirty() bool {
	if f.w == nil {
		return false
	}
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	bit := f.w.cleanBit()
	return bit != 0 && f.w.fat.get(1)&bit == 0
}

// FreeClusters returns the count of free data clusters (a writable FS
// only; -1 on a read-only one).
func (f *FS) FreeClusters() int64 {
	if f.w == nil {
		return -1
	}
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	return int64(f.w.fat.free)
}

// walk resolves a path for writing: the directory that holds its last
// element, that element's name, and its entry (nil if absent). name must
// not be ".".
func (w *writer) walk(op, name string) (*wdir, string, *entry, error) {
	if !fs.ValidPath(name) || name == "." {
		return nil, "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	d, err := w.loadDir(".", w.rootKey())
	if err != nil {
		return nil, "", nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	dir := "."
	for rest := name; ; {
		elem, more, _ := strings.Cut(rest, "/")
		e := d.lookup(elem)
		if more == "" {
			return d, elem, e, nil
		}
		if e == nil {
			return nil, "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if !e.attr.IsDir() {
			return nil, "", nil, &fs.PathError{Op: op, Path: name, Err: errNotDir}
		}
		dir = path.Join(dir, e.name)
		if d, err = w.loadDir(dir, e.first); err != nil {
			return nil, "", nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		rest = more
	}
}

// newEntryName checks a name about to be created in parent, returns its
// 8.3 name and NT case bits, and marks the volume dirty: the first step of
// every creation.
func (w *writer) newEntryName(parent *wdir, base string) ([11]byte, byte, error) {
	if err := checkName(base); err != nil {
		return [11]byte{}, 0, err
	}
	short, nt, err := entryName(parent, base)
	if err != nil {
		return [11]byte{}, 0, err
	}
	return short, nt, w.markDirty()
}

// entryName returns the 8.3 name and NT case bits to store for a new name,
// unique in d.
func entryName(d *wdir, name string) ([11]byte, byte, error) {
	if short, nt, ok := fits83(name); ok {
		return short, nt, nil
	}
	short, err := shortAlias(name, d.shortTaken)
	return short, 0, err
}

// Mkdir makes a directory. perm is ignored but for its write bits: none
// sets the read-only attribute. An existing name is an error matching
// fs.ErrExist.
func (f *FS) Mkdir(name string, perm fs.FileMode) error {
	w, err := f.lockW("mkdir", name)
	if err != nil {
		return err
	}
	defer w.mu.Unlock()
	_, err = w.mkdir(name, perm)
	return err
}

func (w *writer) mkdir(name string, perm fs.FileMode) (*wdir, error) {
	pe := func(err error) error { return &fs.PathError{Op: "mkdir", Path: name, Err: err} }
	parent, base, e, err := w.walk("mkdir", name)
	if err != nil {
		return nil, err
	}
	if e != nil {
		return nil, pe(fs.ErrExist)
	}
	short, nt, err := w.newEntryName(parent, base)
	if err != nil {
		return nil, pe(err)
	}
	// Make sure the parent has room before taking the cluster, so that a
	// full directory leaves nothing behind.
	lfn := 0
	if _, _, ok := fits83(base); !ok {
		lfn = len(lfnEntries(base, short))
	}
	if _, err := w.freeRun(parent, lfn+1); err != nil {
		return nil, pe(err)
	}
	now := w.now()
	cs, err := w.fat.alloc("mkdir "+name, 1, 0)
	if err != nil {
		return nil, pe(err)
	}
	c := cs[0]
	g := w.fs.v.g
	buf := make([]byte, g.ClusterSize)
	attr := AttrDirectory
	if perm&0o222 == 0 {
		attr |= AttrReadOnly
	}
	dotdot := parent.first
	if dotdot == w.fs.v.g.RootCluster {
		dotdot = 0 // ".." of a child of the root is 0, even on FAT32
	}
	copy(buf, w.newShort(pack11(".", ""), 0, AttrDirectory, c, 0, now))
	copy(buf[32:], w.newShort(pack11("..", ""), 0, AttrDirectory, dotdot, 0, now))
	if _, err := w.rw.WriteAt(buf, g.clusterOffset(c)); err != nil {
		w.fat.undo()
		return nil, pe(fmt.Errorf("fatfs: writing cluster %d: %w", c, err))
	}
	if err := w.flushFAT(); err != nil {
		return nil, pe(err)
	}
	if _, err := w.addEntry(parent, base, w.newShort(short, nt, attr, c, 0, now)); err != nil {
		w.fat.set(c, 0)
		return nil, pe(errors.Join(err, w.flushFAT()))
	}
	delete(w.dirs, c)
	return w.loadDir(path.Join(parent.path, base), c)
}

// MkdirAll makes a directory and any missing parents; it is not an error
// if the directory exists.
func (f *FS) MkdirAll(name string, perm fs.FileMode) error {
	w, err := f.lockW("mkdir", name)
	if err != nil {
		return err
	}
	defer w.mu.Unlock()
	if name == "." {
		return nil
	}
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrInvalid}
	}
	elems := strings.Split(name, "/")
	for i := range elems {
		p := strings.Join(elems[:i+1], "/")
		_, _, e, err := w.walk("mkdir", p)
		if err != nil {
			return err
		}
		if e != nil {
			if !e.attr.IsDir() {
				return &fs.PathError{Op: "mkdir", Path: p, Err: errNotDir}
			}
			continue
		}
		if _, err := w.mkdir(p, perm); err != nil {
			return err
		}
	}
	return nil
}

// Remove removes a file or an empty directory. A directory that is not
// empty gives an error wrapping syscall.ENOTEMPTY (which matches
// fs.ErrExist, as for os.Remove). The directory entry is cleared before
// the clusters are freed. A file that is open is removed from its
// directory at once and its clusters freed when the last File on it is
// closed (or the FS is).
func (f *FS) Remove(name string) error {
	w, err := f.lockW("remove", name)
	if err != nil {
		return err
	}
	defer w.mu.Unlock()
	parent, _, e, err := w.walk("remove", name)
	if err != nil {
		return err
	}
	if e == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if err := w.remove(parent, e, name); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}

// remove removes entry e of parent.
func (w *writer) remove(parent *wdir, e *entry, name string) error {
	var chain []uint32
	if e.attr.IsDir() {
		d, err := w.loadDir(name, e.first)
		if err != nil {
			return err
		}
		if !d.isEmpty() {
			return errNotEmpty
		}
	}
	if err := w.markDirty(); err != nil {
		return err
	}
	if e.first != 0 {
		var err error
		if chain, err = w.fat.chain(name, e.first, 0); err != nil {
			return err
		}
	}
	if err := w.deleteEntry(parent, e.slot, e.lfnSlots); err != nil {
		return err
	}
	if e.attr.IsDir() {
		delete(w.dirs, e.first)
		w.fs.invalidateDir(e.first)
	}
	if n := w.nodes[nodeKey{parent.first, e.slot}]; n != nil {
		w.detach(n)
		return nil // freed on the last Close
	}
	w.fat.freeChain(chain)
	return w.flushFAT()
}

// detach unlinks an open file's node from its (removed) directory entry.
func (w *writer) detach(n *node) {
	delete(w.nodes, n.key)
	n.detached = true
	w.detached = append(w.detached, n)
}

// RemoveAll removes name and everything under it; a missing name is not an
// error.
func (f *FS) RemoveAll(name string) error {
	w, err := f.lockW("removeall", name)
	if err != nil {
		return err
	}
	defer w.mu.Unlock()
	if name == "." {
		return &fs.PathError{Op: "removeall", Path: name, Err: fs.ErrInvalid}
	}
	parent, _, e, err := w.walk("removeall", name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if e == nil {
		return nil
	}
	return w.removeAll(parent, e, name, map[uint32]bool{parent.first: true})
}

// removeAll removes e and everything under it; seen holds the directories
// being removed, so that a damaged tree that loops is an error, not an
// endless recursion.
func (w *writer) removeAll(parent *wdir, e *entry, name string, seen map[uint32]bool) error {
	if e.attr.IsDir() {
		if seen[e.first] {
			return &fs.PathError{Op: "removeall", Path: name, Err: &CorruptError{Path: name, Cluster: e.first, Problem: "directory contains its own ancestor"}}
		}
		seen[e.first] = true
		d, err := w.loadDir(name, e.first)
		if err != nil {
			return &fs.PathError{Op: "removeall", Path: name, Err: err}
		}
		for len(d.entries) > 0 {
			c := d.entries[0]
			if err := w.removeAll(d, c, name+"/"+c.name, seen); err != nil {
				return err
			}
		}
	}
	if err := w.remove(parent, e, name); err != nil {
		return &fs.PathError{Op: "removeall", Path: name, Err: err}
	}
	return nil
}

// Rename renames (and moves) a file or directory, like os.Rename: an
// existing file at newname is replaced by a file, an existing empty
// directory by a directory; a directory cannot move into itself. Renaming
// a name to itself in another case changes its case. A moved directory's
// ".." entry is updated. The old entry is cleared before the new one is
// written, so that an interruption can lose the renamed file (its
// clusters then show as lost to fsck) but never leaves two entries sharing
// clusters.
func (f *FS) Rename(oldname, newname string) error {
	w, err := f.lockW("rename", oldname)
	if err != nil {
		return err
	}
	defer w.mu.Unlock()
	le := &os.LinkError{Op: "rename", Old: oldname, New: newname}
	fail := func(err error) error { le.Err = err; return le }
	oldParent, _, e, err := w.walk("rename", oldname)
	if err != nil {
		return err
	}
	if e == nil {
		return fail(fs.ErrNotExist)
	}
	newParent, base, target, err := w.walk("rename", newname)
	if err != nil {
		return err
	}
	if err := checkName(base); err != nil {
		return fail(err)
	}
	same := target != nil && newParent.first == oldParent.first && target.slot == e.slot
	if same && target.name == base {
		return nil
	}
	if e.attr.IsDir() {
		// newname's parent must not be e or inside it.
		for p := newname; ; {
			p = path.Dir(p)
			if p == "." {
				break
			}
			_, _, a, err := w.walk("rename", p)
			if err != nil {
				return err
			}
			if a != nil && a.first == e.first {
				return fail(fs.ErrInvalid)
			}
		}
	}
	if target != nil && !same {
		switch {
		case e.attr.IsDir() && !target.attr.IsDir():
			return fail(errNotDir)
		case !e.attr.IsDir() && target.attr.IsDir():
			return fail(errIsDir)
		case target.attr.IsDir():
			d, err := w.loadDir(newname, target.first)
			if err != nil {
				return fail(err)
			}
			if !d.isEmpty() {
				return fail(errNotEmpty)
			}
		}
	}
	if err := w.markDirty(); err != nil {
		return fail(err)
	}
	// Room for the new entry first, so that no failure comes after the
	// old entry is gone.
	lfn := 0
	if _, _, ok := fits83(base); !ok {
		lfn = len(lfnEntries(base, [11]byte{}))
	}
	if _, err := w.freeRun(newParent, lfn+1); err != nil {
		return fail(err)
	}
	var targetChain []uint32
	var targetNode *node
	if target != nil && !same {
		if target.first != 0 {
			if targetChain, err = w.fat.chain(newname, target.first, 0); err != nil {
				return fail(err)
			}
		}
		if err := w.deleteEntry(newParent, target.slot, target.lfnSlots); err != nil {
			return fail(err)
		}
		if target.attr.IsDir() {
			delete(w.dirs, target.first)
			w.fs.invalidateDir(target.first)
		}
		// Detach an open target now: its slot may be reused below.
		if targetNode = w.nodes[nodeKey{newParent.first, target.slot}]; targetNode != nil {
			w.detach(targetNode)
		}
	}
	raw := make([]byte, 32)
	copy(raw, oldParent.raw[e.slot*32:])
	if err := w.deleteEntry(oldParent, e.slot, e.lfnSlots); err != nil {
		return fail(err)
	}
	short, nt, err := entryName(newParent, base)
	if err != nil {
		return fail(err)
	}
	copy(raw, short[:])
	raw[12] = raw[12]&^0x18 | nt
	slot, err := w.addEntry(newParent, base, raw)
	if err != nil {
		return fail(err)
	}
	if n := w.nodes[nodeKey{oldParent.first, e.slot}]; n != nil {
		delete(w.nodes, n.key)
		n.key = nodeKey{newParent.first, slot}
		n.dirPath = newParent.path
		n.name = base
		w.nodes[n.key] = n
	}
	if e.attr.IsDir() && oldParent.first != newParent.first {
		d, err := w.loadDir(newname, e.first)
		if err != nil {
			return fail(err)
		}
		dotdot := newParent.first
		if dotdot == w.fs.v.g.RootCluster {
			dotdot = 0
		}
		for i := 0; i < d.end && i < 4; i++ {
			s := d.raw[i*32 : i*32+32]
			if string(s[:11]) == "..         " {
				setFirst(s, dotdot)
				if err := w.writeSlots(d, i, i+1); err != nil {
					return fail(err)
				}
				break
			}
		}
	}
	if targetNode == nil && len(targetChain) > 0 {
		w.fat.freeChain(targetChain)
		if err := w.flushFAT(); err != nil {
			return fail(err)
		}
	}
	return nil
}

// Chtimes sets the access date and modification time of a file or
// directory, like os.Chtimes: a zero time leaves that time alone. FAT
// keeps modification times to 2 seconds and access times to the day, in
// Options.Location.
func (f *FS) Chtimes(name string, atime, mtime time.Time) error {
	w, err := f.lockW("chtimes", name)
	if err != nil {
		return err
	}
	defer w.mu.Unlock()
	parent, _, e, err := w.walk("chtimes", name)
	if err != nil {
		return err
	}
	if e == nil {
		return &fs.PathError{Op: "chtimes", Path: name, Err: fs.ErrNotExist}
	}
	if err := w.markDirty(); err != nil {
		return err
	}
	s := parent.raw[e.slot*32 : e.slot*32+32]
	le := binary.LittleEndian
	if !atime.IsZero() {
		date, _, _ := fatDateTime(atime, w.fs.loc)
		le.PutUint16(s[18:], date)
	}
	if !mtime.IsZero() {
		date, tm, _ := fatDateTime(mtime, w.fs.loc)
		le.PutUint16(s[22:], tm)
		le.PutUint16(s[24:], date)
	}
	if err := w.writeSlots(parent, e.slot, e.slot+1); err != nil {
		return &fs.PathError{Op: "chtimes", Path: name, Err: err}
	}
	if n := w.nodes[nodeKey{parent.first, e.slot}]; n != nil && !mtime.IsZero() {
		n.mtime = parent.entryAt(e.slot).mtime
	}
	return nil
}

// WriteFile writes data to the named file, creating it if necessary and
// truncating it otherwise, like os.WriteFile.
func (f *FS) WriteFile(name string, data []byte, perm fs.FileMode) error {
	file, err := f.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = file.Write(data)
	return errors.Join(err, file.Close())
}
