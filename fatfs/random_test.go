package fatfs_test

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

// randomNames are the names the random sequences pick from: 8.3 names in
// one case (no long-name entries), mixed case, long names, names whose 8.3
// aliases collide, non-ASCII names, and names that differ only in case.
var randomNames = []string{
	"a.txt", "B.TXT", "readme", "README.md", "Makefile", "config.txt",
	"Long File Name.txt", "Long File Name 2.txt", "long file name 3.txt",
	"archive.tar.gz", "name.with.many.dots", ".hidden", "ünïcödé.txt",
	"x", "Y", "kernel8.img", "sub", "Sub Dir", "overlays", "a b c d e f g h i j k l m n o.bin",
	strings.Repeat("n", 100) + ".dat",
}

// randomSeq applies steps random operations to r, checking the volume
// after each, and returns the count of operations that failed as expected.
type randomSeq struct {
	t    *testing.T
	r    *rwVolume
	rng  *rand.Rand
	cs   int // cluster size
	step int
}

// dirs lists the model's directories, "." first.
func (s *randomSeq) dirs() []string {
	out := []string{"."}
	for p, f := range s.r.model {
		if f.Dir {
			out = append(out, p)
		}
	}
	slices.Sort(out[1:])
	return out
}

// files lists the model's files.
func (s *randomSeq) files() []string {
	var out []string
	for p, f := range s.r.model {
		if !f.Dir {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// existing returns the model path that name in dir folds to, or "".
func (s *randomSeq) existing(dir, name string) string {
	for p := range s.r.model {
		if path.Dir(p) == dir && strings.EqualFold(path.Base(p), name) {
			return p
		}
	}
	return ""
}

func join(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

func (s *randomSeq) size() int {
	switch s.rng.IntN(10) {
	case 0:
		return 0
	case 1:
		return s.cs * (5 + s.rng.IntN(20))
	default:
		return s.rng.IntN(3 * s.cs)
	}
}

// children lists the model paths under p.
func (s *randomSeq) children(p string) []string {
	var out []string
	for q := range s.r.model {
		if strings.HasPrefix(q, p+"/") {
			out = append(out, q)
		}
	}
	return out
}

// run performs one random operation and updates the model; it returns a
// description.
func (s *randomSeq) run() string {
	t, fsys, model, rng := s.t, s.r.fsys, s.r.model, s.rng
	s.step++
	seed := uint64(s.step)
	fail := func(op string, err error) {
		t.Helper()
		if errors.Is(err, syscall.ENOSPC) {
			return // the model is unchanged: a failed write writes nothing
		}
		t.Fatalf("step %d: %s: %v", s.step, op, err)
	}
	files := s.files()
	dirs := s.dirs()
	switch k := rng.IntN(100); {
	case k < 25 || len(files) == 0: // create or overwrite
		dir := dirs[rng.IntN(len(dirs))]
		name := randomNames[rng.IntN(len(randomNames))]
		p := join(dir, name)
		if q := s.existing(dir, name); q != "" {
			if model[q].Dir {
				if err := fsys.WriteFile(p, nil, 0o644); err == nil {
					t.Fatalf("step %d: WriteFile over directory %s succeeded", s.step, q)
				}
				return "writefile over a directory " + p
			}
			p = q
		}
		data := fixture.Pseudo(seed, s.size())
		if err := fsys.WriteFile(p, data, 0o644); err != nil {
			fail("writefile "+p, err)
			if _, ok := model[p]; !ok {
				// Created, then the write failed: the file exists, empty.
				if _, err := fsys.Stat(p); err == nil {
					model[p] = fixture.File{}
				}
			} else {
				model[p] = fixture.File{} // O_TRUNC happened before the write failed
			}
			return "writefile (full) " + p
		}
		model[p] = fixture.File{Data: data}
		return fmt.Sprintf("writefile %s (%d bytes)", p, len(data))
	case k < 40: // write at an offset, maybe past the end
		p := files[rng.IntN(len(files))]
		old := model[p].Data
		off := rng.IntN(len(old) + s.cs + 1)
		data := fixture.Pseudo(seed, rng.IntN(2*s.cs)+1)
		f, err := fsys.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatalf("step %d: open %s: %v", s.step, p, err)
		}
		_, err = f.WriteAt(data, int64(off))
		if cerr := f.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if err != nil {
			fail("writeat "+p, err)
			return "writeat (full) " + p
		}
		nd := make([]byte, max(len(old), off+len(data)))
		copy(nd, old)
		copy(nd[off:], data)
		model[p] = fixture.File{Data: nd}
		return fmt.Sprintf("writeat %s %d+%d", p, off, len(data))
	case k < 50: // append
		p := files[rng.IntN(len(files))]
		data := fixture.Pseudo(seed, rng.IntN(2*s.cs)+1)
		f, err := fsys.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatalf("step %d: open %s: %v", s.step, p, err)
		}
		_, err = f.Write(data)
		if cerr := f.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if err != nil {
			fail("append "+p, err)
			return "append (full) " + p
		}
		model[p] = fixture.File{Data: append(slices.Clone(model[p].Data), data...)}
		return fmt.Sprintf("append %s +%d", p, len(data))
	case k < 60: // truncate
		p := files[rng.IntN(len(files))]
		old := model[p].Data
		n := rng.IntN(len(old) + 2*s.cs + 1)
		f, err := fsys.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatalf("step %d: open %s: %v", s.step, p, err)
		}
		err = f.Truncate(int64(n))
		if cerr := f.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if err != nil {
			fail("truncate "+p, err)
			return "truncate (full) " + p
		}
		nd := make([]byte, n)
		copy(nd, old)
		model[p] = fixture.File{Data: nd}
		return fmt.Sprintf("truncate %s %d→%d", p, len(old), n)
	case k < 70: // mkdir
		dir := dirs[rng.IntN(len(dirs))]
		name := randomNames[rng.IntN(len(randomNames))]
		p := join(dir, name)
		err := fsys.Mkdir(p, 0o755)
		if q := s.existing(dir, name); q != "" {
			if !errors.Is(err, fs.ErrExist) {
				t.Fatalf("step %d: mkdir %s over %s: %v, want fs.ErrExist", s.step, p, q, err)
			}
			return "mkdir (exists) " + p
		}
		if err != nil {
			fail("mkdir "+p, err)
			return "mkdir (full) " + p
		}
		model[p] = fixture.File{Dir: true}
		return "mkdir " + p
	case k < 82: // remove a file or a directory
		all := append(files, dirs[1:]...)
		p := all[rng.IntN(len(all))]
		err := fsys.Remove(p)
		if model[p].Dir && len(s.children(p)) > 0 {
			if !errors.Is(err, syscall.ENOTEMPTY) || !errors.Is(err, fs.ErrExist) {
				t.Fatalf("step %d: remove of non-empty %s: %v, want ENOTEMPTY", s.step, p, err)
			}
			return "remove (not empty) " + p
		}
		if err != nil {
			t.Fatalf("step %d: remove %s: %v", s.step, p, err)
		}
		delete(model, p)
		return "remove " + p
	case k < 85: // remove a tree
		if len(dirs) < 2 {
			return "nothing"
		}
		p := dirs[1+rng.IntN(len(dirs)-1)]
		if err := fsys.RemoveAll(p); err != nil {
			t.Fatalf("step %d: removeall %s: %v", s.step, p, err)
		}
		for _, q := range s.children(p) {
			delete(model, q)
		}
		delete(model, p)
		return "removeall " + p
	default: // rename or move
		all := append(files, dirs[1:]...)
		src := all[rng.IntN(len(all))]
		dir := dirs[rng.IntN(len(dirs))]
		name := randomNames[rng.IntN(len(randomNames))]
		if rng.IntN(4) == 0 {
			name = strings.ToUpper(path.Base(src)) // often a case change
			dir = path.Dir(src)
		}
		dst := join(dir, name)
		isDir := model[src].Dir
		if isDir && (dir == src || strings.HasPrefix(dir, src+"/")) {
			err := fsys.Rename(src, dst)
			if !errors.Is(err, fs.ErrInvalid) {
				t.Fatalf("step %d: rename %s into itself (%s): %v, want fs.ErrInvalid", s.step, src, dst, err)
			}
			return "rename into itself " + src
		}
		q := s.existing(dir, name)
		if q != "" && q != src {
			replace := !model[q].Dir && !isDir || model[q].Dir && isDir && len(s.children(q)) == 0
			if !replace {
				if err := fsys.Rename(src, dst); err == nil {
					t.Fatalf("step %d: rename %s over %s succeeded", s.step, src, q)
				}
				return "rename refused " + src + " → " + q
			}
			delete(model, q)
		}
		if err := fsys.Rename(src, dst); err != nil {
			fail("rename "+src+" "+dst, err)
			return "rename (full) " + src
		}
		if dst == src {
			return "rename to itself " + src
		}
		moved := s.children(src)
		f := model[src]
		delete(model, src)
		model[dst] = f
		for _, c := range moved {
			model[dst+strings.TrimPrefix(c, src)] = model[c]
			delete(model, c)
		}
		return "rename " + src + " → " + dst
	}
}

func TestRandomSequences(t *testing.T) {
	steps := 200
	if testing.Short() {
		steps = 40
	}
	type run struct {
		config string
		seed   uint64
	}
	var runs []run
	for _, c := range writeConfigs() {
		runs = append(runs, run{c.name, 1})
	}
	for _, name := range []string{"format-fat12-512", "format-fat16-4096", "mkfs-fat32-512"} {
		if !testing.Short() {
			runs = append(runs, run{name, 2}, run{name, 3})
		}
	}
	configs := map[string]writeConfig{}
	for _, c := range writeConfigs() {
		configs[c.name] = c
	}
	for _, rn := range runs {
		t.Run(fmt.Sprintf("%s/seed%d", rn.config, rn.seed), func(t *testing.T) {
			r := configs[rn.config].build(t)
			s := &randomSeq{t: t, r: r, rng: rand.New(rand.NewPCG(rn.seed, 42)), cs: r.fsys.Geometry().ClusterSize}
			var log []string
			for range steps {
				desc := s.run()
				log = append(log, desc)
				r.check(t, fmt.Sprintf("step %d (%s)", s.step, desc))
				if t.Failed() {
					t.Fatalf("after:\n%s", strings.Join(log[max(0, len(log)-10):], "\n"))
				}
			}
			if err := r.fsys.Close(); err != nil {
				t.Fatal(err)
			}
			fixture.Fsck(t, r.v)
			t.Logf("%d steps, %d files and directories at the end", steps, len(r.model))
		})
	}
}

var _ = fatfs.FAT12
