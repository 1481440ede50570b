package fatfs_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

// TestCorruptFAT32 damages a FAT32 fixture in memory: its FAT entries and
// its boot sector.
func TestCorruptFAT32(t *testing.T) {
	v := fixture.NewFAT(t, fixture.FAT{Type: 32, Size: 34 << 20, SectorsPerCluster: 1, Tree: fixture.PiBoot()})
	orig, err := io.ReadAll(v.Open(t))
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := fatfs.New(bytes.NewReader(orig), int64(len(orig)), nil)
	if err != nil {
		t.Fatal(err)
	}
	g := fsys.Geometry()
	st, err := fsys.Stat("kernel8.img")
	if err != nil {
		t.Fatal(err)
	}
	first := st.Sys().(*fatfs.EntryInfo).FirstCluster
	setFAT := func(img []byte, c, val uint32) {
		for i := 0; i < g.NumFATs; i++ {
			binary.LittleEndian.PutUint32(img[g.FATOffset+int64(i)*g.FATSize+4*int64(c):], val)
		}
	}
	for _, c := range []struct {
		name string
		mod  func(img []byte)
		want string
	}{
		{"loop", func(img []byte) { setFAT(img, first+100, first+7) }, "fatfs: kernel8.img: cluster chain loops at cluster " + itoa(first+7)},
		{"past end", func(img []byte) { setFAT(img, first+3, g.Clusters+2) }, "fatfs: kernel8.img: cluster chain points past the end of the volume (to " + itoa(g.Clusters+2) + ") at cluster " + itoa(first+3)},
		{"short", func(img []byte) { setFAT(img, first+1, 0x0FFFFFFF) }, "fatfs: kernel8.img: cluster chain ends after 2 of the 402 clusters that size 205317 needs at cluster " + itoa(first+1)},
		{"high bits ignored", func(img []byte) { setFAT(img, first, 0xF0000000|(first+1)) }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := bytes.Clone(orig)
			c.mod(img)
			fsys, err := fatfs.New(bytes.NewReader(img), int64(len(img)), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := fsys.ReadFile("kernel8.img")
			if c.want == "" {
				if err != nil || !bytes.Equal(b, fixture.PiBoot()["kernel8.img"].Data) {
					t.Errorf("ReadFile: %d bytes, %v", len(b), err)
				}
				return
			}
			if !errors.Is(err, fatfs.ErrCorrupt) || err.Error() != c.want {
				t.Errorf("error %v\n      want %s", err, c.want)
			}
		})
	}
	for _, c := range []struct {
		name string
		mod  func(b []byte)
		want string
	}{
		{"16-bit FAT size on FAT32", func(b []byte) { b[22] = 1 }, "fatfs: boot sector: FAT of 512 bytes too small for"},
		{"root entries on FAT32", func(b []byte) { b[17] = 16 }, "make FAT32 but the root entry count is 16 (FAT12/16 layout)"},
		{"root cluster", func(b []byte) { binary.LittleEndian.PutUint32(b[44:], 1) }, "root directory cluster 1 outside 2.."},
		{"version", func(b []byte) { b[42] = 1 }, "FAT32 version 0x0001"},
		{"FAT too small", func(b []byte) { binary.LittleEndian.PutUint32(b[36:], 10) }, "too small for"},
	} {
		img := bytes.Clone(orig[:1<<20])
		c.mod(img)
		_, err := fatfs.New(bytes.NewReader(img), int64(len(orig)), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func itoa(c uint32) string { return strconv.FormatUint(uint64(c), 10) }
