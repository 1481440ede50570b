package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"
)

// memImage builds a 512-byte-sector image of n sectors in memory.
type memImage []byte

func newMem(sectors int) memImage { return make(memImage, sectors*512) }

// table writes an MBR or EBR table at sector.
func (m memImage) table(sector int, entries ...MBREntry) {
	var t MBR
	copy(t.Entries[:], entries)
	t.Put(m[sector*512:])
}

// fat writes a minimal FAT16 boot sector at sector, with bytes per sector
// bps and total sectors.
func (m memImage) fat(sector, bps int, total uint32) {
	b := m[sector*512:]
	b[0], b[1], b[2] = 0xEB, 0x3C, 0x90
	copy(b[3:11], "TESTFAT ")
	binary.LittleEndian.PutUint16(b[11:], uint16(bps))
	b[13] = 1                                 // sectors per cluster
	binary.LittleEndian.PutUint16(b[14:], 1)  // reserved
	b[16] = 2                                 // FATs
	binary.LittleEndian.PutUint16(b[17:], 16) // root entries
	b[21] = 0xF8
	binary.LittleEndian.PutUint16(b[22:], 1) // sectors per FAT
	binary.LittleEndian.PutUint32(b[32:], total)
	b[510], b[511] = 0x55, 0xAA
}

func (m memImage) open() (*Image, error) {
	return New(bytes.NewReader(m), int64(len(m)), "mem.img")
}

