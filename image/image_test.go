package image

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestPiLayout(t *testing.T) {
	path := piImage(t)
	img := openTest(t, path)
	if img.Scheme() != SchemeMBR || img.SectorSize() != 512 {
		t.Fatalf("scheme %v, sector size %d; want mbr, 512", img.Scheme(), img.SectorSize())
	}
	crossCheck(t, img, path)
	boot, err := img.BootPartition()
	if err != nil {
		t.Fatal(err)
	}
	if boot.Number != 1 || boot.Type.MBR != 0x0C || !boot.Type.IsFAT() {
		t.Errorf("boot partition %v, want 1 (0x0c)", boot)
	}
	root, err := img.RootPartition()
	if err != nil {
		t.Fatal(err)
	}
	if root.Number != 2 || !root.Type.IsLinux() || root.Start != 270336*512 {
		t.Errorf("root partition %v, want 2 (0x83) at sector 270336", root)
	}
	// The boot partition's bytes are the file's bytes at its start.
	sec := make([]byte, 512)
	if _, err := boot.Section().ReadAt(sec, 0); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sec, raw[8192*512:8193*512]) {
		t.Error("boot partition's first sector differs from the file's bytes at sector 8192")
	}
	if len(img.Warnings()) != 0 {
		t.Errorf("warnings: %q", img.Warnings())
	}
}

func TestMBRLogical(t *testing.T) {
	path := logicalImage(t)
	img := openTest(t, path)
	crossCheck(t, img, path)
	if got, want := numbers(img.Partitions()), []int{1, 2, 5, 6, 7}; !reflect.DeepEqual(got, want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}
	ext, err := img.Partition(2)
	if err != nil {
		t.Fatal(err)
	}
	if !ext.Type.IsExtended() {
		t.Errorf("partition 2 type %v, want extended", ext.Type)
	}
	boot, err := img.BootPartition()
	if err != nil {
		t.Fatal(err)
	}
	if boot.Number != 6 || boot.Type.MBR != 0x06 || boot.Start != 22528*512 || boot.Size != 40960*512 {
		t.Errorf("boot partition %v, want 6 (0x06) at sector 22528", boot)
	}
	root, err := img.RootPartition()
	if err != nil {
		t.Fatal(err)
	}
	if root.Number != 1 {
		t.Errorf("root partition %v, want 1", root)
	}
	_, err = img.Partition(9)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Partition(9) error %v, want fs.ErrNotExist", err)
	}
	if want := path + ": partition 9 not found; image has 1, 2, 5, 6, 7"; err == nil || err.Error() != want {
		t.Errorf("Partition(9) error %q, want %q", err, want)
	}
}

func TestMBREmptySlot(t *testing.T) {
	path := newFile(t, "slots.img", 32<<20)
	sfdisk(t, path, "label: dos\n"+path+"1 : start=2048, size=8192, type=83\n"+path+"3 : start=16384, size=16384, type=e, bootable\n")
	mkfat(t, path, 16384, 512, 8192, 0)
	img := openTest(t, path)
	crossCheck(t, img, path)
	if got, want := numbers(img.Partitions()), []int{1, 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}
	p3, err := img.Partition(3)
	if err != nil {
		t.Fatal(err)
	}
	if !p3.Bootable || p3.Type.MBR != 0x0E {
		t.Errorf("partition 3 %v bootable %v; want bootable 0x0e", p3, p3.Bootable)
	}
	if _, err := img.Partition(2); err == nil || !strings.HasSuffix(err.Error(), "partition 2 not found; image has 1, 3") {
		t.Errorf("Partition(2) error %v", err)
	}
	boot, err := img.BootPartition()
	if err != nil || boot.Number != 3 {
		t.Errorf("BootPartition: %v, %v; want partition 3", boot, err)
	}
}

func TestMBR4096(t *testing.T) {
	path := newFile(t, "mbr4k.img", 64<<20)
	fdisk4k(t, path, "label: dos\nstart=256, size=4096, type=c, bootable\nstart=8192, type=5\nstart=8448, size=1024, type=83\nstart=9728, size=1024, type=83\n")
	mkfat(t, path, 256, 4096, 16384, 0)
	img := openTest(t, path)
	if img.SectorSize() != 4096 {
		t.Fatalf("sector size %d, want 4096", img.SectorSize())
	}
	crossCheck(t, img, path)
	if got, want := numbers(img.Partitions()), []int{1, 2, 5, 6}; !reflect.DeepEqual(got, want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}
	boot, err := img.BootPartition()
	if err != nil || boot.Number != 1 || boot.Start != 256*4096 {
		t.Errorf("BootPartition: %v, %v; want 1 at byte %d", boot, err, 256*4096)
	}
	root, err := img.RootPartition()
	if err != nil || root.Number != 5 {
		t.Errorf("RootPartition: %v, %v; want 5", root, err)
	}
}

