package fatfs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

// formatted makes an image file of size bytes holding a file system made by
// fatfs.Format, and checks it with fsck.fat.
func formatted(t *testing.T, size int64, opts *fatfs.FormatOptions) *fixture.Volume {
	t.Helper()
	img := filepath.Join(t.TempDir(), "fmt.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := fatfs.Format(f, size, opts); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	v := &fixture.Volume{Image: img, Size: size, Tree: fixture.Tree{}}
	fixture.Fsck(t, v)
	return v
}

func TestFormat(t *testing.T) {
	cases := []struct {
		typ  fatfs.Type
		ss   int
		size int64
		spc  int
	}{
		{fatfs.FAT12, 512, 2 * mib, 0},
		{fatfs.FAT12, 4096, 4 * mib, 0},
		{fatfs.FAT16, 512, 16 * mib, 0},
		{fatfs.FAT16, 4096, 32 * mib, 0},
		{fatfs.FAT32, 512, 40 * mib, 0},
		{fatfs.FAT32, 4096, 300 * mib, 1},
		{0, 512, 4 * mib, 0},   // FAT12 by size
		{0, 512, 100 * mib, 0}, // FAT16 by size
		{0, 512, 600 * mib, 0}, // FAT32 by size
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v-%d-%dM", c.typ, c.ss, c.size/mib), func(t *testing.T) {
			v := formatted(t, c.size, &fatfs.FormatOptions{Type: c.typ, SectorSize: c.ss, SectorsPerCluster: c.spc, Label: "Boot", VolumeID: 0x1234abcd})
			out := string(fixture.Run(t, "mdir", "-a", "-i", v.Mtools(), "::/"))
			if !strings.Contains(out, "No files") || !strings.Contains(out, "BOOT") || !strings.Contains(out, "1234-ABCD") {
				t.Errorf("mdir of the empty root:\n%s", out)
			}
			info := string(fixture.Run(t, "minfo", "-i", v.Mtools(), "::"))
			if !strings.Contains(info, fmt.Sprintf("sector size: %d bytes", c.ss)) {
				t.Errorf("minfo does not report %d-byte sectors:\n%s", c.ss, info)
			}
			fsys := openVolume(t, v)
			want := c.typ
			switch {
			case want != 0:
			case c.size < 16*mib:
				want = fatfs.FAT12
			case c.size < 512*mib:
				want = fatfs.FAT16
			default:
				want = fatfs.FAT32
			}
			if fsys.Type() != want {
				t.Errorf("type %v, want %v", fsys.Type(), want)
			}
			if g := fsys.Geometry(); g.BytesPerSector != c.ss || g.VolumeID != 0x1234abcd || g.NumFATs != 2 {
				t.Errorf("geometry %+v", g)
			}
			if fsys.Label() != "BOOT" {
				t.Errorf("label %q, want BOOT", fsys.Label())
			}
			ents, err := fsys.ReadDir(".")
			if err != nil || len(ents) != 0 {
				t.Errorf("ReadDir(.) = %v, %v; want empty", ents, err)
			}
		})
	}
}

// TestFormatEmptyFile formats an empty file: it grows to the size.
func TestFormatEmptyFile(t *testing.T) {
	img := filepath.Join(t.TempDir(), "new.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := fatfs.Format(f, 40*mib, &fatfs.FormatOptions{Type: fatfs.FAT32}); err != nil {
		t.Fatal(err)
	}
	if st, err := f.Stat(); err != nil || st.Size() != 40*mib {
		t.Fatalf("image size %v, %v; want %d", st.Size(), err, 40*mib)
	}
	fixture.Fsck(t, &fixture.Volume{Image: img, Size: 40 * mib})
}

func TestFormatErrors(t *testing.T) {
	for _, c := range []struct {
		size int64
		opts fatfs.FormatOptions
		want string
	}{
		{1 * mib, fatfs.FormatOptions{Type: fatfs.FAT32}, "FAT32"},
		{1 * mib, fatfs.FormatOptions{Type: fatfs.FAT16, SectorSize: 4096}, "FAT16"},
		{8 * mib, fatfs.FormatOptions{SectorSize: 1000}, "sector size 1000"},
		{8 * mib, fatfs.FormatOptions{NumFATs: 3}, "3 FATs"},
		{8 * mib, fatfs.FormatOptions{SectorsPerCluster: 3}, "sectors per cluster 3"},
		{8 * mib, fatfs.FormatOptions{Label: "a:b"}, `character ':'`},
		{8 * mib, fatfs.FormatOptions{Label: "twelve chars"}, "longer than 11"},
		{64 * mib, fatfs.FormatOptions{Type: fatfs.FAT32, ReservedSectors: 4}, "8 reserved sectors"},
	} {
		err := fatfs.Format(discard{}, c.size, &c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Format(%d, %+v) = %v, want an error mentioning %q", c.size, c.opts, err, c.want)
		}
	}
}

type discard struct{}

func (discard) WriteAt(p []byte, off int64) (int, error) { return len(p), nil }
