package fatfs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// fuzzNames are the names fuzzed operations use: short, long, colliding
// aliases and case variants.
var fuzzNames = []string{"a", "A", "b.txt", "Long Name One.txt", "Long Name Two.txt", "LONG NAME ONE.TXT", "dir", "Sub Dir", "ünï", strings.Repeat("z", 40)}

// fuzzModel is what a volume must hold: path → contents (nil for a
// directory, which is in dirs).
type fuzzModel struct {
	files map[string][]byte
	dirs  map[string]bool
}

// find returns the model path in dir that folds to name, or "".
func (m *fuzzModel) find(dir, name string) string {
	for p := range m.files {
		if path.Dir(p) == dir && strings.EqualFold(path.Base(p), name) {
			return p
		}
	}
	for p := range m.dirs {
		if path.Dir(p) == dir && strings.EqualFold(path.Base(p), name) {
			return p
		}
	}
	return ""
}

func (m *fuzzModel) sortedDirs() []string {
	out := []string{"."}
	for p := range m.dirs {
		out = append(out, p)
	}
	slices.Sort(out[1:])
	return out
}

func (m *fuzzModel) sortedFiles() []string {
	var out []string
	for p := range m.files {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (m *fuzzModel) under(p string) bool {
	for q := range m.files {
		if strings.HasPrefix(q, p+"/") {
			return true
		}
	}
	for q := range m.dirs {
		if strings.HasPrefix(q, p+"/") {
			return true
		}
	}
	return false
}

// compare checks that fsys holds exactly the model.
func (m *fuzzModel) compare(t *testing.T, fsys *FS, what string) {
	t.Helper()
	seen := map[string]bool{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		seen[p] = true
		if d.IsDir() {
			if !m.dirs[p] {
				return fmt.Errorf("unexpected directory %s", p)
			}
			return nil
		}
		want, ok := m.files[p]
		if !ok {
			return fmt.Errorf("unexpected file %s", p)
		}
		got, err := fsys.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s: %d bytes, want %d (or contents differ)", p, len(got), len(want))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for p := range m.files {
		if !seen[p] {
			t.Fatalf("%s: file %s missing", what, p)
		}
	}
	for p := range m.dirs {
		if !seen[p] {
			t.Fatalf("%s: directory %s missing", what, p)
		}
	}
}

// FuzzWrite applies a sequence of write operations decoded from the input
// to a small formatted volume and checks after each that the writable FS
// and a fresh read-only FS both see exactly the model.
func FuzzWrite(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 3, 0, 4, 2, 1, 200, 5, 0, 1})
	f.Add([]byte{1, 4, 6, 0, 0, 0, 6, 0, 7, 9, 9, 9, 0, 0, 1, 250, 250, 3, 0, 0, 0, 8, 1, 2, 3})
	f.Add([]byte{2, 4, 6, 0, 0, 0, 0, 1, 3, 255, 255, 0, 0, 2, 255, 255, 7, 1, 0, 9, 8})
	f.Add(bytes.Repeat([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 8))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 1 || len(in) > 400 {
			return
		}
		opts := []struct {
			size int64
			fo   FormatOptions
		}{
			{512 << 10, FormatOptions{Type: FAT12, SectorsPerCluster: 1, RootEntries: 16}},
			{2200 << 10, FormatOptions{Type: FAT16, SectorsPerCluster: 1}},
			{34 << 20, FormatOptions{Type: FAT32, SectorsPerCluster: 1}},
		}[int(in[0])%3]
		m, fsys := newMem(t, opts.size, &opts.fo)
		cs := fsys.Geometry().ClusterSize
		model := &fuzzModel{files: map[string][]byte{}, dirs: map[string]bool{}}
		next := func() int {
			if len(in) == 0 {
				return 0
			}
			b := in[0]
			in = in[1:]
			return int(b)
		}
		in = in[1:]
		full := func(err error) bool { return errors.Is(err, syscall.ENOSPC) }
		// Files kept open across operations, with the model path each
		// names ("" once removed: its writes reach no name).
		type handle struct {
			f    *File
			path string
		}
		var handles []*handle
		detach := func(p string, tree bool) {
			for _, h := range handles {
				if h.path == p || tree && strings.HasPrefix(h.path, p+"/") {
					h.path = ""
				}
			}
		}
		for step := 0; len(in) > 0 && step < 60; step++ {
			op := next() % 12
			dirs, files := model.sortedDirs(), model.sortedFiles()
			dir := dirs[next()%len(dirs)]
			name := fuzzNames[next()%len(fuzzNames)]
			p := path.Join(dir, name)
			n := next() * cs / 16 * (1 + next()%8)
			var what string
			switch op {
			case 0: // write a whole file
				what = "writefile " + p
				if q := model.find(dir, name); q != "" {
					if model.dirs[q] {
						continue
					}
					p = q
				}
				data := bytes.Repeat([]byte{byte(step)}, n)
				err := fsys.WriteFile(p, data, 0o644)
				switch {
				case err == nil:
					model.files[p] = data
				case full(err):
					model.files[p] = []byte{} // created or truncated, then the write failed
				default:
					t.Fatalf("%s: %v", what, err)
				}
			case 1, 2, 3: // write at, append, truncate
				if len(files) == 0 {
					continue
				}
				p = files[n%len(files)]
				old := model.files[p]
				off := next() * cs / 8
				fl, err := fsys.OpenFile(p, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				var nd []byte
				switch op {
				case 1:
					what = fmt.Sprintf("writeat %s %d", p, off)
					data := bytes.Repeat([]byte{byte(step) | 0x80}, next()*3+1)
					_, err = fl.WriteAt(data, int64(off))
					nd = make([]byte, max(len(old), off+len(data)))
					copy(nd, old)
					copy(nd[off:], data)
				case 2:
					what = "append " + p
					data := bytes.Repeat([]byte{byte(step) | 0x40}, next()*5+1)
					_, err = fl.Seek(0, 2)
					if err == nil {
						_, err = fl.Write(data)
					}
					nd = append(slices.Clone(old), data...)
				case 3:
					what = fmt.Sprintf("truncate %s %d", p, off)
					err = fl.Truncate(int64(off))
					nd = make([]byte, off)
					copy(nd, old)
				}
				if cerr := fl.Close(); cerr != nil {
					t.Fatal(cerr)
				}
				switch {
				case err == nil:
					model.files[p] = nd
				case !full(err):
					t.Fatalf("%s: %v", what, err)
				}
			case 4: // mkdir
				what = "mkdir " + p
				err := fsys.Mkdir(p, 0o755)
				switch {
				case model.find(dir, name) != "":
					if !errors.Is(err, fs.ErrExist) {
						t.Fatalf("%s over an existing name: %v", what, err)
					}
				case err == nil:
					model.dirs[p] = true
				case !full(err):
					t.Fatalf("%s: %v", what, err)
				}
			case 5, 6: // remove, removeall
				all := append(files, dirs[1:]...)
				if len(all) == 0 {
					continue
				}
				p = all[n%len(all)]
				if op == 5 {
					what = "remove " + p
					err := fsys.Remove(p)
					if model.dirs[p] && model.under(p) {
						if !errors.Is(err, syscall.ENOTEMPTY) {
							t.Fatalf("%s (not empty): %v", what, err)
						}
						break
					}
					if err != nil {
						t.Fatalf("%s: %v", what, err)
					}
				} else {
					what = "removeall " + p
					if err := fsys.RemoveAll(p); err != nil {
						t.Fatalf("%s: %v", what, err)
					}
				}
				detach(p, true)
				delete(model.files, p)
				delete(model.dirs, p)
				for q := range model.files {
					if strings.HasPrefix(q, p+"/") {
						delete(model.files, q)
					}
				}
				for q := range model.dirs {
					if strings.HasPrefix(q, p+"/") {
						delete(model.dirs, q)
					}
				}
			case 7: // rename
				all := append(files, dirs[1:]...)
				if len(all) == 0 {
					continue
				}
				src := all[n%len(all)]
				what = "rename " + src + " " + p
				isDir := model.dirs[src]
				err := fsys.Rename(src, p)
				q := model.find(dir, name)
				switch {
				case isDir && (dir == src || strings.HasPrefix(dir, src+"/")):
					if !errors.Is(err, fs.ErrInvalid) {
						t.Fatalf("%s (into itself): %v", what, err)
					}
					continue
				case q != "" && q != src && (model.dirs[q] != isDir || model.dirs[q] && model.under(q)):
					if err == nil {
						t.Fatalf("%s over %s succeeded", what, q)
					}
					continue
				case full(err):
					continue
				case err != nil:
					t.Fatalf("%s: %v", what, err)
				}
				if q != "" && q != src {
					detach(q, false)
					delete(model.files, q)
					delete(model.dirs, q)
				}
				moved := map[string][]byte{}
				movedDirs := []string{}
				for k, v := range model.files {
					if k == src || strings.HasPrefix(k, src+"/") {
						moved[p+strings.TrimPrefix(k, src)] = v
						delete(model.files, k)
					}
				}
				for k := range model.dirs {
					if k == src || strings.HasPrefix(k, src+"/") {
						movedDirs = append(movedDirs, p+strings.TrimPrefix(k, src))
						delete(model.dirs, k)
					}
				}
				for _, h := range handles {
					if h.path == src || strings.HasPrefix(h.path, src+"/") {
						h.path = p + strings.TrimPrefix(h.path, src)
					}
				}
				for k, v := range moved {
					model.files[k] = v
				}
				for _, k := range movedDirs {
					model.dirs[k] = true
				}
			case 8:
				what = "sync"
				if err := fsys.Sync(); err != nil {
					t.Fatal(err)
				}
			case 9: // open a file and keep it open
				if len(files) == 0 || len(handles) >= 3 {
					continue
				}
				p = files[n%len(files)]
				what = "keep open " + p
				fl, err := fsys.OpenFile(p, os.O_RDWR, 0)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				handles = append(handles, &handle{fl, p})
			case 10: // write through a kept file
				if len(handles) == 0 {
					continue
				}
				h := handles[n%len(handles)]
				off := next() * cs / 8
				data := bytes.Repeat([]byte{byte(step) | 0x20}, next()*3+1)
				what = fmt.Sprintf("write kept %q at %d", h.path, off)
				_, err := h.f.WriteAt(data, int64(off))
				switch {
				case full(err):
				case err != nil:
					t.Fatalf("%s: %v", what, err)
				case h.path != "":
					old := model.files[h.path]
					nd := make([]byte, max(len(old), off+len(data)))
					copy(nd, old)
					copy(nd[off:], data)
					model.files[h.path] = nd
				}
				if h.path != "" {
					st, err := h.f.Stat()
					if err != nil || st.Size() != int64(len(model.files[h.path])) {
						t.Fatalf("%s: Stat %v, %v; want size %d", what, st, err, len(model.files[h.path]))
					}
				}
			case 11: // close a kept file
				if len(handles) == 0 {
					continue
				}
				i := n % len(handles)
				what = fmt.Sprintf("close kept %q", handles[i].path)
				if err := handles[i].f.Close(); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				handles = append(handles[:i], handles[i+1:]...)
			}
			model.compare(t, fsys, what+" (writable)")
			model.compare(t, mustNew(t, m.b), what+" (fresh)")
		}
		free := fsys.FreeClusters()
		for _, h := range handles {
			if err := h.f.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if len(handles) == 0 && fsys.FreeClusters() != free {
			t.Fatal("free count changed without anything to close")
		}
		if err := fsys.Close(); err != nil {
			t.Fatal(err)
		}
		model.compare(t, mustNew(t, m.b), "after Close")
		// Every cluster is either free or in a file or directory of the
		// model: closing the removed open files freed theirs.
		fresh, err := NewRW(m, int64(len(m.b)), nil)
		if err != nil {
			t.Fatal(err)
		}
		used := int64(fresh.v.g.Clusters) - fresh.FreeClusters()
		var want int64
		for _, b := range model.files {
			want += (int64(len(b)) + int64(cs) - 1) / int64(cs)
		}
		dirs := []*entry{fresh.root}
		for p := range model.dirs {
			e, err := fresh.resolve("stat", p)
			if err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, e)
		}
		for _, e := range dirs {
			if e.first == 0 {
				continue // the FAT12/16 fixed root
			}
			_, total, err := fresh.v.chain("dir", e.first, -1)
			if err != nil {
				t.Fatal(err)
			}
			want += total / int64(cs)
		}
		if used != want {
			t.Fatalf("%d clusters used, the files and directories hold %d", used, want)
		}
	})
}

