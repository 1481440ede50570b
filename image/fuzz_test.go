package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
)

// maxFuzz bounds the images the fuzz targets parse. Seeds are kept at
// 8 KiB or less: the fuzzer minimises every new input, which is slow for
// large ones.
const maxFuzz = 16 << 10

// fuzzSeeds returns small whole images made by the real tools when they are
// installed (a fuzz target must still run without them), and the first
// sectors of the test fixtures.
func fuzzSeeds(f *testing.F, gpt bool) [][]byte {
	var seeds [][]byte
	have := func(names ...string) bool {
		for _, n := range names {
			if _, err := testpeer.Look(n); err != nil {
				return false
			}
		}
		return true
	}
	// read reads the first n bytes of path.
	read := func(path string, n int) []byte {
		file, err := os.Open(path)
		if err != nil {
			f.Fatal(err)
		}
		defer file.Close()
		b := make([]byte, n)
		if _, err := io.ReadFull(file, b); err != nil {
			f.Fatal(err)
		}
		return b
	}
	if !gpt && have("sfdisk", "mkfs.vfat") {
		// 4 KiB, 8 sectors: an MBR with logical partitions 5, 6, 7, and a
		// FAT boot sector in partition 6.
		p := newFile(f, "floppy.img", 64<<10)
		mkfat(f, p, 0, 512, 0, 0)
		floppy := read(p, 512)
		p = newFile(f, "small.img", 4<<10)
		sfdisk(f, p, "label: dos\nfirst-lba: 1\nstart=1, size=1, type=c, bootable\nstart=2, size=6, type=5\n"+
			"start=3, size=1, type=83\nstart=5, size=1, type=6\nstart=7, size=1, type=83\n")
		small := read(p, 4<<10)
		copy(small[5*512:], floppy)
		mustParse(f, small, 6)
		seeds = append(seeds, small, floppy)
		seeds = append(seeds, read(logicalImage(f), 512), read(piImage(f), 512))
	}
	if gpt && have("sfdisk", "sgdisk", "fdisk", "mkfs.vfat") {
		// 4 KiB, 8 sectors: a GPT of 4 entries, partitions 1 and 2, a FAT
		// boot sector in partition 1.
		p := newFile(f, "floppy.img", 64<<10)
		mkfat(f, p, 0, 512, 0, 0)
		floppy := read(p, 512)
		p = newFile(f, "small-gpt.img", 4<<10)
		sfdisk(f, p, "label: gpt\ntable-length: 4\nfirst-lba: 3\nstart=3, size=2, type=uefi, name=\"boot\"\nstart=5, size=1, type=linux, name=\"root\"\n")
		small := read(p, 4<<10)
		copy(small[3*512:], floppy)
		mustParse(f, small, 1)
		seeds = append(seeds, small)
		// The first sectors of the fixtures: protective MBR, GPT header
		// and the start of the array.
		seeds = append(seeds, read(gptImage(f), 2<<10), read(gpt4kImage(f), 8<<10))
	}
	return seeds
}

// mustParse fails unless a seed parses, with a FAT boot partition of number
// boot (0 for none wanted).
func mustParse(f *testing.F, data []byte, boot int) {
	f.Helper()
	img, err := New(bytes.NewReader(data), int64(len(data)), "seed.img")
	if err != nil {
		f.Fatalf("seed does not parse: %v", err)
	}
	if boot == 0 {
		return
	}
	if p, err := img.BootPartition(); err != nil || p.Number != boot {
		f.Fatalf("seed's boot partition %v, %v; want %d", p, err, boot)
	}
}

// checkImage parses data as an image and checks what it finds for
// consistency. It must neither panic nor loop.
func checkImage(t *testing.T, data []byte) {
	if len(data) > maxFuzz {
		return
	}
	img, err := New(bytes.NewReader(data), int64(len(data)), "fuzz.img")
	if err != nil {
		if !strings.HasPrefix(err.Error(), "fuzz.img: ") {
			t.Fatalf("error does not name the image: %v", err)
		}
		return
	}
	switch ss := img.SectorSize(); {
	case img.Scheme() == SchemeSuperfloppy && (ss == 512 || ss == 1024 || ss == 2048 || ss == 4096):
	case ss == 512 || ss == 4096:
	default:
		t.Fatalf("sector size %d", ss)
	}
	seen := make(map[int]bool)
	for _, p := range img.Partitions() {
		if p.Start < 0 || p.Size <= 0 || p.Start > int64(len(data))-p.Size {
			t.Fatalf("partition %d at %d+%d outside %d bytes", p.Number, p.Start, p.Size, len(data))
		}
		if seen[p.Number] || p.Number < 1 {
			t.Fatalf("partition number %d repeated or < 1", p.Number)
		}
		seen[p.Number] = true
		q, err := img.Partition(p.Number)
		if err != nil || q.Start != p.Start || q.Size != p.Size {
			t.Fatalf("Partition(%d) = %v, %v; listed as %v", p.Number, q, err, p)
		}
		buf := make([]byte, min(512, p.Size))
		if _, err := io.ReadFull(p.Section(), buf); err != nil {
			t.Fatalf("partition %d: %v", p.Number, err)
		}
		if !bytes.Equal(buf, data[p.Start:p.Start+int64(len(buf))]) {
			t.Fatalf("partition %d reads other bytes than the image's", p.Number)
		}
	}
	for _, find := range []func() (*Partition, error){img.BootPartition, img.RootPartition} {
		p, err := find()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.img: ") {
				t.Fatalf("error does not name the image: %v", err)
			}
			continue
		}
		if !seen[p.Number] {
			t.Fatalf("found partition %d not in the list", p.Number)
		}
	}
	if _, err := img.Partition(-1); err == nil {
		t.Fatal("Partition(-1) found")
	}
}

