package fatfs_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

const benchFileSize = 30_000_000

// benchFixture builds a GPT image with a FAT32 partition (512-byte
// clusters) holding a 30 MB file, and a plain file with the same bytes.
func benchFixture(tb testing.TB) (disk *fixture.DiskImage, part *fixture.Part, plain string, data []byte) {
	tb.Helper()
	data = fixture.Pseudo(30, benchFileSize)
	disk = fixture.NewDisk(tb, fixture.Disk{Label: "gpt", Partitions: []fixture.Partition{
		{Type: "linux", Size: 1 << 20, Name: "first"},
		{Type: "uefi", Size: 40 << 20, Name: "boot", FAT: &fixture.FAT{Type: 32, SectorsPerCluster: 1, Tree: fixture.Tree{"big.bin": {Data: data}}}},
	}})
	part = disk.Part(tb, 2)
	plain = filepath.Join(tb.TempDir(), "plain.bin")
	if err := os.WriteFile(plain, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return disk, part, plain, data
}

type countingReaderAt struct {
	r     io.ReaderAt
	reads atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	return c.r.ReadAt(p, off)
}

// TestBenchFixture checks what the benchmark reads, and counts the reads of
// the image per block.
func TestBenchFixture(t *testing.T) {
	disk, part, _, data := benchFixture(t)
	img, err := os.Open(disk.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	cr := &countingReaderAt{r: io.NewSectionReader(img, part.Offset, part.Size)}
	fsys, err := fatfs.New(cr, part.Size, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Open("BIG.BIN")
	if err != nil {
		t.Fatal(err)
	}
	ra := f.(io.ReaderAt)
	for _, bs := range []int{512, 1468, 65464} {
		before := cr.reads.Load()
		blocks := 0
		p := make([]byte, bs)
		for off := int64(0); off < benchFileSize; off += int64(bs) {
			n, err := ra.ReadAt(p, off)
			if err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if !bytes.Equal(p[:n], data[off:off+int64(n)]) {
				t.Fatalf("block size %d: wrong bytes at %d", bs, off)
			}
			blocks++
		}
		if reads := cr.reads.Load() - before; reads != int64(blocks) {
			t.Errorf("block size %d: %d reads for %d blocks, want one per block", bs, reads, blocks)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	disk, part, plain, _ := benchFixture(b)
	img, err := os.Open(disk.Path)
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	fsys, err := fatfs.New(io.NewSectionReader(img, part.Offset, part.Size), part.Size, nil)
	if err != nil {
		b.Fatal(err)
	}
	f, err := fsys.Open("big.bin")
	if err != nil {
		b.Fatal(err)
	}
	pf, err := os.Open(plain)
	if err != nil {
		b.Fatal(err)
	}
	defer pf.Close()
	// "image" reads the same bytes straight from the image file at the
	// file's offset (it is contiguous): the cost of the image file's pages
	// without fatfs.
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	g := fsys.Geometry()
	first := st.Sys().(*fatfs.EntryInfo).FirstCluster
	base := part.Offset + g.DataOffset + int64(first-2)*int64(g.ClusterSize)
	readers := []struct {
		name string
		r    io.ReaderAt
	}{{"fatfs", f.(io.ReaderAt)}, {"plain", pf}, {"image", io.NewSectionReader(img, base, benchFileSize)}}
	for _, bs := range []int{512, 1468, 65464} {
		nblocks := benchFileSize / bs
		r := rand.New(rand.NewPCG(1, 2))
		random := make([]int64, 1<<14)
		for i := range random {
			random[i] = int64(r.IntN(nblocks)) * int64(bs)
		}
		for _, order := range []string{"seq", "random"} {
			for _, rd := range readers {
				b.Run(fmt.Sprintf("%d/%s/%s", bs, order, rd.name), func(b *testing.B) {
					p := make([]byte, bs)
					b.SetBytes(int64(bs))
					i := 0
					for b.Loop() {
						var off int64
						if order == "seq" {
							off = int64(i%nblocks) * int64(bs)
						} else {
							off = random[i%len(random)]
						}
						i++
						if _, err := rd.r.ReadAt(p, off); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
