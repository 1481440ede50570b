package tftp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
)

// countingReaderAt counts ReadAt calls and hands out at most chunk bytes
// per call (0: all), like a reader that returns short reads.
type countingReaderAt struct {
	data  []byte
	chunk int
	calls int
	fail  int64 // offset at or after which reads fail (0: never)
}

var errInjected = errors.New("injected read error")

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.calls++
	if c.fail > 0 && off+int64(len(p)) > c.fail {
		return 0, errInjected
	}
	if off >= int64(len(c.data)) {
		return 0, io.EOF
	}
	if c.chunk > 0 && len(p) > c.chunk {
		p = p[:c.chunk]
	}
	n := copy(p, c.data[off:])
	if off+int64(n) == int64(len(c.data)) {
		return n, io.EOF
	}
	return n, nil
}

// readAll reads every block of src as serveRead does: until a short block.
func readAll(t *testing.T, src *blockSource, blksize int) []byte {
	t.Helper()
	var out []byte
	p := make([]byte, blksize)
	for seq := int64(1); seq < 1<<20; seq++ {
		n, err := src.read(p, seq)
		if err != nil {
			t.Fatalf("block %d: %v", seq, err)
		}
		out = append(out, p[:n]...)
		if n < blksize {
			return out
		}
	}
	t.Fatal("no short block")
	return nil
}

// TestBlockSourceReadAhead: the read-ahead returns exactly the content
// (or its first size bytes), for known and unknown sizes, content shorter
// or longer than announced and short reads, in far fewer ReadAt calls than
// blocks.
func TestBlockSourceReadAhead(t *testing.T) {
	for _, blksize := range []int{8, 512, 1024, 1468, 16384, 65464} {
		for _, n := range []int{0, 1, blksize - 1, blksize, blksize + 1, 3 * blksize, readAheadSize - 1, readAheadSize, readAheadSize + 1, 200000} {
			for _, tc := range []struct {
				name  string
				size  int64
				extra int // content beyond n
				chunk int
			}{
				{"known", int64(n), 0, 0},
				{"unknown", -1, 0, 0},
				{"longer", int64(n), 3000, 0},
				{"shorter", int64(n) + 5000, 0, 0},
				{"short-reads", int64(n), 0, 700},
			} {
				t.Run(fmt.Sprintf("blksize=%d/n=%d/%s", blksize, n, tc.name), func(t *testing.T) {
					data := pattern(n + tc.extra)
					ra := &countingReaderAt{data: data, chunk: tc.chunk}
					src := newBlockSource(ra, int64(blksize), tc.size)
					got := readAll(t, src, blksize)
					if !bytes.Equal(got, data[:n]) {
						t.Fatalf("got %d bytes, want the %d first of %d", len(got), n, len(data))
					}
					blocks := n/blksize + 1
					if per := readAheadSize / blksize; tc.chunk == 0 && per >= 2 && ra.calls > blocks/per+2 {
						t.Errorf("%d ReadAt calls for %d blocks of %d bytes", ra.calls, blocks, blksize)
					}
				})
			}
		}
	}
}

// TestBlockSourceReadError: a failing ReadAt is reported for the block that
// needs the bytes, and the blocks before it are intact.
func TestBlockSourceReadError(t *testing.T) {
	data := pattern(100000)
	ra := &countingReaderAt{data: data, fail: 50000}
	src := newBlockSource(ra, 1024, int64(len(data)))
	p := make([]byte, 1024)
	for seq := int64(1); ; seq++ {
		n, err := src.read(p, seq)
		if err != nil {
			if !errors.Is(err, errInjected) {
				t.Fatalf("block %d: %v", seq, err)
			}
			if end := seq * 1024; end <= 32768 {
				t.Fatalf("block %d failed, but it lies before the failing offset's read-ahead", seq)
			}
			return
		}
		if !bytes.Equal(p[:n], data[(seq-1)*1024:(seq-1)*1024+int64(n)]) {
			t.Fatalf("block %d differs", seq)
		}
		if seq > 200 {
			t.Fatal("no error")
		}
	}
}

// BenchmarkBlockSource reads a 16 MiB page-cached file in 1468-byte blocks
// as a lock-step transfer does, with one ReadAt per block (ahead=off) and
// through the read-ahead (ahead=on).
//
//	go test -run '^$' -bench BlockSource ./tftp/
func BenchmarkBlockSource(b *testing.B) {
	path := b.TempDir() + "/f"
	const size = 16 << 20
	writePattern(b, path, size)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("ahead=%v", on), func(b *testing.B) {
			p := make([]byte, 1468)
			b.SetBytes(size)
			for b.Loop() {
				src := newBlockSource(f, 1468, size)
				if !on {
					src.aheadMax = 0
				}
				total := 0
				for seq := int64(1); ; seq++ {
					n, err := src.read(p, seq)
					if err != nil {
						b.Fatal(err)
					}
					total += n
					if n < len(p) {
						break
					}
				}
				if total != size {
					b.Fatalf("read %d bytes", total)
				}
			}
		})
	}
}