// FuzzWriteCorrupt damages a small populated volume (bytes of its boot
// sector, FATs and directories XORed as the input says) and then writes to
// it: every operation must return (an error is fine), never panic or hang.
func FuzzWriteCorrupt(f *testing.F) {
	f.Add([]byte{0, 0})
	f.Add([]byte{0x02, 0x10, 0xFF, 0x02, 0x11, 0x0F}) // FAT entries
	f.Add([]byte{0x0C, 0x40, 0x55, 0x0C, 0x5A, 0x80}) // root directory
	f.Add([]byte{0x00, 0x0D, 0x07, 0x00, 0x11, 0x40}) // boot sector
	base, fsys := newMem(f, 512<<10, &FormatOptions{Type: FAT12, SectorsPerCluster: 1, RootEntries: 32})
	for _, d := range []string{"dir", "dir/Sub Dir"} {
		if err := fsys.Mkdir(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	for i, p := range []string{"a.txt", "Long Name.bin", "dir/x", "dir/Sub Dir/y.dat"} {
		if err := fsys.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 700*i+1), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	if err := fsys.Close(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		img := &memImage{b: bytes.Clone(base.b)}
		// Triples: offset in 256-byte units (within the first 16 KiB:
		// boot sector, FATs, root, first clusters), offset in the unit,
		// XOR mask.
		for i := 0; i+2 < len(in) && i < 60; i += 3 {
			off := int(in[i]%64)*256 + int(in[i+1])
			img.b[off] ^= in[i+2]
		}
		withDeadline(t, func() {
			fsys, err := NewRW(img, int64(len(img.b)), nil)
			if err != nil {
				return
			}
			var names []string
			_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
				if len(names) >= 50 {
					return fs.SkipAll // a damaged tree may loop
				}
				if err == nil && p != "." {
					names = append(names, p)
				}
				return nil
			})
			for i, p := range names {
				if fl, err := fsys.OpenFile(p, os.O_RDWR|os.O_APPEND, 0); err == nil {
					_, _ = fl.Write(bytes.Repeat([]byte{1}, 600))
					_ = fl.Truncate(int64(100 * i))
					_ = fl.Close()
				}
				_ = fsys.Rename(p, p+" renamed")
				_ = fsys.WriteFile(path.Join(path.Dir(p), "new file"), []byte("new"), 0o644)
				_ = fsys.Mkdir(path.Join(path.Dir(p), "new dir"), 0o755)
				_ = fsys.RemoveAll(p + " renamed")
			}
			_ = fsys.Close()
		})
	})
}
