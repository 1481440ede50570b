package fatfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

// fsckMem writes the in-memory volume to a file and checks it with
// fsck.fat -n.
func fsckMem(t *testing.T, m *memImage) {
	t.Helper()
	m.mu.RLock()
	b := bytes.Clone(m.b)
	m.mu.RUnlock()
	p := filepath.Join(t.TempDir(), "mem.img")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	fixture.Fsck(t, &fixture.Volume{Image: p, Size: int64(len(b))})
}

func TestOpenFileSemantics(t *testing.T) {
	for _, typ := range []Type{FAT12, FAT16, FAT32} {
		t.Run(typ.String(), func(t *testing.T) {
			size := map[Type]int64{FAT12: 2 << 20, FAT16: 4 << 20, FAT32: 40 << 20}[typ]
			m, fsys := newMem(t, size, &FormatOptions{Type: typ, SectorsPerCluster: 1})
			free0 := fsys.FreeClusters()
			if fsys.Dirty() {
				t.Error("dirty before any write")
			}
			a, err := fsys.Create("shared.txt")
			if err != nil {
				t.Fatal(err)
			}
			b, err := fsys.OpenFile("SHARED.TXT", os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Write([]byte("written by a")); err != nil {
				t.Fatal(err)
			}
			if typ != FAT12 && !fsys.Dirty() {
				t.Error("not dirty while writing")
			}
			got, err := io.ReadAll(b)
			if err != nil || string(got) != "written by a" {
				t.Errorf("second handle reads %q, %v", got, err)
			}
			if _, err := b.Write([]byte("x")); !errors.Is(err, fs.ErrPermission) {
				t.Errorf("Write on an O_RDONLY file: %v", err)
			}
			if err := fsys.Sync(); err != nil {
				t.Fatal(err)
			}
			if fsys.Dirty() {
				t.Error("dirty after Sync")
			}
			fsckMem(t, m)

			// Rename while open: later writes go to the renamed entry.
			if err := fsys.Rename("shared.txt", "Renamed File.txt"); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Write([]byte(", then renamed")); err != nil {
				t.Fatal(err)
			}
			if got, err := fsys.ReadFile("Renamed File.txt"); err != nil || string(got) != "written by a, then renamed" {
				t.Errorf("after rename: %q, %v", got, err)
			}

			// Remove while open: the name goes at once, the clusters stay
			// until the last handle closes.
			big := fixture.Pseudo(5, 10000)
			if _, err := a.Write(big); err != nil {
				t.Fatal(err)
			}
			if err := fsys.Remove("Renamed File.txt"); err != nil {
				t.Fatal(err)
			}
			if _, err := fsys.Stat("Renamed File.txt"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat after Remove: %v", err)
			}
			if _, err := a.Write([]byte("more")); err != nil {
				t.Errorf("write to a removed open file: %v", err)
			}
			p := make([]byte, 4)
			if _, err := b.ReadAt(p, int64(len("written by a, then renamed")+len(big))); err != nil || string(p) != "more" {
				t.Errorf("read of a removed open file: %q, %v", p, err)
			}
			if err := fsys.Sync(); err != nil {
				t.Fatal(err)
			}
			if fsys.FreeClusters() == free0 {
				t.Error("clusters of a removed open file freed before it was closed")
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			if err := a.Close(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("second Close: %v", err)
			}
			if _, err := a.Write([]byte("x")); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("Write after Close: %v", err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if got := fsys.FreeClusters(); got != free0 {
				t.Errorf("after the last Close %d clusters still used", free0-got)
			}
			if err := fsys.Sync(); err != nil {
				t.Fatal(err)
			}
			fsckMem(t, m)

			// A read-only file cannot be opened for writing.
			if err := fsys.WriteFile("ro.txt", []byte("ro"), 0o444); err != nil {
				t.Fatal(err)
			}
			if _, err := fsys.OpenFile("ro.txt", os.O_WRONLY, 0); !errors.Is(err, fs.ErrPermission) {
				t.Errorf("opening a read-only file for writing: %v", err)
			}
			if st, err := fsys.Stat("ro.txt"); err != nil || !st.Sys().(*EntryInfo).Attr.ReadOnly() {
				t.Errorf("ro.txt: %v, %v", st, err)
			}
			if _, err := fsys.OpenFile("", os.O_RDONLY, 0); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("empty name: %v", err)
			}
			if err := fsys.Mkdir("d", 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := fsys.OpenFile("d", os.O_RDWR, 0); err == nil {
				t.Error("opening a directory for writing succeeded")
			}
			if err := fsys.WriteFile("d/x/y", nil, 0o644); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("creating in a missing directory: %v", err)
			}
			if err := fsys.WriteFile("ro.txt/y", nil, 0o644); err == nil {
				t.Error("creating under a file succeeded")
			}

			// A file removed while open is freed by FS.Close too.
			c, err := fsys.Create("left open")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(big); err != nil {
				t.Fatal(err)
			}
			if err := fsys.Remove("left open"); err != nil {
				t.Fatal(err)
			}
			if err := fsys.Close(); err != nil {
				t.Fatal(err)
			}
			if fsys.Dirty() {
				t.Error("dirty after Close")
			}
			if _, err := c.Write([]byte("x")); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("write after FS.Close: %v", err)
			}
			if err := fsys.Mkdir("late", 0o755); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("mkdir after FS.Close: %v", err)
			}
			fsckMem(t, m)
			ro := mustNew(t, m.b)
			if ents, err := ro.ReadDir("."); err != nil || len(ents) != 2 {
				t.Errorf("root after Close: %v, %v", ents, err)
			}
		})
	}
}

