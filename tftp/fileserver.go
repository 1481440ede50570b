package tftp

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
)

// cleanName turns a requested filename into an io/fs path: one leading '/'
// is removed; empty names, backslashes, NUL bytes and names fs.ValidPath
// rejects (".." or "." elements, empty elements, a trailing '/') are refused
// with ERROR 2 naming the reason.
func cleanName(name string) (string, error) {
	n := strings.TrimPrefix(name, "/")
	var why string
	switch {
	case n == "":
		why = "empty filename"
	case strings.IndexByte(n, 0) >= 0:
		why = "filename contains a NUL byte"
	case strings.IndexByte(n, '\\') >= 0:
		why = "filename contains a backslash"
	case !fs.ValidPath(n):
		why = "filename has an empty, '.' or '..' element"
	default:
		return n, nil
	}
	return "", &Error{Code: ErrAccess, Message: fmt.Sprintf("%s: %q", why, name)}
}

// FileServer returns a Handler serving the files of fsys.
//
// One leading '/' of the filename is removed; invalid names get ERROR 2 (see
// cleanName rules: empty, "..", ".", NUL, backslash). A directory gets
// ERROR 1 ("is a directory"), so Chain moves on to its next handler, and so
// does a missing file.
//
// The opened file is served directly when it implements io.ReaderAt
// (*os.File, fatfs files), lending its bytes when it also implements
// Lender. A file implementing io.Seeker is read through Seek and Read. Any
// other file is read sequentially, which suffices because the server reads
// each block once, in order. Regular files announce their size (tsize);
// others are read until io.EOF.
func FileServer(fsys fs.FS) Handler {
	return HandlerFunc(func(r *Request) (io.ReaderAt, int64, error) {
		name, err := cleanName(r.Filename)
		if err != nil {
			return nil, 0, err
		}
		f, err := fsys.Open(name)
		if err != nil {
			return nil, 0, err
		}
		st, err := f.Stat()
		if err != nil {
			return nil, 0, errors.Join(err, f.Close())
		}
		if st.IsDir() {
			if cerr := f.Close(); cerr != nil {
				return nil, 0, cerr
			}
			return nil, 0, &Error{Code: ErrNotFound, Message: fmt.Sprintf("%q is a directory", r.Filename)}
		}
		size := st.Size()
		if !st.Mode().IsRegular() {
			size = -1
		}
		switch g := f.(type) {
		case io.ReaderAt:
			return g, size, nil // f itself: its Close and LendAt reach the server
		case io.ReadSeeker:
			return &seekReaderAt{rs: g, c: f}, size, nil
		}
		return &seqReaderAt{r: f, c: f}, size, nil
	})
}

// seekReaderAt reads at an offset through Seek and Read.
type seekReaderAt struct {
	mu sync.Mutex
	rs io.ReadSeeker
	c  io.Closer
}

func (s *seekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.rs.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(s.rs, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

func (s *seekReaderAt) Close() error { return s.c.Close() }

// seqReaderAt serves ReadAt calls at consecutive offsets from a plain reader.
type seqReaderAt struct {
	mu  sync.Mutex
	r   io.Reader
	c   io.Closer
	pos int64
}

func (s *seqReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off != s.pos {
		return 0, fmt.Errorf("tftp: file can only be read sequentially (offset %d, at %d)", off, s.pos)
	}
	n, err := io.ReadFull(s.r, p)
	s.pos += int64(n)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

func (s *seqReaderAt) Close() error { return s.c.Close() }
