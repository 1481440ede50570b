package fatfs

import (
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Options configures New. The zero value (or a nil *Options) is sensible.
type Options struct {
	// Location is the time zone FAT's local date and times are read in.
	// nil means UTC.
	Location *time.Location
	// Now is the clock whose time writes store (NewRW only); nil means
	// time.Now.
	Now func() time.Time
}

// cacheLimit bounds the directory and extent caches (entries each); a full
// cache is emptied and refilled.
const cacheLimit = 4096

// FS is a FAT file system read through an io.ReaderAt (New) or read and
// written (NewRW). It implements fs.FS, fs.ReadDirFS, fs.StatFS and
// fs.ReadFileFS, and is safe for concurrent use.
type FS struct {
	v    *volume
	loc  *time.Location
	root *entry

	mu    sync.RWMutex
	dirs  map[uint32]*dirListing // by first cluster; 0 is the FAT12/16 fixed root
	files map[fileKey][]extent
	gen   uint64 // counts invalidations by the writer (see invalidate)

	w *writer // nil when read-only
}

type fileKey struct {
	first uint32
	size  int64
}

// dirListing is a parsed directory: immutable once built.
type dirListing struct {
	entries  []*entry
	byKey    map[string]*entry // lower-cased long and short names; first wins
	nonASCII bool              // some name is not ASCII: misses need a folding scan
}

// New reads the boot sector of the FAT volume of size bytes in r, validates
// it and returns the file system. The FAT type is decided by the count of
// clusters; fields of the boot sector that disagree with it are an error.
func New(r io.ReaderAt, size int64, opts *Options) (*FS, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if size < 512 {
		return nil, bootErr("volume of %d bytes is smaller than a boot sector", size)
	}
	b := make([]byte, 512)
	if n, err := r.ReadAt(b, 0); n < len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, bootErr("reading: %w", err)
	}
	g, err := parseBootSector(b, size)
	if err != nil {
		return nil, err
	}
	f := &FS{
		v:     newVolume(r, g),
		loc:   o.Location,
		dirs:  make(map[uint32]*dirListing),
		files: make(map[fileKey][]extent),
	}
	f.root = &entry{name: ".", attr: AttrDirectory, first: g.RootCluster}
	f.root.info = EntryInfo{Attr: AttrDirectory, FirstCluster: g.RootCluster}
	return f, nil
}

// Geometry returns the volume's layout as read from its boot sector.
func (f *FS) Geometry() Geometry { return *f.v.g }

// Label returns the volume label from the boot sector ("" if none).
func (f *FS) Label() string { return f.v.g.Label }

// Type returns FAT12, FAT16 or FAT32.
func (f *FS) Type() Type { return f.v.g.Type }

