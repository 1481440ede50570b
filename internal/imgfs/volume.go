package imgfs

import (
	"fmt"
	"io"
	"io/fs"
	"syscall"
	"time"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/image"
)

// Volume is the FAT file system of one partition of an Image. Its names are
// io/fs names, matched without regard to case as FAT does. On a writable
// Image every change reaches the image before the method returns; Close of
// the Image marks the file system clean again (fatfs.FS.Close). It is not
// safe for concurrent use.
type Volume struct {
	im    *Image
	part  *image.Partition
	fsys  *fatfs.FS
	write bool
}

// NotFATError is the error for a partition that holds no FAT file system.
type NotFATError struct {
	Image string
	Part  int
	Err   error
}

func (e *NotFATError) Error() string {
	return fmt.Sprintf("%s: partition %d is not a FAT file system: %v", e.Image, e.Part, e.Err)
}
func (e *NotFATError) Unwrap() error { return e.Err }

// partRW reads and writes a partition's bytes.
type partRW struct {
	io.ReaderAt
	io.WriterAt
}

// roWriter refuses writes to a read-only image.
type roWriter struct{ name string }

func (w roWriter) WriteAt([]byte, int64) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: w.name, Err: syscall.EROFS}
}

func newVolume(im *Image, p *image.Partition) (*Volume, error) {
	// A read-only image is opened with fatfs.NewRW too, over a writer that
	// refuses, so that Free works; nothing ever writes through it.
	var w io.WriterAt = roWriter{im.name}
	if im.write {
		pw, err := p.WriterAt()
		if err != nil {
			return nil, err
		}
		w = pw
	}
	fsys, err := fatfs.NewRW(partRW{p.Section(), w}, p.Size, nil)
	if err != nil {
		return nil, &NotFATError{Image: im.name, Part: p.Number, Err: err}
	}
	return &Volume{im: im, part: p, fsys: fsys, write: im.write}, nil
}

// Partition returns the partition the volume is in.
func (v *Volume) Partition() *image.Partition { return v.part }

// FAT returns the underlying file system.
func (v *Volume) FAT() *fatfs.FS { return v.fsys }

// String names the volume as "image.img partition 1".
func (v *Volume) String() string { return fmt.Sprintf("%s partition %d", v.im.name, v.part.Number) }

// Open opens name for reading.
func (v *Volume) Open(name string) (fs.File, error) { return v.fsys.Open(name) }

// Stat returns the file information of name.
func (v *Volume) Stat(name string) (fs.FileInfo, error) { return v.fsys.Stat(name) }

// ReadDir lists the directory name in directory order.
func (v *Volume) ReadDir(name string) ([]fs.DirEntry, error) { return v.fsys.ReadDir(name) }

func (v *Volume) readOnly(op, name string) error {
	if v.write {
		return nil
	}
	return &fs.PathError{Op: op, Path: name, Err: syscall.EROFS}
}

// Create creates or truncates name for writing.
func (v *Volume) Create(name string) (io.WriteCloser, error) {
	if err := v.readOnly("create", name); err != nil {
		return nil, err
	}
	f, err := v.fsys.Create(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Mkdir makes the directory name.
func (v *Volume) Mkdir(name string) error {
	if err := v.readOnly("mkdir", name); err != nil {
		return err
	}
	return v.fsys.Mkdir(name, 0o755)
}

// Remove removes the file or empty directory name.
func (v *Volume) Remove(name string) error {
	if err := v.readOnly("remove", name); err != nil {
		return err
	}
	return v.fsys.Remove(name)
}

// Rename renames oldname to newname.
func (v *Volume) Rename(oldname, newname string) error {
	if err := v.readOnly("rename", oldname); err != nil {
		return err
	}
	return v.fsys.Rename(oldname, newname)
}

// Chtimes sets the modification time (and access date) of name.
func (v *Volume) Chtimes(name string, mtime time.Time) error {
	if err := v.readOnly("chtimes", name); err != nil {
		return err
	}
	return v.fsys.Chtimes(name, mtime, mtime)
}

// Free returns the free bytes and the cluster size.
func (v *Volume) Free() (free, unit int64, err error) {
	n := v.fsys.FreeClusters()
	cs := int64(v.fsys.Geometry().ClusterSize)
	if n < 0 {
		return 0, cs, fmt.Errorf("%s: free space unknown", v)
	}
	return n * cs, cs, nil
}

// close closes the file system of a writable image, marking it clean.
func (v *Volume) close() error {
	if !v.write {
		return nil
	}
	if err := v.fsys.Close(); err != nil {
		return fmt.Errorf("%s: %w", v, err)
	}
	return nil
}

var (
	_ FS     = (*Volume)(nil)
	_ Spacer = (*Volume)(nil)
	_ FS     = Dir("")
)
