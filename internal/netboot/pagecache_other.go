//go:build !linux

package netboot

import (
	"io"
	"os"
)

// newFileReader returns the reader of an opened file: the file itself
// (the page-cache-first read is Linux only).
func newFileReader(f *os.File) io.ReaderAt { return f }
