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
			// Files' times exactly (mcopy -m copies them out, in UTC);
			// files' and directories' times to the minute against mdir.
			compareTrees(t, "mtools", got, mtoolsTree(t, v), true)
			compareMdirTimes(t, fsys, v)
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

// mdirTimes lists the whole volume with "mdir -/ -a" and returns each
// entry's (file's and directory's) modification time as mdir shows it, to
// the minute.
func mdirTimes(t *testing.T, v *fixture.Volume) map[string]time.Time {
	t.Helper()
	out := string(fixture.Run(t, "mdir", "-/", "-a", "-i", v.Mtools(), "::/"))
	times := make(map[string]time.Time)
	dir := ""
	for _, line := range strings.Split(out, "\n") {
		if d, ok := strings.CutPrefix(line, "Directory for ::/"); ok {
			dir = strings.TrimSpace(d)
			continue
		}
		r := []rune(line)
		if len(r) < 13 || r[8] != ' ' || strings.HasPrefix(line, " ") {
			continue
		}
		base := strings.TrimRight(string(r[:8]), " ")
		ext := strings.TrimRight(string(r[9:12]), " ")
		fields := strings.Fields(string(r[12:]))
		if len(fields) < 3 || base == "." || base == ".." {
			continue
		}
		when, err := time.ParseInLocation("2006-01-02 15:04", fields[1]+" "+fields[2], time.UTC)
		if err != nil {
			continue // not an entry line
		}
		name := base
		if ext != "" {
			name += "." + ext
		}
		// A long name follows the time, after two spaces.
		rest := string(r[12:])
		i := strings.Index(rest, fields[1])
		rest = rest[i+len(fields[1]):]
		i = strings.Index(rest, fields[2])
		if long := rest[i+len(fields[2]):]; strings.HasPrefix(long, "  ") && len(long) > 2 {
			name = long[2:]
		}
		times[path.Join(dir, name)] = when
	}
	return times
}

// compareMdirTimes checks every entry's time against mdir's, to the minute.
func compareMdirTimes(t *testing.T, fsys fs.FS, v *fixture.Volume) {
	t.Helper()
	times := mdirTimes(t, v)
	n := 0
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		want, ok := times[p]
		if !ok {
			t.Errorf("mdir does not list %q", p)
			return nil
		}
		n++
		if got := st.ModTime().Truncate(time.Minute); !got.Equal(want) {
			t.Errorf("%q: mtime %v, mdir says %v", p, st.ModTime(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compared the times of %d entries with mdir", n)
	if n == 0 || n != len(times) {
		t.Errorf("compared %d entries, mdir listed %d", n, len(times))
	}
}
