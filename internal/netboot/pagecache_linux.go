//go:build linux

package netboot

import (
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pageCacheFile reads a file (an image, or a file of the root directory)
// with preadv2(2) and RWF_NOWAIT first, made as a raw system call, and
// reads with f.ReadAt only what the page cache does not hold. Limits:
// Linux only; where the kernel or the file system refuses RWF_NOWAIT,
// every read is f.ReadAt; a file system that accepts the flag but never
// serves it (answering EAGAIN every time) costs one more system call per
// read, and a read serves a 32 KiB read-ahead of small blocks, a 64 KiB
// chunk or one large block.
//
// Why: an event loop of package tftp reads content itself, and after the
// loop has parked (a lone lock-step transfer parks after every block) an
// ordinary pread enters the Go scheduler's system-call path, which wakes
// the runtime's sysmon thread from its deep sleep: in a transfer of 64 KiB
// blocks, once per block, a quarter of the server's CPU. A read served by
// the page cache cannot block, so it needs none of that; a read that would
// wait for the disk still waits in an ordinary pread, where the scheduler
// can run other goroutines meanwhile.
type pageCacheFile struct {
	f         *os.File
	raw       syscall.RawConn
	off       atomic.Bool  // RWF_NOWAIT refused: f.ReadAt only
	fallbacks atomic.Int64 // reads (or their tails) finished by f.ReadAt
}

// newFileReader returns the reader of an opened file; closing it (it is an
// io.Closer) closes f.
func newFileReader(f *os.File) io.ReaderAt {
	raw, err := f.SyscallConn()
	if err != nil {
		return f
	}
	return &pageCacheFile{f: f, raw: raw}
}

func (c *pageCacheFile) Close() error { return c.f.Close() }

func (c *pageCacheFile) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 || off < 0 || c.off.Load() {
		return c.f.ReadAt(p, off)
	}
	var got uintptr
	var errno syscall.Errno
	// RawConn.Read keeps the descriptor open meanwhile; a regular file is
	// not in Go's poller, so the function is called once.
	if err := c.raw.Read(func(fd uintptr) bool {
		iov := unix.Iovec{Base: &p[0]}
		iov.SetLen(len(p))
		got, _, errno = unix.RawSyscall6(unix.SYS_PREADV2, fd, uintptr(unsafe.Pointer(&iov)), 1,
			uintptr(off), 0, unix.RWF_NOWAIT)
		return true
	}); err != nil {
		return c.f.ReadAt(p, off) // closed: f.ReadAt says so
	}
	switch errno {
	case 0:
	case unix.EOPNOTSUPP, unix.EINVAL, unix.ENOSYS:
		c.off.Store(true)
		return c.f.ReadAt(p, off)
	default: // EAGAIN (not cached), EINTR, or an error f.ReadAt reports
		c.fallbacks.Add(1)
		return c.f.ReadAt(p, off)
	}
	n := int(got)
	if n == len(p) {
		return n, nil
	}
	// Short: the end of the file, or only the head was cached. f.ReadAt
	// reads the rest, or says io.EOF.
	if n > 0 {
		c.fallbacks.Add(1)
	}
	m, err := c.f.ReadAt(p[n:], off+int64(n))
	return n + m, err
}
