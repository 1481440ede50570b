package fatfs_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

// TestWriteOps runs every write operation on every configuration, checking
// the volume with fsck.fat and mtools after each.
func TestWriteOps(t *testing.T) {
	for _, c := range writeConfigs() {
		t.Run(c.name, func(t *testing.T) {
			r := c.build(t)
			fsys, model := r.fsys, r.model
			cs := fsys.Geometry().ClusterSize
			must := func(what string, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			step := func(what string) {
				t.Helper()
				r.check(t, what)
			}
			free0 := fsys.FreeClusters()

			// Create, overwrite with something shorter, then longer.
			big := fixture.Pseudo(1, 5*cs+17)
			must("create", fsys.WriteFile("file.bin", big, 0o644))
			model["file.bin"] = fixture.File{Data: big}
			step("create")
			if got := free0 - fsys.FreeClusters(); got != 6 {
				t.Errorf("a file of 5 clusters and 17 bytes took %d clusters", got)
			}
			must("overwrite", fsys.WriteFile("FILE.BIN", []byte("short"), 0o644))
			model["file.bin"] = fixture.File{Data: []byte("short")}
			step("overwrite shorter (through another case)")
			if got := free0 - fsys.FreeClusters(); got != 1 {
				t.Errorf("after overwriting with 5 bytes the file holds %d clusters", got)
			}
			longer := fixture.Pseudo(2, 3*cs)
			must("overwrite", fsys.WriteFile("file.bin", longer, 0o644))
			model["file.bin"] = fixture.File{Data: longer}
			step("overwrite longer")

			// Append, write past the end (a gap of zeros), truncate.
			f, err := fsys.OpenFile("file.bin", os.O_RDWR|os.O_APPEND, 0)
			must("open append", err)
			_, err = f.Write([]byte("tail"))
			must("append", err)
			if !r.dirtyOnDisk(t) && fsys.Type() != fatfs.FAT12 {
				t.Error("not marked dirty while a file is being written")
			}
			must("close", f.Close())
			model["file.bin"] = fixture.File{Data: append(bytes.Clone(longer), "tail"...)}
			step("append")
			f, err = fsys.OpenFile("file.bin", os.O_RDWR, 0)
			must("open", err)
			gapAt := int64(3*cs + 4 + 2*cs + 5)
			_, err = f.WriteAt([]byte("after a gap"), gapAt)
			must("writeat", err)
			want := make([]byte, gapAt)
			copy(want, model["file.bin"].Data)
			want = append(want, "after a gap"...)
			got := make([]byte, len(want))
			if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
				t.Errorf("ReadAt through the open file: %v, equal %v", err, bytes.Equal(got, want))
			}
			model["file.bin"] = fixture.File{Data: want}
			must("close", f.Close())
			step("write past the end")
			f, err = fsys.OpenFile("file.bin", os.O_RDWR, 0)
			must("open", err)
			must("truncate", f.Truncate(int64(cs+1)))
			model["file.bin"] = fixture.File{Data: want[:cs+1]}
			st, err := f.Stat()
			if err != nil || st.Size() != int64(cs+1) {
				t.Errorf("Stat after Truncate: %v, %v", st, err)
			}
			must("close", f.Close())
			step("truncate shorter")
			f, err = fsys.OpenFile("file.bin", os.O_RDWR, 0)
			must("open", err)
			must("truncate", f.Truncate(int64(4*cs)))
			must("close", f.Close())
			grown := make([]byte, 4*cs)
			copy(grown, want[:cs+1])
			model["file.bin"] = fixture.File{Data: grown}
			step("truncate longer")
			f, err = fsys.OpenFile("file.bin", os.O_RDWR, 0)
			must("open", err)
			must("truncate", f.Truncate(0))
			must("close", f.Close())
			model["file.bin"] = fixture.File{}
			step("truncate to 0")
			if got := fsys.FreeClusters(); got != free0 {
				t.Errorf("an empty file holds %d clusters", free0-got)
			}

			// Seek and Write; Read back.
			f, err = fsys.Create("seek.txt")
			must("create", err)
			_, err = f.WriteString("hello, world")
			must("write", err)
			_, err = f.Seek(7, io.SeekStart)
			must("seek", err)
			_, err = f.WriteString("there")
			must("write", err)
			_, err = f.Seek(0, io.SeekStart)
			must("seek", err)
			b, err := io.ReadAll(f)
			if err != nil || string(b) != "hello, there" {
				t.Errorf("read back %q, %v", b, err)
			}
			must("close", f.Close())
			model["seek.txt"] = fixture.File{Data: []byte("hello, there")}
			step("seek and write")

			// O_EXCL on an existing file, opening a missing one.
			if _, err := fsys.OpenFile("seek.txt", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644); !errors.Is(err, fs.ErrExist) {
				t.Errorf("O_EXCL on an existing file: %v", err)
			}
			if _, err := fsys.OpenFile("missing", os.O_RDWR, 0); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("opening a missing file: %v", err)
			}

			// Directories: make, nest, fill past a cluster, remove.
			must("mkdir", fsys.Mkdir("dir", 0o755))
			model["dir"] = fixture.File{Dir: true}
			step("mkdir")
			if err := fsys.Mkdir("DIR", 0o755); !errors.Is(err, fs.ErrExist) {
				t.Errorf("mkdir of an existing name in another case: %v", err)
			}
			must("mkdirall", fsys.MkdirAll("dir/a/b/c", 0o755))
			for _, p := range []string{"dir/a", "dir/a/b", "dir/a/b/c"} {
				model[p] = fixture.File{Dir: true}
			}
			step("mkdirall")
			// Enough long names to need more than one cluster of directory.
			n := cs/32/3 + 2
			for i := range n {
				p := "dir/a/A long name for entry number " + string(rune('A'+i%26)) + strings.Repeat("x", i/26) + ".txt"
				must("create "+p, fsys.WriteFile(p, []byte(p), 0o644))
				model[p] = fixture.File{Data: []byte(p)}
			}
			step("directory grown past a cluster")
			err = fsys.Remove("dir/a")
			if !errors.Is(err, syscall.ENOTEMPTY) || !errors.Is(err, fs.ErrExist) {
				t.Errorf("remove of a non-empty directory: %v, want ENOTEMPTY (fs.ErrExist)", err)
			}
			must("remove", fsys.Remove("dir/a/b/c"))
			delete(model, "dir/a/b/c")
			step("rmdir")

			// Rename: in a directory, across directories, a directory (its
			// ".." changes), over an existing file, case only.
			must("rename", fsys.Rename("seek.txt", "Renamed With Long Name.txt"))
			model["Renamed With Long Name.txt"] = model["seek.txt"]
			delete(model, "seek.txt")
			step("rename in a directory")
			must("rename", fsys.Rename("Renamed With Long Name.txt", "dir/a/b/moved.txt"))
			model["dir/a/b/moved.txt"] = model["Renamed With Long Name.txt"]
			delete(model, "Renamed With Long Name.txt")
			step("move to another directory")
			must("rename", fsys.Rename("dir/a", "top level dir"))
			for p, f := range model {
				if strings.HasPrefix(p, "dir/a/") || p == "dir/a" {
					model["top level dir"+strings.TrimPrefix(p, "dir/a")] = f
					delete(model, p)
				}
			}
			step("move a directory to the root")
			must("rename", fsys.Rename("top level dir/b", "dir/b"))
			model["dir/b"] = model["top level dir/b"]
			model["dir/b/moved.txt"] = model["top level dir/b/moved.txt"]
			delete(model, "top level dir/b")
			delete(model, "top level dir/b/moved.txt")
			step("move a directory from one directory to another")
			if err := fsys.Rename("dir", "dir/b/inside"); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("moving a directory into itself: %v", err)
			}
			must("write", fsys.WriteFile("victim", fixture.Pseudo(3, 3*cs), 0o644))
			must("rename", fsys.Rename("file.bin", "victim"))
			model["victim"] = model["file.bin"]
			delete(model, "file.bin")
			step("rename over an existing file")
			must("rename", fsys.Rename("victim", "VICTIM"))
			model["VICTIM"] = model["victim"]
			delete(model, "victim")
			step("rename changing case")
			if st, err := fsys.Stat("victim"); err != nil || st.Name() != "VICTIM" {
				t.Errorf("Stat after a case change: %v, %v", st, err)
			}
			if err := fsys.Rename("dir", "VICTIM"); err == nil {
				t.Error("renaming a directory over a file succeeded")
			}

			// Times.
			mt := time.Date(2021, 7, 4, 12, 30, 42, 0, time.UTC)
			must("chtimes", fsys.Chtimes("VICTIM", time.Time{}, mt))
			if st, err := fsys.Stat("VICTIM"); err != nil || !st.ModTime().Equal(mt) {
				t.Errorf("mtime after Chtimes: %v, %v", st, err)
			}
			mtimes := mtoolsTree(t, r.v)
			if got := mtimes["VICTIM"].ModTime; !got.Equal(mt) {
				t.Errorf("mtools sees mtime %v, want %v", got, mt)
			}
			step("chtimes")

			// RemoveAll, then everything: the volume is as it was.
			must("removeall", fsys.RemoveAll("top level dir"))
			must("removeall", fsys.RemoveAll("dir"))
			must("removeall of a missing name", fsys.RemoveAll("dir"))
			for p := range model {
				if strings.HasPrefix(p, "dir") || strings.HasPrefix(p, "top level dir") {
					delete(model, p)
				}
			}
			step("removeall")
			must("remove", fsys.Remove("VICTIM"))
			delete(model, "VICTIM")
			step("remove")
			if c.name[:6] == "format" {
				if got := fsys.FreeClusters(); got != free0 {
					t.Errorf("after removing everything %d clusters are still used", free0-got)
				}
			}
			must("close", fsys.Close())
			fixture.Fsck(t, r.v)
		})
	}
}
