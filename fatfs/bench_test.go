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
	"time"

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
	// Rewrite the image in one write, as the plain file is written: how a
	// file was written (mtools writes in small pieces) changes how fast the
	// page cache serves it, and that is not fatfs's doing.
	raw, err := os.ReadFile(disk.Path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(disk.Path, raw, 0o644); err != nil {
		tb.Fatal(err)
	}
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
	f, pf, direct := benchSources(b)
	benchReaders(b, []namedReaderAt{{"fatfs", f}, {"plain", pf}, {"image", direct}})
}

// benchSources opens the benchmark file three ways: through fatfs, as the
// plain file it was copied from, and straight from the image file at the
// file's offset (it is contiguous: the cost of the image file's pages
// without fatfs). They are closed when b ends.
func benchSources(b *testing.B) (f, plainFile, direct io.ReaderAt) {
	disk, part, plain, _ := benchFixture(b)
	img, err := os.Open(disk.Path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { img.Close() })
	fsys, err := fatfs.New(io.NewSectionReader(img, part.Offset, part.Size), part.Size, nil)
	if err != nil {
		b.Fatal(err)
	}
	ff, err := fsys.Open("big.bin")
	if err != nil {
		b.Fatal(err)
	}
	pf, err := os.Open(plain)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pf.Close() })
	st, err := ff.Stat()
	if err != nil {
		b.Fatal(err)
	}
	g := fsys.Geometry()
	first := st.Sys().(*fatfs.EntryInfo).FirstCluster
	base := part.Offset + g.DataOffset + int64(first-2)*int64(g.ClusterSize)
	return ff.(io.ReaderAt), pf, io.NewSectionReader(img, base, benchFileSize)
}

// benchReaders runs a sub-benchmark per block size, order and reader.
func benchReaders(b *testing.B, readers []namedReaderAt) {
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

type namedReaderAt struct {
	name string
	r    io.ReaderAt
}

// BenchmarkReadRatio interleaves batches of reads through fatfs, from the
// plain file and from the image file directly, and reports the time per read
// of each and the ratios fatfs/plain and fatfs/image: interleaving makes the
// ratios robust on a busy machine, where separate benchmarks are not.
func BenchmarkReadRatio(b *testing.B) {
	f, pf, direct := benchSources(b)
	readers := []io.ReaderAt{f, pf, direct}
	const batch = 32
	for _, bs := range []int{512, 1468, 65464} {
		nblocks := benchFileSize / bs
		for _, order := range []string{"seq", "random"} {
			b.Run(fmt.Sprintf("%d/%s", bs, order), func(b *testing.B) {
				// Each reader has its own sequence of offsets (the same
				// sequence, shifted), so no reader reads blocks another has
				// just brought into the caches.
				p := make([]byte, bs)
				var spent [3]time.Duration
				var rngs [3]*rand.Rand
				for k := range rngs {
					rngs[k] = rand.New(rand.NewPCG(3, 4))
				}
				offs := make([]int64, batch)
				reads := 0
				for b.Loop() {
					for j := range readers {
						// Rotate which reader goes first.
						k := (j + reads/batch) % len(readers)
						shift := k * nblocks / len(readers)
						for i := range offs {
							if order == "seq" {
								offs[i] = int64((reads+i+shift)%nblocks) * int64(bs)
							} else {
								offs[i] = int64((rngs[k].IntN(nblocks)+shift)%nblocks) * int64(bs)
							}
						}
						rd := readers[k]
						t0 := time.Now()
						for _, off := range offs {
							if _, err := rd.ReadAt(p, off); err != nil {
								b.Fatal(err)
							}
						}
						spent[k] += time.Since(t0)
					}
					reads += batch
				}
				b.SetBytes(int64(bs) * batch * 3)
				b.ReportMetric(float64(spent[0].Nanoseconds())/float64(reads), "fatfs-ns/read")
				b.ReportMetric(float64(spent[1].Nanoseconds())/float64(reads), "plain-ns/read")
				b.ReportMetric(float64(spent[2].Nanoseconds())/float64(reads), "image-ns/read")
				b.ReportMetric(float64(spent[0])/float64(spent[1]), "fatfs/plain")
				b.ReportMetric(float64(spent[0])/float64(spent[2]), "fatfs/image")
			})
		}
	}
}

// BenchmarkReadMemory reads through fatfs over an in-memory image and from
// the same bytes in memory: fatfs's own cost per read, without system calls.
func BenchmarkReadMemory(b *testing.B) {
	disk, part, _, data := benchFixture(b)
	raw, err := os.ReadFile(disk.Path)
	if err != nil {
		b.Fatal(err)
	}
	vol := bytes.NewReader(raw[part.Offset : part.Offset+part.Size])
	fsys, err := fatfs.New(vol, part.Size, nil)
	if err != nil {
		b.Fatal(err)
	}
	f, err := fsys.Open("big.bin")
	if err != nil {
		b.Fatal(err)
	}
	benchReaders(b, []namedReaderAt{{"fatfs", f.(io.ReaderAt)}, {"plain", bytes.NewReader(data)}})
}