// TestConcurrentReadWrite reads files that do not change while a writer
// churns others in the same directories (-race checks the locking).
func TestConcurrentReadWrite(t *testing.T) {
	for _, typ := range []Type{FAT16, FAT32} {
		t.Run(typ.String(), func(t *testing.T) {
			size := int64(8 << 20)
			if typ == FAT32 {
				size = 40 << 20
			}
			m, fsys := newMem(t, size, &FormatOptions{Type: typ, SectorsPerCluster: 1})
			stable := map[string][]byte{}
			for i := range 8 {
				p := fmt.Sprintf("dir%d/stable file %d.bin", i%2, i)
				if err := fsys.MkdirAll(fmt.Sprintf("dir%d", i%2), 0o755); err != nil {
					t.Fatal(err)
				}
				stable[p] = fixture.Pseudo(uint64(i), 3000+i*1000)
				if err := fsys.WriteFile(p, stable[p], 0o644); err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for r := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 2000; i++ {
						select {
						case <-done:
							return
						default:
						}
						for p, want := range stable {
							got, err := fsys.ReadFile(p)
							if err != nil || !bytes.Equal(got, want) {
								errs <- fmt.Errorf("reader %d: %s: %v (equal %v)", r, p, err, bytes.Equal(got, want))
								return
							}
						}
						// Churned files: anything but a panic or a race.
						_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
							if err == nil && !d.IsDir() {
								_, _ = fsys.ReadFile(p)
							}
							return nil
						})
					}
				}()
			}
			for i := range 300 {
				p := fmt.Sprintf("dir%d/churn %d.bin", i%2, i%7)
				var err error
				switch i % 4 {
				case 0, 1:
					err = fsys.WriteFile(p, fixture.Pseudo(uint64(i), 100*i), 0o644)
				case 2:
					err = fsys.Rename(p, fmt.Sprintf("dir%d/churn %d.bin", (i+1)%2, (i+3)%7))
				case 3:
					err = fsys.Remove(p)
				}
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("writer, step %d: %v", i, err)
				}
			}
			close(done)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if err := fsys.Close(); err != nil {
				t.Fatal(err)
			}
			fsckMem(t, m)
		})
	}
}

