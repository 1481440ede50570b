//go:build !fatwrite

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
// io/fs names. It is not safe for concurrent use.
type Volume struct {
	im   *Image
	part *image.Partition
	r    *fatfs.FS
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

func newVolume(im *Image, p *image.Partition) (*Volume, error) {
	r, err := fatfs.New(p.Section(), p.Size, nil)
	if err != nil {
		return nil, &NotFATError{Image: im.name, Part: p.Number, Err: err}
	}
	return &Volume{im: im, part: p, r: r}, nil
}

// Partition returns the partition the volume is in.
func (v *Volume) Partition() *image.Partition { return v.part }

// String names the volume as "image.img partition 1".
func (v *Volume) String() string { return fmt.Sprintf("%s partition %d", v.im.name, v.part.Number) }

// Open opens name for reading.
func (v *Volume) Open(name string) (fs.File, error) { return v.r.Open(name) }

// Stat returns the file information of name.
func (v *Volume) Stat(name string) (fs.FileInfo, error) { return v.r.Stat(name) }

// ReadDir lists the directory name in directory order.
func (v *Volume) ReadDir(name string) ([]fs.DirEntry, error) { return v.r.ReadDir(name) }

func (v *Volume) readOnly(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: syscall.EROFS}
}

// Create creates or truncates name for writing.
func (v *Volume) Create(name string) (io.WriteCloser, error) { return nil, v.readOnly("create", name) }

// Mkdir makes the directory name.
func (v *Volume) Mkdir(name string) error { return v.readOnly("mkdir", name) }

// Remove removes the file or empty directory name.
func (v *Volume) Remove(name string) error { return v.readOnly("remove", name) }

// Rename renames oldname to newname.
func (v *Volume) Rename(oldname, newname string) error { return v.readOnly("rename", oldname) }

// Chtimes sets the modification time of name.
func (v *Volume) Chtimes(name string, mtime time.Time) error { return v.readOnly("chtimes", name) }

func (v *Volume) close() error { return nil }

var _ FS = (*Volume)(nil)
var _ FS = Dir("")