func TestGPT(t *testing.T) {
	path := gptImage(t)
	img := openTest(t, path)
	if img.Scheme() != SchemeGPT || img.SectorSize() != 512 {
		t.Fatalf("scheme %v, sector size %d; want gpt, 512", img.Scheme(), img.SectorSize())
	}
	crossCheck(t, img, path)
	if got, want := numbers(img.Partitions()), []int{1, 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}
	p3, err := img.Partition(3)
	if err != nil {
		t.Fatal(err)
	}
	if p3.Name != "rööt ✓" || p3.Type.GUID != GUIDLinuxData || p3.UniqueGUID.IsZero() {
		t.Errorf("partition 3: %v, unique %v", p3, p3.UniqueGUID)
	}
	boot, err := img.BootPartition()
	if err != nil || boot.Number != 1 || boot.Type.GUID != GUIDEFISystem || boot.Name != "EFI boot" {
		t.Errorf("BootPartition: %v, %v", boot, err)
	}
	root, err := img.RootPartition()
	if err != nil || root.Number != 3 {
		t.Errorf("RootPartition: %v, %v", root, err)
	}
	if len(img.Warnings()) != 0 {
		t.Errorf("warnings: %q", img.Warnings())
	}
	// The encoders give back the bytes on disk, CRCs included.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, entries, ok := img.GPT()
	if !ok {
		t.Fatal("GPT() not ok")
	}
	array, crc := MarshalGPTEntries(entries, int(h.EntrySize))
	if crc != h.EntriesCRC32 || !bytes.Equal(array, raw[1024:1024+len(array)]) {
		t.Error("MarshalGPTEntries differs from the array on disk")
	}
	if got := h.Marshal(512); !bytes.Equal(got, raw[512:1024]) {
		t.Errorf("GPTHeader.Marshal differs from the header on disk:\n%x\n%x", got[:92], raw[512:604])
	}
	m, ok := img.MBR()
	if !ok || m.Entries[0].Type != 0xEE {
		t.Errorf("protective MBR: %+v", m)
	}
	sec := bytes.Clone(raw[:512])
	clear(sec[446:])
	m.Put(sec)
	if !bytes.Equal(sec, raw[:512]) {
		t.Error("MBR.Put differs from sector 0 on disk")
	}
}

func TestGPT4096(t *testing.T) {
	path := gpt4kImage(t)
	img := openTest(t, path)
	if img.Scheme() != SchemeGPT || img.SectorSize() != 4096 {
		t.Fatalf("scheme %v, sector size %d; want gpt, 4096", img.Scheme(), img.SectorSize())
	}
	crossCheck(t, img, path)
	boot, err := img.BootPartition()
	if err != nil || boot.Number != 1 || boot.Name != "boot" || boot.Start != 256*4096 {
		t.Errorf("BootPartition: %v, %v", boot, err)
	}
	root, err := img.RootPartition()
	if err != nil || root.Number != 2 || root.Name != "root fs" {
		t.Errorf("RootPartition: %v, %v", root, err)
	}
}

