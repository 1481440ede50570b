package tftp

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
)

// UploadDir is a create-only WriteHandler storing uploads under Dir.
//
// It never overwrites a file (ERROR 6), never creates directories (a missing
// directory gets ERROR 1), and never leaves Dir: names are cleaned as by
// FileServer (ERROR 2 for "..", NUL, backslashes, empty names) and opened
// through an os.Root, so symbolic links cannot lead outside either. Data goes
// to a temporary file ".<name>.tftp-<random>" in the target directory, which
// is hard-linked to its final name only after the last block (failing if the
// name appeared meanwhile) and then removed; any failure removes it.
type UploadDir struct {
	// Dir is the directory uploads go to.
	Dir string
	// MaxSize, when positive, limits an upload's size: a request whose
	// tsize is larger is refused with ERROR 3, and an upload growing past
	// it fails with ERROR 3.
	MaxSize int64
	// Perm is the permission of new files; 0 means 0644.
	Perm fs.FileMode
}

// DirWriter returns a create-only WriteHandler storing uploads in dir.
func DirWriter(dir string) *UploadDir { return &UploadDir{Dir: dir} }

// ReceiveTFTP opens a temporary file for the upload r asks for.
func (d *UploadDir) ReceiveTFTP(r *Request) (Upload, error) {
	name, err := cleanName(r.Filename)
	if err != nil {
		return nil, err
	}
	if v, ok := r.Options.Get(OptTransferSize); ok && d.MaxSize > 0 {
		if n, known, err := ParseOption(OptTransferSize, v); known && err == nil && n > d.MaxSize {
			return nil, &Error{Code: ErrDiskFull, Message: fmt.Sprintf("file of %d bytes exceeds the limit of %d", n, d.MaxSize)}
		}
	}
	root, err := os.OpenRoot(d.Dir)
	if err != nil {
		return nil, fmt.Errorf("opening upload directory: %w", err)
	}
	fail := func(err error) (Upload, error) {
		if cerr := root.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	if _, err := root.Lstat(name); err == nil {
		return fail(&Error{Code: ErrFileExists, Message: fmt.Sprintf("%q already exists", r.Filename)})
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	dir := path.Dir(name)
	if st, err := root.Stat(dir); err != nil || !st.IsDir() {
		return fail(&Error{Code: ErrNotFound, Message: fmt.Sprintf("directory %q does not exist", dir)})
	}
	perm := d.Perm
	if perm == 0 {
		perm = 0o644
	}
	var tmp string
	var f *os.File
	for i := 0; i < 8; i++ {
		var rnd [6]byte
		_, _ = rand.Read(rnd[:])
		tmp = path.Join(dir, "."+path.Base(name)+".tftp-"+hex.EncodeToString(rnd[:]))
		f, err = root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fail(err)
	}
	return &dirUpload{root: root, f: f, tmp: tmp, name: name, max: d.MaxSize}, nil
}

type dirUpload struct {
	root      *os.Root
	f         *os.File
	tmp, name string
	max, n    int64
	done      bool
}

func (u *dirUpload) Write(p []byte) (int, error) {
	if u.max > 0 && u.n+int64(len(p)) > u.max {
		return 0, &Error{Code: ErrDiskFull, Message: "upload exceeds the limit of " + strconv.FormatInt(u.max, 10) + " bytes"}
	}
	n, err := u.f.Write(p)
	u.n += int64(n)
	return n, err
}

// Commit links the temporary file to its name and removes the temporary.
func (u *dirUpload) Commit() error {
	if u.done {
		return errors.New("tftp: upload already finished")
	}
	if err := u.f.Sync(); err != nil {
		return err
	}
	if err := u.f.Close(); err != nil {
		return err
	}
	if err := u.root.Link(u.tmp, u.name); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &Error{Code: ErrFileExists, Message: fmt.Sprintf("%q already exists", u.name)}
		}
		return err
	}
	u.done = true
	return errors.Join(u.root.Remove(u.tmp), u.root.Close())
}

// Abort removes the temporary file.
func (u *dirUpload) Abort() error {
	if u.done {
		return nil
	}
	u.done = true
	_ = u.f.Close() // may already be closed by a failed Commit
	return errors.Join(u.root.Remove(u.tmp), u.root.Close())
}
