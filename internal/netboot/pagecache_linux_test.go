//go:build linux

package netboot

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPageCacheFile: reads through the page-cache-first reader equal the
// file's bytes at every kind of offset and length (inside, straddling the
// end, past the end, empty), from the page cache and after the cache was
// told to drop the file; a cached read allocates nothing; the reader's
// Close closes the file.
func TestPageCacheFile(t *testing.T) {
	const size = 300_001
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	path := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := newFileReader(f).(*pageCacheFile)
	if !ok {
		t.Fatal("newFileReader did not return a *pageCacheFile")
	}
	check := func(off int64, n int) {
		t.Helper()
		p := make([]byte, n)
		got, err := r.ReadAt(p, off)
		want := 0
		if off < size {
			want = min(n, int(size-off))
		}
		if got != want || !bytes.Equal(p[:got], data[min(off, size):min(off, size)+int64(got)]) {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v: want %d bytes equal to the file's", n, off, got, err, want)
		}
		switch {
		case got < n && !errors.Is(err, io.EOF):
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v: want io.EOF", n, off, got, err)
		case got == n && err != nil:
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v: want no error", n, off, got, err)
		}
	}
	run := func() {
		for _, c := range []struct {
			off int64
			n   int
		}{{0, 0}, {0, 1}, {0, 4096}, {4095, 2}, {size - 10, 10}, {size - 10, 11}, {size - 1, 65536}, {size, 1}, {size + 100, 5}, {0, size}, {0, size + 1}} {
			check(c.off, c.n)
		}
		for range 200 {
			check(rng.Int64N(size+2000), rng.IntN(70000))
		}
	}
	run()
	// Ask the kernel to drop the file's pages: reads it no longer holds
	// are finished by the blocking path (tmpfs keeps them: both paths are
	// then the same).
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Logf("fadvise: %v", err)
	}
	run()
	t.Logf("RWF_NOWAIT refused: %v; reads finished by ReadAt: %d", r.off.Load(), r.fallbacks.Load())
	// A read the page cache serves allocates nothing. (Under the race
	// detector sync.Pool drops a quarter of what it is given, which costs
	// half an allocation per read on average; a closure made per read
	// costs two.)
	buf := make([]byte, 4096)
	if _, err := r.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = r.ReadAt(buf, 4096) }); a >= 2 {
		t.Errorf("%v allocations per cached read, want none", a)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(make([]byte, 10), 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("ReadAt after Close: %v, want os.ErrClosed", err)
	}
	if _, err := f.Stat(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("the file after the reader's Close: %v, want os.ErrClosed", err)
	}
}
