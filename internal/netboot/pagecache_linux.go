//go:build linux

package netboot

import (
	"io"
	"os"
	"sync"
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
	calls     sync.Pool    // of *nowaitCall
	off       atomic.Bool  // RWF_NOWAIT refused: f.ReadAt only
	fallbacks atomic.Int64 // reads (or their tails) finished by f.ReadAt
}

// nowaitCall is one preadv2(RWF_NOWAIT) made through RawConn.Read. Calls
// are pooled with their function bound once, so that a read allocates
// nothing (a closure made per read would cost two allocations).
type nowaitCall struct {
	iov   unix.Iovec
	off   int64
	n     uintptr
	errno syscall.Errno
	do    func(fd uintptr) bool
}

func newNowaitCall() any {
	c := new(nowaitCall)
	c.do = func(fd uintptr) bool {
		c.n, _, c.errno = unix.RawSyscall6(unix.SYS_PREADV2, fd, uintptr(unsafe.Pointer(&c.iov)), 1,
			uintptr(c.off), 0, unix.RWF_NOWAIT)
		return true // a regular file is not in Go's poller: never wait
	}
	return c
}

// newFileReader returns the reader of an opened file; closing it (it is an
// io.Closer) closes f.
func newFileReader(f *os.File) io.ReaderAt {
	raw, err := f.SyscallConn()
	if err != nil {
		return f
	}
	return &pageCacheFile{f: f, raw: raw, calls: sync.Pool{New: newNowaitCall}}
}

func (c *pageCacheFile) Close() error { return c.f.Close() }

func (c *pageCacheFile) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 || off < 0 || c.off.Load() {
		return c.f.ReadAt(p, off)
	}
	call := c.calls.Get().(*nowaitCall)
	call.iov.Base, call.off = &p[0], off
	call.iov.SetLen(len(p))
	// RawConn.Read keeps the descriptor open meanwhile.
	err := c.raw.Read(call.do)
	got, errno := call.n, call.errno
	call.iov.Base = nil // the pool must not keep p
	c.calls.Put(call)
	if err != nil {
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
