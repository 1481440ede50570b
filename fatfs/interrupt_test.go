package fatfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

// cutImage is a memImage whose writes stop reaching it after the first
// allowed ones, as at a power cut.
type cutImage struct {
	*memImage
	allowed int // writes that still reach the image; -1: all
	writes  int
}

var errCut = errors.New("power cut")

func (c *cutImage) WriteAt(p []byte, off int64) (int, error) {
	c.writes++
	if c.allowed >= 0 && c.writes > c.allowed {
		return 0, errCut
	}
	return c.memImage.WriteAt(p, off)
}

// fsckOutput runs fsck.fat with args on a copy of b and returns its output
// and whether it reported errors.
func fsckOutput(t *testing.T, b []byte, args ...string) (string, bool, []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cut.img")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := fixture.RunErr(t, "fsck.fat", append(args, p)...)
	after, rerr := os.ReadFile(p)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return string(out), err != nil, after
}

// TestInterruptedWrites cuts the power after every write of each operation
// and checks that only the file being changed suffers: every other file
// reads back intact, fsck.fat finds nothing but what it repairs without
// loss (lost clusters, a chain longer than its file, the dirty bit, the
// FSInfo count), never clusters shared by two files, and after
// "fsck.fat -a" the volume is clean.
func TestInterruptedWrites(t *testing.T) {
	type op struct {
		name   string
		victim []string // the paths the operation may lose
		do     func(fsys *FS) error
	}
	ops := []op{
		{"create", []string{"sub/new file.bin"}, func(fsys *FS) error {
			return fsys.WriteFile("sub/new file.bin", fixture.Pseudo(9, 5000), 0o644)
		}},
		{"append", []string{"grow.bin"}, func(fsys *FS) error {
			f, err := fsys.OpenFile("grow.bin", os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			_, err = f.Write(fixture.Pseudo(10, 3000))
			return errors.Join(err, f.Close())
		}},
		{"truncate", []string{"grow.bin"}, func(fsys *FS) error {
			f, err := fsys.OpenFile("grow.bin", os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			return errors.Join(f.Truncate(100), f.Close())
		}},
		{"remove", []string{"sub/gone.bin"}, func(fsys *FS) error { return fsys.Remove("sub/gone.bin") }},
		{"rename", []string{"sub/gone.bin", "moved here.bin"}, func(fsys *FS) error {
			return fsys.Rename("sub/gone.bin", "moved here.bin")
		}},
		{"replace", []string{"sub/gone.bin", "grow.bin"}, func(fsys *FS) error { return fsys.Rename("sub/gone.bin", "grow.bin") }},
		{"mkdir", []string{"sub/new dir"}, func(fsys *FS) error { return fsys.Mkdir("sub/new dir", 0o755) }},
		{"grow directory", nil, func(fsys *FS) error {
			for i := range 12 { // 12 long names: more than the 512-byte cluster holds
				if err := fsys.WriteFile(fmt.Sprintf("sub/a long name number %d", i), nil, 0o644); err != nil {
					return err
				}
			}
			return nil
		}},
		{"move directory", []string{"sub"}, func(fsys *FS) error { return fsys.Rename("sub", "other/sub") }},
	}
	for _, typ := range []Type{FAT16, FAT32} {
		size := map[Type]int64{FAT16: 4 << 20, FAT32: 34 << 20}[typ]
		// The base volume.
		base, fsys := newMem(t, size, &FormatOptions{Type: typ, SectorsPerCluster: 1})
		keep := map[string][]byte{
			"keep.txt":       []byte("keep me"),
			"other/keep.bin": fixture.Pseudo(1, 4000),
			"sub/keep.bin":   fixture.Pseudo(2, 1500),
			"grow.bin":       fixture.Pseudo(3, 2000),
			"sub/gone.bin":   fixture.Pseudo(4, 2500),
		}
		for _, d := range []string{"other", "sub"} {
			if err := fsys.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for p, b := range keep {
			if err := fsys.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := fsys.Close(); err != nil {
			t.Fatal(err)
		}
		for _, o := range ops {
			t.Run(typ.String()+"/"+o.name, func(t *testing.T) {
				if testing.Short() && typ == FAT32 {
					t.Skip("FAT32 images are larger; FAT16 covers the order of writes in -short")
				}
				// Count the operation's writes.
				count := &cutImage{memImage: &memImage{b: bytes.Clone(base.b)}, allowed: -1}
				fsys, err := NewRW(count, size, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := o.do(fsys); err != nil {
					t.Fatal(err)
				}
				total := count.writes
				for cut := 0; cut < total; cut++ {
					img := &cutImage{memImage: &memImage{b: bytes.Clone(base.b)}, allowed: cut}
					fsys, err := NewRW(img, size, nil)
					if err != nil {
						t.Fatal(err)
					}
					if err := o.do(fsys); !errors.Is(err, errCut) {
						t.Fatalf("cut after %d of %d writes: %v", cut, total, err)
					}
					where := fmt.Sprintf("cut after %d of %d writes", cut, total)
					// Other files read back intact.
					ro := mustNew(t, img.b)
					for p, want := range keep {
						lost := false
						for _, v := range o.victim {
							lost = lost || p == v || strings.HasPrefix(p, v+"/")
						}
						if lost {
							continue
						}
						got, err := ro.ReadFile(p)
						if err != nil || !bytes.Equal(got, want) {
							t.Errorf("%s: %s: %v (equal %v)", where, p, err, bytes.Equal(got, want))
						}
					}
					out, bad, _ := fsckOutput(t, img.b, "-n")
					if os.Getenv("SHOWFSCK") != "" {
						t.Logf("%s: %s", where, out)
					}
					if bad && (strings.Contains(out, "share clusters") || strings.Contains(out, "shared") || strings.Contains(out, "Bad directory")) {
						t.Errorf("%s: fsck.fat -n:\n%s", where, out)
					}
					_, _, repaired := fsckOutput(t, img.b, "-a")
					if out, bad, _ := fsckOutput(t, repaired, "-n"); bad {
						t.Errorf("%s: still broken after fsck.fat -a:\n%s", where, out)
					}
				}
				t.Logf("%d cut points", total)
			})
		}
	}
}
