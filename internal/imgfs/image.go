package imgfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/nobodd-go/nobodd-go/image"
)

// ErrLocked is matched by the error of opening for writing an image that
// another writer holds.
var ErrLocked = errors.New("image is being written by another process")

// LockedError is the error for an image another process is writing.
type LockedError struct{ Image string }

func (e *LockedError) Error() string        { return e.Image + " is being written by another process" }
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Image is a disk image opened for the tools: its partition table, and for
// a writable image the exclusive lock, held until Close.
type Image struct {
	name  string
	write bool
	lock  *os.File // holds the flock; nil when read-only
	img   *image.Image
	vols  map[int]*Volume
}

// OpenImage opens the image file name and reads its partition table. With
// write it first takes the exclusive lock (failing at once with a
// *LockedError when another process holds it) and opens the file for
// reading and writing.
func OpenImage(name string, write bool) (*Image, error) {
	im := &Image{name: name, write: write, vols: make(map[int]*Volume)}
	if write {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		if err := flock(f); err != nil {
			return nil, errors.Join(err, f.Close())
		}
		im.lock = f
	}
	if err := im.open(); err != nil {
		if im.lock != nil {
			err = errors.Join(err, im.lock.Close())
		}
		return nil, err
	}
	return im, nil
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return &LockedError{Image: f.Name()}
		default:
			return &fs.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
	}
}

func (im *Image) open() error {
	flag := os.O_RDONLY
	if im.write {
		flag = os.O_RDWR
	}
	img, err := image.OpenFile(im.name, flag)
	if err != nil {
		return err
	}
	im.img = img
	return nil
}

// Name returns the image's file name as given to OpenImage.
func (im *Image) Name() string { return im.name }

// Table returns the image's partition table.
func (im *Image) Table() *image.Image { return im.img }

// Writable reports whether the image was opened for writing.
func (im *Image) Writable() bool { return im.write }

// Partition returns partition n, or with has false the first FAT partition
// (image.BootPartition).
func (im *Image) Partition(n int, has bool) (*image.Partition, error) {
	if !has {
		return im.img.BootPartition()
	}
	return im.img.Partition(n)
}

// FS opens the FAT file system of partition n (see Partition for has). The
// same partition gives the same *Volume; it is closed by Close.
func (im *Image) FS(n int, has bool) (*Volume, error) {
	p, err := im.Partition(n, has)
	if err != nil {
		return nil, err
	}
	if v, ok := im.vols[p.Number]; ok {
		return v, nil
	}
	v, err := newVolume(im, p)
	if err != nil {
		return nil, err
	}
	im.vols[p.Number] = v
	return v, nil
}

// Extend enlarges the image file to size bytes (sparse: the new bytes are
// holes reading as zeros) and reads the partition table again. It never
// shrinks; no file system may be open. The image must be writable.
func (im *Image) Extend(size int64) error {
	if !im.write {
		return &fs.PathError{Op: "truncate", Path: im.name, Err: fs.ErrPermission}
	}
	if len(im.vols) != 0 {
		return fmt.Errorf("%s: cannot resize with a file system open", im.name)
	}
	if size <= im.img.Size() {
		return nil
	}
	if err := im.img.Close(); err != nil {
		return err
	}
	im.img = nil
	if err := os.Truncate(im.name, size); err != nil {
		if oerr := im.open(); oerr != nil {
			return errors.Join(err, oerr)
		}
		return err
	}
	return im.open()
}

// Close flushes and closes every file system opened through FS, closes the
// image and releases the lock. The first error is returned, after
// everything is closed.
func (im *Image) Close() error {
	var errs []error
	for n, v := range im.vols {
		if err := v.close(); err != nil {
			errs = append(errs, err)
		}
		delete(im.vols, n)
	}
	if im.img != nil {
		if err := im.img.Close(); err != nil {
			errs = append(errs, err)
		}
		im.img = nil
	}
	if im.lock != nil {
		if err := im.lock.Close(); err != nil { // releases the flock
			errs = append(errs, err)
		}
		im.lock = nil
	}
	return errors.Join(errs...)
}