// TestRootDirectory fills the FAT16 fixed root (ENOSPC, nothing changed)
// and grows the FAT32 root past its first cluster.
func TestRootDirectory(t *testing.T) {
	t.Run("FAT16 fixed root", func(t *testing.T) {
		m, fsys := newMem(t, 4<<20, &FormatOptions{Type: FAT16, SectorsPerCluster: 1, RootEntries: 32})
		made := 0
		for i := range 40 {
			err := fsys.WriteFile(fmt.Sprintf("F%d", i), []byte{byte(i)}, 0o644)
			if err != nil {
				if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "root directory full") {
					t.Fatalf("file %d: %v", i, err)
				}
				break
			}
			made++
		}
		if made != 32 {
			t.Errorf("%d 8.3 files fit a 32-entry root", made)
		}
		if err := fsys.Mkdir("another", 0o755); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("mkdir in a full root: %v", err)
		}
		if err := fsys.Remove("F3"); err != nil {
			t.Fatal(err)
		}
		if err := fsys.WriteFile("a long name takes three slots", nil, 0o644); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("a long name in one free slot: %v", err)
		}
		if err := fsys.WriteFile("G", nil, 0o644); err != nil {
			t.Errorf("an 8.3 name in the freed slot: %v", err)
		}
		if err := fsys.Close(); err != nil {
			t.Fatal(err)
		}
		fsckMem(t, m)
		if ents, err := mustNew(t, m.b).ReadDir("."); err != nil || len(ents) != 32 {
			t.Errorf("root: %d entries, %v", len(ents), err)
		}
	})
	t.Run("FAT32 root grows", func(t *testing.T) {
		m, fsys := newMem(t, 34<<20, &FormatOptions{Type: FAT32, SectorsPerCluster: 1})
		for i := range 40 {
			if err := fsys.WriteFile(fmt.Sprintf("a long file name in the root %d", i), []byte{byte(i)}, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := fsys.Close(); err != nil {
			t.Fatal(err)
		}
		fsckMem(t, m)
		ro := mustNew(t, m.b)
		if ents, err := ro.ReadDir("."); err != nil || len(ents) != 40 {
			t.Errorf("root: %d entries, %v", len(ents), err)
		}
		exts, total, err := ro.v.chain(".", ro.v.g.RootCluster, -1)
		if err != nil || total < 40*3*32 {
			t.Errorf("root chain: %v, %d bytes, %v", exts, total, err)
		}
	})
}

// TestAllocation checks next-fit allocation and that large files get
// contiguous runs rather than filling one-cluster holes.
func TestAllocation(t *testing.T) {
	m, fsys := newMem(t, 4<<20, &FormatOptions{Type: FAT16, SectorsPerCluster: 1})
	cs := fsys.Geometry().ClusterSize
	extents := func(name string) int {
		t.Helper()
		f, err := fsys.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return len(f.(*File).exts)
	}
	first := func(name string) uint32 {
		t.Helper()
		st, err := fsys.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		return st.Sys().(*EntryInfo).FirstCluster
	}
	for i := range 100 {
		if err := fsys.WriteFile(fmt.Sprintf("small%03d", i), []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < 100; i++ {
		if a, b := first(fmt.Sprintf("small%03d", i-1)), first(fmt.Sprintf("small%03d", i)); b != a+1 {
			t.Fatalf("consecutive one-cluster files at clusters %d and %d", a, b)
		}
	}
	for i := 0; i < 100; i += 2 {
		if err := fsys.Remove(fmt.Sprintf("small%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// One write of 50 clusters: one run, not 50 holes.
	if err := fsys.WriteFile("big", fixture.Pseudo(1, 50*cs), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := extents("big"); n != 1 {
		t.Errorf("a 50-cluster file written at once has %d extents", n)
	}
	// Written 8 clusters at a time, a file grows in place.
	f, err := fsys.Create("streamed")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, err := f.Write(fixture.Pseudo(uint64(i), 8*cs)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n := extents("streamed"); n != 1 {
		t.Errorf("a file written 8 clusters at a time has %d extents", n)
	}
	// Next fit: the holes are used once the space after the hint is gone.
	free := fsys.FreeClusters()
	if err := fsys.WriteFile("rest", fixture.Pseudo(2, int(free)*cs), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := fsys.FreeClusters(); got != 0 {
		t.Errorf("%d clusters free after filling", got)
	}
	if err := fsys.Close(); err != nil {
		t.Fatal(err)
	}
	fsckMem(t, m)
}

// TestRenameOverOpenFile replaces a file that is open by another whose
// entry takes the freed slot: both open files keep working.
func TestRenameOverOpenFile(t *testing.T) {
	m, fsys := newMem(t, 4<<20, &FormatOptions{Type: FAT16, SectorsPerCluster: 1})
	if err := fsys.WriteFile("target", []byte("old target"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fsys.WriteFile("source", []byte("source"), 0o644); err != nil {
		t.Fatal(err)
	}
	tf, err := fsys.OpenFile("target", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	sf, err := fsys.OpenFile("source", os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.Rename("source", "target"); err != nil {
		t.Fatal(err)
	}
	// A new handle on the renamed entry shares the source's state.
	nf, err := fsys.OpenFile("TARGET", os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nf.Write(fixture.Pseudo(1, 3000)); err != nil {
		t.Fatal(err)
	}
	if err := nf.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sf.Write([]byte(" grows")); err != nil {
		t.Fatal(err)
	}
	if _, err := tf.WriteAt([]byte("OLD"), 0); err != nil {
		t.Fatal(err)
	}
	want := string(fixture.Pseudo(1, 3000))
	want = "source" + want + " grows"
	if got, err := fsys.ReadFile("target"); err != nil || string(got) != want {
		t.Errorf("target after the rename: %d bytes, %v; want %d", len(got), err, len(want))
	}
	p := make([]byte, 10)
	if _, err := tf.ReadAt(p, 0); err != nil || string(p) != "OLD target" {
		t.Errorf("the replaced open file reads %q, %v", p, err)
	}
	if err := errors.Join(tf.Close(), sf.Close(), fsys.Close()); err != nil {
		t.Fatal(err)
	}
	fsckMem(t, m)
	if got, err := mustNew(t, m.b).ReadFile("target"); err != nil || string(got) != want {
		t.Errorf("target read fresh: %d bytes, %v", len(got), err)
	}
}

// refusing is a ReadWriterAt whose writes all fail.
type refusing struct{ *memImage }

func (refusing) WriteAt([]byte, int64) (int, error) { return 0, errors.New("refused") }

// TestNoWritesWithoutChanges opens a volume writable over a writer that
// refuses: reading, failed operations, Sync and Close write nothing.
func TestNoWritesWithoutChanges(t *testing.T) {
	for _, typ := range []Type{FAT12, FAT32} {
		size := map[Type]int64{FAT12: 2 << 20, FAT32: 34 << 20}[typ]
		m, fsys := newMem(t, size, &FormatOptions{Type: typ})
		if err := fsys.WriteFile("a.txt", []byte("a"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := fsys.Close(); err != nil {
			t.Fatal(err)
		}
		// FSInfo off by one: still nothing is written to correct it.
		if typ == FAT32 {
			m.b[512+488]++
		}
		ro, err := NewRW(refusing{m}, size, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := ro.ReadFile("a.txt"); err != nil || string(b) != "a" {
			t.Errorf("%v: read %q, %v", typ, b, err)
		}
		if err := ro.Mkdir("a.txt", 0o755); !errors.Is(err, fs.ErrExist) {
			t.Errorf("%v: mkdir over a file: %v", typ, err)
		}
		if err := ro.Remove("missing"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%v: remove of a missing file: %v", typ, err)
		}
		if err := errors.Join(ro.Sync(), ro.Close()); err != nil {
			t.Errorf("%v: Sync and Close with nothing written: %v", typ, err)
		}
	}
}