func FuzzMBR(f *testing.F) {
	for _, s := range fuzzSeeds(f, false) {
		f.Add(s)
	}
	// 8 sectors: partition 1, extended 3 with logical 5 and 6 and a
	// link back to the first EBR (a loop).
	m := newMem(8)
	m.table(0, MBREntry{Type: 0x0C, FirstLBA: 1, Sectors: 1, Status: 0x80}, MBREntry{}, MBREntry{Type: 0x05, FirstLBA: 2, Sectors: 6})
	m.table(2, MBREntry{Type: 0x83, FirstLBA: 1, Sectors: 1}, MBREntry{Type: 0x05, FirstLBA: 2, Sectors: 2})
	m.table(4, MBREntry{Type: 0x06, FirstLBA: 1, Sectors: 1}, MBREntry{Type: 0x05, FirstLBA: 0, Sectors: 2})
	m.fat(1, 512, 5)
	if _, err := m.open(); err == nil || !strings.Contains(err.Error(), "loops") {
		f.Fatalf("handmade MBR seed: %v", err)
	}
	f.Add([]byte(m))
	f.Fuzz(checkImage)
}

// fixGPT rewrites the CRCs of whatever GPT headers data holds at LBA 1 and
// at its last LBA, for 512- and 4096-byte sectors, so that fuzzing gets
// past the CRC checks.
func fixGPT(data []byte) {
	for _, ss := range []int{512, 4096} {
		for _, off := range []int{ss, len(data) - ss} {
			if off < ss || off+gptMinHeader > len(data) || string(data[off:off+8]) != "EFI PART" {
				continue
			}
			hdr := data[off:]
			size := int(binary.LittleEndian.Uint32(hdr[12:]))
			lba := binary.LittleEndian.Uint64(hdr[72:])
			n := uint64(binary.LittleEndian.Uint32(hdr[80:])) * uint64(binary.LittleEndian.Uint32(hdr[84:]))
			if lba < uint64(len(data)/ss) && n <= uint64(len(data)) && lba*uint64(ss) <= uint64(len(data))-n {
				a := lba * uint64(ss)
				binary.LittleEndian.PutUint32(hdr[88:], crc32.ChecksumIEEE(data[a:a+n]))
			}
			if size >= gptMinHeader && size <= ss && off+size <= len(data) {
				binary.LittleEndian.PutUint32(hdr[16:], headerCRC(hdr[:size]))
			}
		}
	}
}

func FuzzGPT(f *testing.F) {
	for _, s := range fuzzSeeds(f, true) {
		f.Add(s, false)
		f.Add(s, true)
	}
	// 8 sectors: primary at 1–2, partitions 1 (3–4) and 3 (5),
	// backup at 6–7.
	m := newMem(8)
	m.table(0, MBREntry{Type: 0xEE, FirstLBA: 1, Sectors: 7})
	entries := make([]GPTEntry, 4)
	entries[0] = GPTEntry{Type: GUIDEFISystem, FirstLBA: 3, LastLBA: 4}
	entries[2] = GPTEntry{Type: GUIDLinuxData, FirstLBA: 5, LastLBA: 5}
	array, crc := MarshalGPTEntries(entries, 128)
	for _, h := range []GPTHeader{
		{Revision: 0x10000, MyLBA: 1, AlternateLBA: 7, FirstUsableLBA: 3, LastUsableLBA: 5, EntriesLBA: 2, NumEntries: 4, EntrySize: 128, EntriesCRC32: crc},
		{Revision: 0x10000, MyLBA: 7, AlternateLBA: 1, FirstUsableLBA: 3, LastUsableLBA: 5, EntriesLBA: 6, NumEntries: 4, EntrySize: 128, EntriesCRC32: crc},
	} {
		copy(m[h.MyLBA*512:], h.Marshal(512))
		copy(m[h.EntriesLBA*512:], array)
	}
	m.fat(3, 512, 6)
	mustParse(f, m, 1)
	f.Add([]byte(m), false)
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if fix {
			data = bytes.Clone(data)
			fixGPT(data)
		}
		checkImage(t, data)
	})
}

// TestFixGPT checks the fuzzing helper itself: a header with a wrong CRC
// is accepted once fixed.
func TestFixGPT(t *testing.T) {
	m := newMem(100)
	m.table(0, MBREntry{Type: 0xEE, FirstLBA: 1, Sectors: 99})
	h := GPTHeader{Revision: 0x10000, MyLBA: 1, AlternateLBA: 99, FirstUsableLBA: 34, LastUsableLBA: 90, EntriesLBA: 2, NumEntries: 4, EntrySize: 128}
	copy(m[512:], h.Marshal(512))
	m[1024] = 1 // a non-zero type GUID: the array's CRC no longer matches
	if _, err := m.open(); !errors.Is(err, ErrFormat) {
		t.Fatalf("damaged GPT opened: %v", err)
	}
	fixGPT(m)
	if img, err := m.open(); err != nil || len(img.Partitions()) != 1 {
		t.Fatalf("fixed GPT: %v, %v", img, err)
	}
}
