package fatfs

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

// fragmentedVolume builds a FAT32 volume with the Pi boot tree and a file
// fragmented over 100 extents.
func fragmentedVolume(t *testing.T) (*fixture.Volume, *countingReaderAt, *FS) {
	t.Helper()
	return fragmentedVolumeOf(t, fixture.FAT{Type: 32, Size: 34 << 20, SectorsPerCluster: 1})
}

func fragmentedVolumeOf(t *testing.T, spec fixture.FAT) (*fixture.Volume, *countingReaderAt, *FS) {
	t.Helper()
	spec.Tree = fixture.PiBoot()
	spec.Fragment = &fixture.Fragment{Path: "boot/fragmented.img", Extents: 100}
	v := fixture.NewFAT(t, spec)
	cr := &countingReaderAt{r: v.Open(t)}
	fsys, err := New(cr, v.Size, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v, cr, fsys
}

func TestFragmentedExtents(t *testing.T) {
	for _, spec := range []fixture.FAT{
		{Type: 32, Size: 34 << 20, SectorsPerCluster: 1},
		{Type: 16, Size: 8 << 20, SectorsPerCluster: 1},
		{Type: 12, Size: 3 << 20, SectorsPerCluster: 2},
	} {
		t.Run(fmt.Sprintf("FAT%d", spec.Type), func(t *testing.T) {
			testFragmentedExtents(t, spec)
		})
	}
}

func testFragmentedExtents(t *testing.T, spec fixture.FAT) {
	v, cr, fsys := fragmentedVolumeOf(t, spec)
	if _, err := fsys.Stat("boot"); err != nil {
		t.Fatal(err)
	}
	before := cr.reads.Load()
	f, err := fsys.Open("BOOT/FRAGMENTED.IMG")
	if err != nil {
		t.Fatal(err)
	}
	// The FAT is read in large pieces, not an entry at a time: walking
	// the 100-extent chain costs the boot directory and a FAT chunk or two.
	if got := cr.reads.Load() - before; got > 4 {
		t.Errorf("opening a 100-extent file cost %d reads, want ≤ 4", got)
	}
	file := f.(*File)
	if len(file.exts) < 100 {
		t.Fatalf("fragmented file has %d extents, want ≥ 100 (fixture did not fragment)", len(file.exts))
	}
	want := v.Tree["boot/fragmented.img"].Data
	cs := int64(fsys.Geometry().ClusterSize)
	// Reads inside one extent cost one underlying read; reads spanning k
	// extents cost k.
	for _, e := range file.exts[:20] {
		for _, n := range []int64{1, 100, e.length} {
			off := e.fileOff + (e.length-n)/2
			before := cr.reads.Load()
			p := make([]byte, n)
			if _, err := file.ReadAt(p, off); err != nil {
				t.Fatal(err)
			}
			if got := cr.reads.Load() - before; got != 1 {
				t.Errorf("ReadAt(%d bytes at %d) inside an extent cost %d reads", n, off, got)
			}
			if !bytes.Equal(p, want[off:off+n]) {
				t.Fatalf("ReadAt(%d bytes at %d): wrong bytes", n, off)
			}
		}
	}
	before = cr.reads.Load()
	p := make([]byte, 10*cs)
	if _, err := file.ReadAt(p, file.exts[5].fileOff); err != nil {
		t.Fatal(err)
	}
	if got := cr.reads.Load() - before; got != 10 {
		t.Errorf("10 one-cluster extents cost %d reads, want 10", got)
	}
	// A 1468-byte block of a contiguous file: one read.
	k, err := fsys.Open("kernel8.img")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(k.(*File).exts); n != 1 {
		t.Errorf("kernel8.img has %d extents, want 1", n)
	}
	kernel := fixture.PiBoot()["kernel8.img"].Data
	for off := int64(0); off < int64(len(kernel)); off += 1468 * 97 {
		before := cr.reads.Load()
		p := make([]byte, 1468)
		n, err := k.(io.ReaderAt).ReadAt(p, off)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if got := cr.reads.Load() - before; got != 1 {
			t.Errorf("1468-byte ReadAt at %d cost %d reads", off, got)
		}
		if !bytes.Equal(p[:n], kernel[off:off+int64(n)]) {
			t.Fatalf("ReadAt at %d: wrong bytes", off)
		}
	}
}

func TestFirstByteReads(t *testing.T) {
	v := fixture.NewFAT(t, fixture.FAT{Type: 32, Size: 34 << 20, SectorsPerCluster: 1, Tree: fixture.PiBoot()})
	cr := &countingReaderAt{r: v.Open(t)}
	fsys, err := New(cr, v.Size, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Open("overlays/vc4-kms-v3d.dtbo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	// boot sector, FAT chunk, root directory, overlays directory (one read
	// per extent: mtools interleaves a growing directory's clusters with
	// its files'), data.
	if n := cr.reads.Load(); n > 8 {
		t.Errorf("New, Open and the first byte cost %d reads, want ≤ 8", n)
	}
	t.Logf("New, Open and the first byte: %d reads", cr.reads.Load())
}

func TestConcurrentReads(t *testing.T) {
	v, _, fsys := fragmentedVolume(t)
	names := []string{"boot/fragmented.img", "kernel8.img", "start4.elf", "initrd.img", "overlays/dwc2.dtbo", "config.txt"}
	const goroutines, reads = 16, 300
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			files := make(map[string]io.ReaderAt)
			for i := 0; i < reads; i++ {
				name := names[r.IntN(len(names))]
				want := v.Tree[name].Data
				// Open once per goroutine, some through a fresh FS lookup.
				ra, ok := files[name]
				if !ok || r.IntN(10) == 0 {
					f, err := fsys.Open(name)
					if err != nil {
						errs <- err
						return
					}
					ra = f.(io.ReaderAt)
					files[name] = ra
				}
				n := 1 + r.IntN(70000)
				off := r.Int64N(int64(len(want)) + 10)
				p := make([]byte, n)
				got, err := ra.ReadAt(p, off)
				end := min(off+int64(n), int64(len(want)))
				wantN := int(max(0, end-off))
				if got != wantN || (got < n && err != io.EOF) || (got == n && err != nil) {
					errs <- fmt.Errorf("%s: ReadAt(%d at %d) = %d, %v; want %d", name, n, off, got, err, wantN)
					return
				}
				if got > 0 && !bytes.Equal(p[:got], want[off:off+int64(got)]) {
					errs <- fmt.Errorf("%s: ReadAt(%d at %d): wrong bytes", name, n, off)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