// corrupt flips one byte of the file at off.
func corrupt(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5A
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestGPTDamaged(t *testing.T) {
	for _, tc := range []struct {
		name      string
		build     func(testing.TB) string
		ss        int64
		damage    []int64 // byte offsets; negative counts from the end
		warn, err string
	}{
		{"header", gptImage, 512, []int64{512 + 40}, "header CRC mismatch", ""},
		{"signature", gptImage, 512, []int64{512}, "no \"EFI PART\" signature", ""},
		{"array", gptImage, 512, []int64{1024 + 200}, "partition array CRC mismatch", ""},
		{"header-4k", gpt4kImage, 4096, []int64{4096 + 40}, "header CRC mismatch", ""},
		{"signature-4k", gpt4kImage, 4096, []int64{4096 + 1}, "no \"EFI PART\" signature", ""},
		{"backup", gptImage, 512, []int64{-512 + 40}, "backup GPT damaged", ""},
		{"both", gptImage, 512, []int64{512 + 40, -512 + 40}, "", "header CRC mismatch"},
		{"both-arrays", gptImage, 512, []int64{1024 + 200, -(33 * 512) + 200}, "", "partition array CRC mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.build(t)
			intact := openTest(t, path)
			for _, off := range tc.damage {
				if off < 0 {
					off += intact.Size()
				}
				corrupt(t, path, off)
			}
			img, err := Open(path)
			t.Logf("Open: %v", err)
			if tc.err != "" {
				if err == nil {
					img.Close()
					t.Fatal("Open succeeded")
				}
				if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %q, want one naming %s and saying %q, matching ErrFormat", err, path, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			t.Logf("warnings: %q", img.Warnings())
			if img.SectorSize() != int(tc.ss) {
				t.Errorf("sector size %d, want %d", img.SectorSize(), tc.ss)
			}
			w := strings.Join(img.Warnings(), "\n")
			if !strings.Contains(w, tc.warn) || !strings.HasPrefix(w, path+": ") {
				t.Errorf("warnings %q, want one saying %q", w, tc.warn)
			}
			if !reflect.DeepEqual(img.Partitions()[0].UniqueGUID, intact.Partitions()[0].UniqueGUID) ||
				!reflect.DeepEqual(numbers(img.Partitions()), numbers(intact.Partitions())) {
				t.Errorf("partitions %v differ from the intact image's %v", img.Partitions(), intact.Partitions())
			}
			if _, err := img.BootPartition(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestSuperfloppy(t *testing.T) {
	for _, tc := range []struct {
		name string
		ss   int
		bits int
		typ  byte
		size int64
	}{
		{"fat12", 512, 12, 0x0E, 4 << 20},
		{"fat16", 512, 16, 0x0E, 32 << 20},
		{"fat32", 512, 32, 0x0C, 64 << 20},
		{"fat16-4k", 4096, 16, 0x0E, 300 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := newFile(t, "floppy.img", tc.size)
			mkfat(t, path, 0, tc.ss, 0, tc.bits)
			img := openTest(t, path)
			if img.Scheme() != SchemeSuperfloppy || img.SectorSize() != tc.ss {
				t.Fatalf("scheme %v, sector size %d; want superfloppy, %d", img.Scheme(), img.SectorSize(), tc.ss)
			}
			p0, err0 := img.Partition(0)
			p1, err1 := img.Partition(1)
			if err0 != nil || err1 != nil || !reflect.DeepEqual(p0, p1) {
				t.Fatalf("Partition(0) %v, %v; Partition(1) %v, %v", p0, err0, p1, err1)
			}
			if p1.Start != 0 || p1.Size != tc.size || p1.Type.MBR != tc.typ {
				t.Errorf("partition %v, want the whole image, type %#x", p1, tc.typ)
			}
			boot, err := img.BootPartition()
			if err != nil || boot.Number != 1 {
				t.Errorf("BootPartition: %v, %v", boot, err)
			}
			if _, err := img.RootPartition(); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("RootPartition error %v, want fs.ErrNotExist", err)
			}
			if _, ok := img.MBR(); ok {
				t.Error("MBR() ok on a superfloppy")
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	t.Run("mbr", func(t *testing.T) {
		path := piImage(t)
		if err := os.Truncate(path, 200<<20); err != nil {
			t.Fatal(err)
		}
		img, err := Open(path)
		t.Logf("Open: %v", err)
		if err == nil {
			img.Close()
			t.Fatal("Open of a truncated image succeeded")
		}
		if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), path+": partition 2 ") || !strings.Contains(err.Error(), "past the end") {
			t.Errorf("error %q, want one naming the image and partition 2", err)
		}
	})
	t.Run("logical", func(t *testing.T) {
		path := logicalImage(t)
		if err := os.Truncate(path, 20<<20); err != nil { // inside logical partition 6
			t.Fatal(err)
		}
		_, err := Open(path)
		t.Logf("Open: %v", err)
		if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), "partition 2") {
			t.Errorf("error %v, want one naming the image and the extended partition 2", err)
		}
	})
	t.Run("gpt", func(t *testing.T) {
		path := gptImage(t)
		if err := os.Truncate(path, 30<<20); err != nil { // inside partition 3, backup gone
			t.Fatal(err)
		}
		_, err := Open(path)
		t.Logf("Open: %v", err)
		if err == nil || !strings.HasPrefix(err.Error(), path+": partition 3 ") {
			t.Errorf("error %v, want one naming the image and partition 3", err)
		}
	})
	t.Run("gpt-backup-only", func(t *testing.T) {
		// Cut after the last partition: only the backup GPT is lost.
		path := gptImage(t)
		if err := os.Truncate(path, 40<<20); err != nil {
			t.Fatal(err)
		}
		img := openTest(t, path)
		if w := strings.Join(img.Warnings(), "\n"); !strings.Contains(w, "backup GPT header is at LBA") {
			t.Errorf("warnings %q, want one about the backup GPT", w)
		}
	})
	t.Run("superfloppy", func(t *testing.T) {
		path := newFile(t, "floppy.img", 32<<20)
		mkfat(t, path, 0, 512, 0, 16)
		if err := os.Truncate(path, 16<<20); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		t.Logf("Open: %v", err)
		if err == nil || !strings.Contains(err.Error(), "superfloppy") {
			t.Errorf("error %v, want a truncated superfloppy", err)
		}
	})
}

func TestSectionBounds(t *testing.T) {
	path := logicalImage(t)
	img := openTest(t, path)
	p, err := img.Partition(5)
	if err != nil {
		t.Fatal(err)
	}
	s := p.Section()
	if s.Size() != 8192*512 {
		t.Fatalf("section size %d", s.Size())
	}
	buf := make([]byte, 100)
	n, err := s.ReadAt(buf, s.Size()-10)
	if n != 10 || err != io.EOF {
		t.Errorf("ReadAt across the end: %d, %v; want 10, io.EOF", n, err)
	}
	if n, err := s.ReadAt(buf, s.Size()); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at the end: %d, %v; want 0, io.EOF", n, err)
	}
	// Read-only images refuse writers.
	if _, err := p.WriterAt(); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("WriterAt on a read-only image: %v, want fs.ErrPermission", err)
	}
	// Changing the fields does not move the section.
	p.Start = 0
	if got := p.Section(); got.Size() != 8192*512 {
		t.Error("section changed with the fields")
	}
	var sec [512]byte
	if _, err := p.Section().ReadAt(sec[:], 0); err != nil {
		t.Fatal(err)
	}
	if hasBootSignature(sec[:]) {
		t.Error("partition 5 reads the MBR after its Start field was changed")
	}
}

func TestWritable(t *testing.T) {
	path := piImage(t)
	if _, err := OpenFile(path, os.O_RDWR|os.O_TRUNC); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("OpenFile with O_TRUNC: %v, want fs.ErrInvalid", err)
	}
	img, err := OpenWritable(path)
	if err != nil {
		t.Fatal(err)
	}
	root, err := img.RootPartition()
	if err != nil {
		t.Fatal(err)
	}
	w, err := root.WriterAt()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.WriteAt([]byte("hello"), 100); n != 5 || err != nil {
		t.Fatalf("WriteAt: %d, %v", n, err)
	}
	boot, err := img.BootPartition()
	if err != nil {
		t.Fatal(err)
	}
	bw, err := boot.WriterAt()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := bw.WriteAt([]byte("tail!"), boot.Size-3); n != 3 || err == nil || !strings.Contains(err.Error(), "partition 1") {
		t.Errorf("WriteAt across the end: %d, %v; want 3 and an error naming partition 1", n, err)
	}
	if n, err := w.WriteAt([]byte("x"), root.Size+1); n != 0 || err == nil {
		t.Errorf("WriteAt past the end: %d, %v", n, err)
	}
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(raw[root.Start+100 : root.Start+105]); got != "hello" {
		t.Errorf("read back %q", got)
	}
	if got := string(raw[boot.Start+boot.Size-3 : boot.Start+boot.Size+2]); got != "tai\x00\x00" {
		t.Errorf("bytes around the end %q, want the write cut at the partition's end", got)
	}
}

// BenchmarkOpenBoot measures what a netboot request for a not yet opened
// image costs: Open, BootPartition, Close.
func BenchmarkOpenBoot(b *testing.B) {
	for _, bc := range []struct {
		name  string
		build func(testing.TB) string
	}{{"mbr-logical", logicalImage}, {"gpt", gptImage}} {
		b.Run(bc.name, func(b *testing.B) {
			path := bc.build(b)
			for b.Loop() {
				img, err := Open(path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := img.BootPartition(); err != nil {
					b.Fatal(err)
				}
				if err := img.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