// listing returns the parsed directory starting at cluster first, from the
// cache or read once. name names the directory in errors.
func (f *FS) listing(name string, dir *entry) (*dirListing, error) {
	first := dir.first
	g := f.v.g
	isFixedRoot := dir == f.root && g.Type != FAT32
	if first == 0 && !isFixedRoot {
		return nil, &CorruptError{Path: name, Cluster: 0, Problem: "directory without clusters"}
	}
	f.mu.RLock()
	l, ok := f.dirs[first]
	gen := f.gen
	f.mu.RUnlock()
	if ok {
		return l, nil
	}
	var raw []byte
	if isFixedRoot {
		raw = make([]byte, g.RootDirSize)
		if err := f.v.readFull(raw, g.RootDirOffset); err != nil {
			return nil, err
		}
	} else {
		exts, total, err := f.v.chain(name, first, -1)
		if err != nil {
			return nil, err
		}
		raw = make([]byte, total)
		if _, err := f.v.readExtents(exts, total, raw, 0); err != nil {
			return nil, err
		}
	}
	l = &dirListing{byKey: make(map[string]*entry)}
	l.entries = parseDir(raw, g.Type == FAT32, f.loc)
	for _, e := range l.entries {
		for _, n := range [2]string{e.name, e.short} {
			if n == "" {
				continue
			}
			if !l.nonASCII && !isASCII(n) {
				l.nonASCII = true
			}
			k := strings.ToLower(n)
			if _, dup := l.byKey[k]; !dup {
				l.byKey[k] = e
			}
		}
	}
	remember(f, f.dirs, gen, first, l)
	return l, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lookup finds name in the directory, folding case.
func (l *dirListing) lookup(name string) *entry {
	if e, ok := l.byKey[strings.ToLower(name)]; ok {
		return e
	}
	if !l.nonASCII && isASCII(name) {
		return nil
	}
	for _, e := range l.entries {
		if strings.EqualFold(e.name, name) || (e.short != "" && strings.EqualFold(e.short, name)) {
			return e
		}
	}
	return nil
}

// resolve finds the entry for a valid path.
func (f *FS) resolve(op, name string) (*entry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	e := f.root
	if name == "." {
		return e, nil
	}
	dir := "."
	for rest := name; ; {
		elem, more, _ := strings.Cut(rest, "/")
		if !e.attr.IsDir() {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		l, err := f.listing(dir, e)
		if err != nil {
			return nil, err
		}
		e = l.lookup(elem)
		if e == nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if dir == "." {
			dir = elem
		} else {
			dir += "/" + elem
		}
		if more == "" {
			return e, nil
		}
		rest = more
	}
}

// extents returns the cached extent map of a file entry.
func (f *FS) extents(name string, e *entry) ([]extent, error) {
	if e.size == 0 {
		return nil, nil
	}
	k := fileKey{e.first, e.size}
	f.mu.RLock()
	exts, ok := f.files[k]
	gen := f.gen
	f.mu.RUnlock()
	if ok {
		return exts, nil
	}
	exts, _, err := f.v.chain(name, e.first, e.size)
	if err != nil {
		return nil, err
	}
	remember(f, f.files, gen, k, exts)
	return exts, nil
}

// remember stores v under k in m, one of f's caches, unless the volume
// changed since gen was read (a write bumps it); a full cache is emptied
// first.
func remember[K comparable, V any](f *FS, m map[K]V, gen uint64, k K, v V) {
	f.mu.Lock()
	if f.gen == gen {
		if len(m) >= cacheLimit {
			clear(m)
		}
		m[k] = v
	}
	f.mu.Unlock()
}

// Open opens the named file or directory. Names are matched without regard
// to case. A file whose cluster chain is damaged gives a *CorruptError.
func (f *FS) Open(name string) (fs.File, error) {
	e, err := f.resolve("open", name)
	if err != nil {
		return nil, err
	}
	if e.attr.IsDir() {
		l, err := f.listing(name, e)
		if err != nil {
			return nil, err
		}
		return &dirFile{info: f.info(e), path: name, entries: l.entries, fs: f}, nil
	}
	exts, err := f.extents(name, e)
	if err != nil {
		return nil, err
	}
	return &File{v: f.v, info: f.info(e), path: name, exts: exts, size: e.size}, nil
}

// Stat returns the fs.FileInfo of the named file or directory without
// reading its contents; it agrees with Open(name) followed by Stat.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	e, err := f.resolve("stat", name)
	if err != nil {
		return nil, err
	}
	return f.info(e), nil
}

// ReadDir lists the named directory, sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := f.resolve("readdir", name)
	if err != nil {
		return nil, err
	}
	if !e.attr.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	l, err := f.listing(name, e)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, len(l.entries))
	for i, c := range l.entries {
		out[i] = f.info(c)
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// ReadFile returns the contents of the named file.
func (f *FS) ReadFile(name string) ([]byte, error) {
	e, err := f.resolve("readfile", name)
	if err != nil {
		return nil, err
	}
	if e.attr.IsDir() {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errIsDir}
	}
	exts, err := f.extents(name, e)
	if err != nil {
		return nil, err
	}
	b := make([]byte, e.size)
	if _, err := f.v.readExtents(exts, e.size, b, 0); err != nil && err != io.EOF {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return b, nil
}

var (
	errIsDir  = errors.New("is a directory")
	errNotDir = errors.New("not a directory")
)

// info makes the fs.FileInfo of an entry.
func (f *FS) info(e *entry) *fileInfo { return &fileInfo{e: e} }

// fileInfo is the fs.FileInfo and fs.DirEntry of an entry.
type fileInfo struct{ e *entry }

func (i *fileInfo) Name() string { return i.e.name }
func (i *fileInfo) Size() int64  { return i.e.size }
func (i *fileInfo) Mode() fs.FileMode {
	if i.e.attr.IsDir() {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i *fileInfo) ModTime() time.Time         { return i.e.mtime }
func (i *fileInfo) IsDir() bool                { return i.e.attr.IsDir() }
func (i *fileInfo) Sys() any                   { info := i.e.info; return &info }
func (i *fileInfo) Type() fs.FileMode          { return i.Mode().Type() }
func (i *fileInfo) Info() (fs.FileInfo, error) { return i, nil }
func (i *fileInfo) String() string             { return fs.FormatFileInfo(i) }