func TestEBRChain(t *testing.T) {
	// Extended partition 2 covers sectors 100–199.
	base := func() memImage {
		m := newMem(256)
		m.table(0, MBREntry{Type: 0x83, FirstLBA: 10, Sectors: 50}, MBREntry{Type: 0x0F, FirstLBA: 100, Sectors: 100})
		return m
	}
	t.Run("numbers", func(t *testing.T) {
		m := base()
		m.table(100, MBREntry{Type: 0x83, FirstLBA: 2, Sectors: 10}, MBREntry{Type: 0x05, FirstLBA: 20, Sectors: 30})
		m.table(120, MBREntry{Type: 0x06, FirstLBA: 4, Sectors: 20, Status: 0x80}, MBREntry{Type: 0x85, FirstLBA: 50, Sectors: 50})
		m.table(150, MBREntry{Type: 0x0C, FirstLBA: 1, Sectors: 49})
		m.fat(124, 512, 20)
		img, err := m.open()
		if err != nil {
			t.Fatal(err)
		}
		got := img.Partitions()
		if n := numbers(got); !reflect.DeepEqual(n, []int{1, 2, 5, 6, 7}) {
			t.Fatalf("numbers %v", n)
		}
		want := []struct{ start, size int64 }{{10, 50}, {100, 100}, {102, 10}, {124, 20}, {151, 49}}
		for i, w := range want {
			if got[i].Start != w.start*512 || got[i].Size != w.size*512 {
				t.Errorf("partition %d at %d+%d, want sectors %d+%d", got[i].Number, got[i].Start, got[i].Size, w.start, w.size)
			}
		}
		if !got[3].Bootable || got[2].Bootable {
			t.Error("bootable flags wrong")
		}
		boot, err := img.BootPartition()
		if err != nil || boot.Number != 6 {
			t.Errorf("BootPartition %v, %v; want 6", boot, err)
		}
	})
	for _, tc := range []struct {
		name  string
		build func(memImage)
		err   string
	}{
		{"loop", func(m memImage) {
			m.table(100, MBREntry{Type: 0x83, FirstLBA: 2, Sectors: 10}, MBREntry{Type: 0x05, FirstLBA: 20, Sectors: 30})
			m.table(120, MBREntry{Type: 0x83, FirstLBA: 2, Sectors: 10}, MBREntry{Type: 0x05, FirstLBA: 0, Sectors: 30})
		}, "mem.img: logical partition chain loops at sector 100"},
		{"self-loop", func(m memImage) {
			m.table(100, MBREntry{Type: 0x05, FirstLBA: 0, Sectors: 30})
		}, "mem.img: logical partition chain loops at sector 100"},
		{"link-outside", func(m memImage) {
			m.table(100, MBREntry{Type: 0x83, FirstLBA: 2, Sectors: 10}, MBREntry{Type: 0x05, FirstLBA: 100, Sectors: 30})
		}, "mem.img: EBR at sector 100 links to sector 200, outside extended partition 2 (sectors 100–199)"},
		{"logical-outside", func(m memImage) {
			m.table(100, MBREntry{Type: 0x83, FirstLBA: 2, Sectors: 100})
		}, "mem.img: logical partition 5 (sectors 102–201, EBR at sector 100) lies outside extended partition 2 (sectors 100–199)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.build(m)
			_, err := m.open()
			if err == nil || err.Error() != tc.err || !errors.Is(err, ErrFormat) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
	t.Run("long-chain", func(t *testing.T) {
		// 1100 EBRs, each linking to the next: more than maxLogical.
		m := newMem(1200)
		m.table(0, MBREntry{Type: 0x05, FirstLBA: 50, Sectors: 1140})
		for i := 0; i < 1120; i++ {
			m.table(50+i, MBREntry{Type: 0x05, FirstLBA: uint32(i + 1), Sectors: 1})
		}
		_, err := m.open()
		if err == nil || !strings.Contains(err.Error(), "more than 1024 EBRs") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("garbage-and-end", func(t *testing.T) {
		m := base()
		// Entry 3 is garbage outside the extended partition (ignored, as
		// Linux does); the link leads to a sector without signature.
		m.table(100, MBREntry{Type: 0x83, FirstLBA: 2, Sectors: 10}, MBREntry{Type: 0x05, FirstLBA: 20, Sectors: 30},
			MBREntry{Type: 0x41, FirstLBA: 7777, Sectors: 9})
		img, err := m.open()
		if err != nil {
			t.Fatal(err)
		}
		if n := numbers(img.Partitions()); !reflect.DeepEqual(n, []int{1, 2, 5}) {
			t.Errorf("numbers %v", n)
		}
		w := strings.Join(img.Warnings(), "\n")
		if !strings.Contains(w, "entry 3") || !strings.Contains(w, "EBR at sector 120 has no 0x55AA signature") {
			t.Errorf("warnings %q", w)
		}
	})
}

func TestSuperfloppyOrMBR(t *testing.T) {
	t.Run("fat-with-garbage-entries", func(t *testing.T) {
		m := newMem(64)
		m.fat(0, 512, 64)
		copy(m[446:], "boot code and a message that runs into the table area....")
		img, err := m.open()
		if err != nil {
			t.Fatal(err)
		}
		if img.Scheme() != SchemeSuperfloppy || img.Partitions()[0].Type.MBR != 0x0E {
			t.Errorf("scheme %v", img.Scheme())
		}
	})
	t.Run("mbr-with-jump", func(t *testing.T) {
		// A GRUB-like MBR starts with a jump but has no sane BPB.
		m := newMem(64)
		m[0], m[1], m[2] = 0xEB, 0x63, 0x90
		m.table(0, MBREntry{Type: 0x0C, FirstLBA: 8, Sectors: 56})
		m.fat(8, 512, 56)
		img, err := m.open()
		if err != nil {
			t.Fatal(err)
		}
		if img.Scheme() != SchemeMBR {
			t.Errorf("scheme %v", img.Scheme())
		}
		if _, err := img.Partition(0); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Partition(0) on an MBR image: %v", err)
		}
	})
	t.Run("both", func(t *testing.T) {
		// A FAT boot sector that also holds a sensible table is an MBR.
		m := newMem(64)
		m.fat(0, 512, 64)
		m.table(0, MBREntry{Type: 0x0C, FirstLBA: 8, Sectors: 56})
		img, err := m.open()
		if err != nil || img.Scheme() != SchemeMBR {
			t.Errorf("%v, %v", img, err)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		m := newMem(64)
		_, err := m.open()
		if err == nil || !strings.Contains(err.Error(), "mem.img: no partition table") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("tiny", func(t *testing.T) {
		_, err := New(bytes.NewReader(nil), 0, "empty.img")
		if err == nil || !strings.HasPrefix(err.Error(), "empty.img: ") {
			t.Errorf("error %v", err)
		}
	})
}

func TestMBRSectorSize(t *testing.T) {
	// The same table, with a FAT boot sector of 4096 bytes per sector at
	// sector 8 read as 4096-byte sectors: 4096. Then with it at sector 8
	// read as 512-byte sectors: 512.
	m := newMem(8 * 80)
	m.table(0, MBREntry{Type: 0x0C, FirstLBA: 8, Sectors: 60})
	m.fat(64, 4096, 60) // byte 32768 = sector 8 of 4096
	img, err := m.open()
	if err != nil {
		t.Fatal(err)
	}
	if img.SectorSize() != 4096 {
		t.Errorf("sector size %d, want 4096", img.SectorSize())
	}
	m = newMem(8 * 80)
	m.table(0, MBREntry{Type: 0x0C, FirstLBA: 8, Sectors: 60})
	m.fat(8, 512, 60)
	if img, err = m.open(); err != nil || img.SectorSize() != 512 {
		t.Errorf("%v, %v; want 512-byte sectors", img, err)
	}
	m = newMem(8 * 80)
	m.table(0, MBREntry{Type: 0x83, FirstLBA: 8, Sectors: 60})
	if img, err = m.open(); err != nil || img.SectorSize() != 512 {
		t.Errorf("%v, %v; want the default of 512-byte sectors", img, err)
	}
	// An ext4 superblock (magic 0xEF53 at byte 1024+56 of the partition)
	// decides as well.
	binary.LittleEndian.PutUint16(m[8*4096+1024+56:], 0xEF53)
	if img, err = m.open(); err != nil || img.SectorSize() != 4096 {
		t.Errorf("%v, %v; want 4096-byte sectors from the ext superblock", img, err)
	}
}

func TestShortReader(t *testing.T) {
	// The reader holds less than the size claimed: reads fail, never give
	// zeros or garbage.
	m := newMem(256)
	m.table(0, MBREntry{Type: 0x0C, FirstLBA: 10, Sectors: 50}, MBREntry{Type: 0x05, FirstLBA: 100, Sectors: 100})
	_, err := New(bytes.NewReader(m[:4096]), int64(len(m)), "short.img")
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "short.img: reading EBR at sector 100") {
		t.Errorf("error %v", err)
	}
	m.table(0, MBREntry{Type: 0x0C, FirstLBA: 10, Sectors: 50})
	img, err := New(bytes.NewReader(m[:4096]), int64(len(m)), "short.img")
	if err != nil {
		t.Fatal(err)
	}
	p, err := img.Partition(1)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	if n, err := p.Section().ReadAt(buf, 3000); n != 0 || err != io.EOF {
		t.Errorf("ReadAt past the reader's end: %d, %v", n, err)
	}
	if _, err := img.BootPartition(); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("BootPartition over a short reader: %v, want a read error", err)
	}
}

func TestGUID(t *testing.T) {
	// The EFI system partition type as stored on disk.
	disk := GUID{0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B}
	if s := disk.String(); s != "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" {
		t.Errorf("String %s", s)
	}
	g, err := ParseGUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
	if err != nil || g != disk || g != GUIDEFISystem {
		t.Errorf("ParseGUID: %x, %v", g, err)
	}
	for _, bad := range []string{"", "C12A7328F81F11D2BA4B00A0C93EC93B", "C12A7328-F81F-11D2-BA4B-00A0C93EC93G", "C12A7328-F81F-11D2-BA4B00-A0C93EC93B"} {
		if _, err := ParseGUID(bad); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("ParseGUID(%q): %v", bad, err)
		}
	}
	if (Type{MBR: 0x0c}).String() != "0x0c" || (Type{GUID: GUIDLinuxData}).String() != "0FC63DAF-8483-4772-8E79-3D69D8477DE4" {
		t.Error("Type.String")
	}
}

func TestGPTEncodeRoundTrip(t *testing.T) {
	// A GPT built with the encoders alone (for the later prep tool) is read
	// back, with its CRCs accepted.
	const ss = 512
	m := newMem(100)
	m.table(0, MBREntry{Type: 0xEE, FirstLBA: 1, Sectors: 99})
	entries := make([]GPTEntry, 128)
	entries[1] = GPTEntry{Type: GUIDBasicData, Unique: GUID{1}, FirstLBA: 40, LastLBA: 59}
	for i, c := range utf16.Encode([]rune("boot 🍓")) {
		binary.LittleEndian.PutUint16(entries[1].Name[2*i:], c)
	}
	entries[3] = GPTEntry{Type: GUIDLinuxData, Unique: GUID{2}, FirstLBA: 60, LastLBA: 66, Attributes: 1 << 2}
	array, crc := MarshalGPTEntries(entries, 128)
	for _, h := range []GPTHeader{
		{Revision: 0x10000, MyLBA: 1, AlternateLBA: 99, FirstUsableLBA: 34, LastUsableLBA: 66, EntriesLBA: 2, NumEntries: 128, EntrySize: 128, EntriesCRC32: crc},
		{Revision: 0x10000, MyLBA: 99, AlternateLBA: 1, FirstUsableLBA: 34, LastUsableLBA: 66, EntriesLBA: 67, NumEntries: 128, EntrySize: 128, EntriesCRC32: crc},
	} {
		copy(m[h.MyLBA*ss:], h.Marshal(ss))
		copy(m[h.EntriesLBA*ss:], array)
	}
	m.fat(40, 512, 20)
	img, err := m.open()
	if err != nil {
		t.Fatal(err)
	}
	if n := numbers(img.Partitions()); !reflect.DeepEqual(n, []int{2, 4}) {
		t.Fatalf("numbers %v", n)
	}
	boot, err := img.BootPartition()
	if err != nil || boot.Number != 2 || boot.Name != "boot 🍓" {
		t.Errorf("BootPartition %v, %v", boot, err)
	}
	root, err := img.RootPartition()
	if err != nil || root.Number != 4 || !root.Bootable {
		t.Errorf("RootPartition %v, %v", root, err)
	}
	if w := img.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
}

func TestConcurrentReads(t *testing.T) {
	m := newMem(256)
	m.table(0, MBREntry{Type: 0x0C, FirstLBA: 10, Sectors: 50}, MBREntry{Type: 0x83, FirstLBA: 60, Sectors: 100})
	m.fat(10, 512, 50)
	for i := 60 * 512; i < 160*512; i++ {
		m[i] = byte(i)
	}
	img, err := m.open()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				root, err := img.RootPartition()
				if err != nil {
					errs <- err
					return
				}
				b := make([]byte, 100)
				off := int64(g*997+i*31) % (root.Size - 100)
				if _, err := root.Section().ReadAt(b, off); err != nil {
					errs <- err
					return
				}
				if want := byte(root.Start + off); b[0] != want {
					errs <- fmt.Errorf("byte at %d is %d, want %d", off, b[0], want)
					return
				}
				if _, err := img.BootPartition(); err != nil {
					errs <- err
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
