package imgfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// FS is a file system that can be read and changed: a FAT partition of an
// image (Volume) or the host's (Dir). Names are the implementation's: io/fs
// names for a Volume, host paths for Dir("").
//
// Errors are *fs.PathError values naming the file, matching fs.ErrNotExist,
// fs.ErrExist, fs.ErrPermission or a syscall.Errno (ENOTEMPTY, ENOSPC,
// ENOTDIR, EISDIR) where one applies.
type FS interface {
	fs.StatFS
	fs.ReadDirFS
	// Create creates the file name, or truncates it when it exists, and
	// opens it for writing. The parent directory must exist.
	Create(name string) (io.WriteCloser, error)
	// Mkdir makes the directory name; its parent must exist.
	Mkdir(name string) error
	// Remove removes the file or empty directory name.
	Remove(name string) error
	// Rename renames oldname to newname within the file system, replacing
	// a file (not a directory) at newname.
	Rename(oldname, newname string) error
	// Chtimes sets the modification time of name.
	Chtimes(name string, mtime time.Time) error
}

// Spacer is implemented by file systems that know their free space, so that
// a copy too large to fit is refused before anything is written.
type Spacer interface {
	// Free returns the bytes free and the allocation unit (the cluster
	// size): a file of n bytes takes n rounded up to whole units.
	Free() (free, unit int64, err error)
}

// Dir is the host file system. Dir("") takes names as host paths
// (relative to the working directory, or absolute); any other Dir is a
// directory whose io/fs names (slash-separated, no "..") are taken inside
// it, like os.DirFS but writable.
type Dir string

func (d Dir) path(op, name string) (string, error) {
	if d == "" {
		return name, nil
	}
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return filepath.Join(string(d), filepath.FromSlash(name)), nil
}

// rename reports errors with the caller's name rather than the host path.
func (d Dir) fix(err error, name string) error {
	var pe *fs.PathError
	if d != "" && errors.As(err, &pe) {
		pe.Path = name
	}
	var le *os.LinkError
	if d != "" && errors.As(err, &le) {
		return &fs.PathError{Op: le.Op, Path: name, Err: le.Err}
	}
	return err
}

// Open opens name for reading.
func (d Dir) Open(name string) (fs.File, error) {
	p, err := d.path("open", name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, d.fix(err, name)
	}
	return f, nil
}

// Stat returns the file information of name, following symbolic links.
func (d Dir) Stat(name string) (fs.FileInfo, error) {
	p, err := d.path("stat", name)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(p)
	return st, d.fix(err, name)
}

// ReadDir lists the directory name sorted by name.
func (d Dir) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := d.path("readdir", name)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(p)
	return ents, d.fix(err, name)
}

// Create creates or truncates name with mode 0644 (before umask).
func (d Dir) Create(name string) (io.WriteCloser, error) {
	p, err := d.path("create", name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, d.fix(err, name)
	}
	return f, nil
}

// Mkdir makes the directory name with mode 0755 (before umask).
func (d Dir) Mkdir(name string) error {
	p, err := d.path("mkdir", name)
	if err != nil {
		return err
	}
	return d.fix(os.Mkdir(p, 0o755), name)
}

// Remove removes the file or empty directory name.
func (d Dir) Remove(name string) error {
	p, err := d.path("remove", name)
	if err != nil {
		return err
	}
	return d.fix(os.Remove(p), name)
}

// Rename renames oldname to newname.
func (d Dir) Rename(oldname, newname string) error {
	po, err := d.path("rename", oldname)
	if err != nil {
		return err
	}
	pn, err := d.path("rename", newname)
	if err != nil {
		return err
	}
	return d.fix(os.Rename(po, pn), oldname)
}

// Chtimes sets the access and modification times of name to mtime.
func (d Dir) Chtimes(name string, mtime time.Time) error {
	p, err := d.path("chtimes", name)
	if err != nil {
		return err
	}
	return d.fix(os.Chtimes(p, mtime, mtime), name)
}
