package fatfs_test

import (
	"bytes"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

const mib = 1 << 20

// volumeCase is a fixture volume to check, built lazily.
type volumeCase struct {
	name     string
	wantType fatfs.Type
	build    func(t *testing.T) *fixture.Volume
}

func superfloppy(spec fixture.FAT) func(t *testing.T) *fixture.Volume {
	return func(t *testing.T) *fixture.Volume { return fixture.NewFAT(t, spec) }
}

func merge(trees ...fixture.Tree) fixture.Tree {
	out := fixture.Tree{}
	for _, t := range trees {
		for k, v := range t {
			out[k] = v
		}
	}
	return out
}

func prefixed(prefix string, t fixture.Tree) fixture.Tree {
	out := fixture.Tree{}
	for k, v := range t {
		out[prefix+k] = v
	}
	return out
}

func volumeCases() []volumeCase {
	return []volumeCase{
		{"fat12-512-2fats", fatfs.FAT12, superfloppy(fixture.FAT{Type: 12, Size: 2 * mib, Label: "FAT12", Tree: fixture.LongNames()})},
		{"fat12-4096-1fat", fatfs.FAT12, superfloppy(fixture.FAT{Type: 12, SectorSize: 4096, FATs: 1, Size: 4 * mib, Tree: fixture.Deep(9)})},
		{"fat16-512-1fat", fatfs.FAT16, superfloppy(fixture.FAT{Type: 16, FATs: 1, SectorsPerCluster: 2, Size: 8 * mib, Label: "BOOT", Tree: merge(fixture.PiBoot(), prefixed("names/", fixture.LongNames()))})},
		{"fat16-4096-2fats", fatfs.FAT16, superfloppy(fixture.FAT{Type: 16, SectorSize: 4096, SectorsPerCluster: 1, Size: 24 * mib, Tree: merge(fixture.PiBoot(), fixture.Deep(8))})},
		{"fat32-512-2fats", fatfs.FAT32, superfloppy(fixture.FAT{Type: 32, SectorsPerCluster: 1, Size: 34 * mib, Label: "FAT32", Tree: merge(fixture.PiBoot(), prefixed("deep/", fixture.Deep(10)), prefixed("n/", fixture.LongNames()))})},
		{"fat32-4096-1fat", fatfs.FAT32, superfloppy(fixture.FAT{Type: 32, SectorSize: 4096, FATs: 1, SectorsPerCluster: 1, Size: 260 * mib, Tree: fixture.PiBoot()})},
		{"fat16-fragmented", fatfs.FAT16, superfloppy(fixture.FAT{Type: 16, Size: 8 * mib, SectorsPerCluster: 2, Tree: fixture.PiBoot(), Fragment: &fixture.Fragment{Path: "frag/fragmented.bin", Extents: 64}})},
		{"fat32-fragmented", fatfs.FAT32, superfloppy(fixture.FAT{Type: 32, Size: 34 * mib, SectorsPerCluster: 1, Fragment: &fixture.Fragment{Path: "kernel8.img", Extents: 200}})},
		{"mbr-logical-p6-fat16", fatfs.FAT16, func(t *testing.T) *fixture.Volume {
			d := fixture.NewDisk(t, fixture.Disk{Label: "dos", Partitions: []fixture.Partition{
				{Type: "83", Size: 1 * mib},
				{Type: "5"},
				{Type: "c", Size: 2 * mib, FAT: &fixture.FAT{Type: 12, Tree: fixture.Tree{"x.txt": {Data: []byte("x")}}}},
				{Type: "e", Size: 8 * mib, FAT: &fixture.FAT{Type: 16, SectorsPerCluster: 1, Label: "PIBOOT", Tree: fixture.PiBoot()}},
			}})
			p := d.Part(t, 6)
			if p.Volume == nil || p.Offset%512 != 0 {
				t.Fatalf("partition 6: %+v", p)
			}
			return p.Volume
		}},
		{"gpt-fat32", fatfs.FAT32, func(t *testing.T) *fixture.Volume {
			d := fixture.NewDisk(t, fixture.Disk{Label: "gpt", Partitions: []fixture.Partition{
				{Type: "uefi", Size: 34 * mib, Name: "boot", FAT: &fixture.FAT{Type: 32, SectorsPerCluster: 1, Tree: merge(fixture.PiBoot(), fixture.Deep(8))}},
				{Type: "linux", Size: 1 * mib, Name: "root"},
			}})
			return d.Part(t, 1).Volume
		}},
	}
}

// mtoolsTree copies the whole volume out with mcopy and returns what mtools
// sees: path → file (directories have Dir set; directory times are not
// kept by mcopy and are left zero).
func mtoolsTree(t *testing.T, v *fixture.Volume) fixture.Tree {
	t.Helper()
	out := t.TempDir()
	fixture.Run(t, "mcopy", "-s", "-n", "-m", "-i", v.Mtools(), "::/", out)
	tree := fixture.Tree{}
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == out {
			return err
		}
		rel, err := filepath.Rel(out, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			tree[rel] = fixture.File{Dir: true}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		tree[rel] = fixture.File{Data: b, ModTime: st.ModTime().UTC()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// fatTree walks fsys and returns what fatfs sees.
func fatTree(t *testing.T, fsys fs.FS) fixture.Tree {
	t.Helper()
	tree := fixture.Tree{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		if d.IsDir() {
			tree[p] = fixture.File{Dir: true}
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		if st.Size() != int64(len(b)) {
			t.Errorf("%s: Size() %d but read %d bytes", p, st.Size(), len(b))
		}
		tree[p] = fixture.File{Data: b, ModTime: st.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func compareTrees(t *testing.T, what string, got, want fixture.Tree, times bool) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("%s: %q missing from fatfs", what, p)
			continue
		}
		if g.Dir != w.Dir {
			t.Errorf("%s: %q dir %v, want %v", what, p, g.Dir, w.Dir)
			continue
		}
		if !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s: %q: %d bytes differ from the %d expected", what, p, len(g.Data), len(w.Data))
		}
		if times && !w.Dir {
			wt := w.ModTime
			if wt.IsZero() {
				wt = fixture.DefaultTime()
			}
			wt = wt.Truncate(2 * time.Second)
			if !g.ModTime.Equal(wt) || g.ModTime.Location() != time.UTC {
				t.Errorf("%s: %q mtime %v, want %v", what, p, g.ModTime, wt)
			}
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: fatfs has %q, not expected", what, p)
		}
	}
}

func openVolume(t *testing.T, v *fixture.Volume) *fatfs.FS {
	t.Helper()
	fsys, err := fatfs.New(v.Open(t), v.Size, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

// TestFixtures checks every fixture against mtools, against the tree it was
// built from, and with fstest.TestFS.
func TestFixtures(t *testing.T) {
	for _, c := range volumeCases() {
		t.Run(c.name, func(t *testing.T) {
			v := c.build(t)
			fsys := openVolume(t, v)
			if fsys.Type() != c.wantType {
				t.Fatalf("type %v, want %v", fsys.Type(), c.wantType)
			}
			if v.Spec.Label != "" && fsys.Label() != v.Spec.Label {
				t.Errorf("label %q, want %q", fsys.Label(), v.Spec.Label)
			}
			got := fatTree(t, fsys)
			compareTrees(t, "mtools", got, mtoolsTree(t, v), true)
			want := fixture.Tree{}
			for p, dir := range v.Tree.Paths() {
				if dir {
					want[p] = fixture.File{Dir: true}
				} else {
					want[p] = v.Tree[p]
				}
			}
			compareTrees(t, "spec", got, want, true)

			var expected []string
			for p := range want {
				expected = append(expected, p)
			}
			slices.Sort(expected)
			if err := fstest.TestFS(fsys, expected...); err != nil {
				t.Error(err)
			}
			// Every name also opens in other cases.
			for _, p := range expected {
				for _, q := range []string{strings.ToUpper(p), strings.ToLower(p)} {
					st, err := fs.Stat(fsys, q)
					if err != nil {
						t.Errorf("Stat(%q): %v", q, err)
						continue
					}
					if st.Name() != path.Base(p) {
						t.Errorf("Stat(%q).Name() = %q, want %q", q, st.Name(), path.Base(p))
					}
				}
			}
		})
	}
}
