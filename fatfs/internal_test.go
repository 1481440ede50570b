package fatfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

// countingReaderAt counts the reads of the underlying io.ReaderAt.
type countingReaderAt struct {
	r     io.ReaderAt
	reads atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	return c.r.ReadAt(p, off)
}

func mustNew(t testing.TB, img []byte) *FS {
	t.Helper()
	fsys, err := New(bytes.NewReader(img), int64(len(img)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

func TestTinyImage(t *testing.T) {
	fsys := mustNew(t, tinyImage())
	if fsys.Type() != FAT12 || fsys.Label() != "TINY" {
		t.Fatalf("type %v label %q", fsys.Type(), fsys.Label())
	}
	var names []string
	for name, want := range tinyFiles {
		names = append(names, name)
		got, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: contents differ", name)
		}
	}
	if err := fstest.TestFS(fsys, append(names, "Sub")...); err != nil {
		t.Fatal(err)
	}
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if want := []string{"A long name.txt", "Sub", "hello.txt", "ssh"}; !slices.Equal(got, want) {
		t.Errorf("root = %q, want %q (label, deleted entries skipped)", got, want)
	}
	st, err := fs.Stat(fsys, "hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2024, 2, 29, 13, 37, 42, 0, time.UTC); !st.ModTime().Equal(want) {
		t.Errorf("mtime %v, want %v", st.ModTime(), want)
	}
	if st.Mode() != 0o444 {
		t.Errorf("file mode %v", st.Mode())
	}
	info := st.Sys().(*EntryInfo)
	if info.ShortName != "HELLO.TXT" || info.FirstCluster != 2 || !info.Attr.Archive() || info.Attr.Hidden() {
		t.Errorf("Sys = %+v", info)
	}
	if want := time.Date(2024, 3, 7, 12, 0, 0, 0, time.UTC); !info.Created.Equal(want) {
		t.Errorf("created %v, want %v", info.Created, want)
	}
	if want := time.Date(2024, 3, 8, 0, 0, 0, 0, time.UTC); !info.Accessed.Equal(want) {
		t.Errorf("accessed %v, want %v", info.Accessed, want)
	}
	st, err = fs.Stat(fsys, "ssh")
	if err != nil || !st.Sys().(*EntryInfo).Attr.Hidden() || st.Size() != 0 {
		t.Errorf("ssh: %v %v", st, err)
	}
	st, err = fs.Stat(fsys, "sub")
	if err != nil || st.Mode() != fs.ModeDir|0o555 || st.Name() != "Sub" {
		t.Errorf("Sub: %v %v", st, err)
	}
}

func TestLocation(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	fsys, err := New(bytes.NewReader(tinyImage()), tinySectors*512, &Options{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	st, err := fsys.Stat("hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2024, 2, 29, 13, 37, 42, 0, loc); !st.ModTime().Equal(want) || st.ModTime().Location() != loc {
		t.Errorf("mtime %v, want %v", st.ModTime(), want)
	}
}

func TestCaseInsensitive(t *testing.T) {
	fsys := mustNew(t, tinyImage())
	for q, want := range map[string]string{
		"HELLO.TXT":               "hello.txt",
		"Hello.Txt":               "hello.txt",
		"a LONG name.TXT":         "A long name.txt",
		"ALONGN~1.TXT":            "A long name.txt",
		"alongn~1.txt":            "A long name.txt",
		"SUB/INNER.BIN":           "inner.bin",
		"sub/another long.name.X": "Another Long.Name.x",
		"SUB/ANOTHE~1.X":          "Another Long.Name.x",
	} {
		st, err := fsys.Stat(q)
		if err != nil {
			t.Errorf("Stat(%q): %v", q, err)
			continue
		}
		if st.Name() != want {
			t.Errorf("Stat(%q).Name() = %q, want %q", q, st.Name(), want)
		}
		f, err := fsys.Open(q)
		if err != nil {
			t.Errorf("Open(%q): %v", q, err)
			continue
		}
		st2, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if fs.FormatFileInfo(st) != fs.FormatFileInfo(st2) {
			t.Errorf("Stat and Open(%q).Stat disagree: %v vs %v", q, st, st2)
		}
		f.Close()
	}
}

func TestPathErrors(t *testing.T) {
	fsys := mustNew(t, tinyImage())
	for _, name := range []string{"/hello.txt", "hello.txt/", "./hello.txt", "Sub/../hello.txt", "", "a//b", `Sub\inner.bin/..`} {
		for op, fn := range map[string]func() error{
			"open":     func() error { _, err := fsys.Open(name); return err },
			"stat":     func() error { _, err := fsys.Stat(name); return err },
			"readdir":  func() error { _, err := fsys.ReadDir(name); return err },
			"readfile": func() error { _, err := fsys.ReadFile(name); return err },
		} {
			err := fn()
			var pe *fs.PathError
			if !errors.As(err, &pe) || !errors.Is(err, fs.ErrInvalid) || pe.Path != name || pe.Op != op {
				t.Errorf("%s(%q) = %v, want *fs.PathError{%s} with fs.ErrInvalid", op, name, err, op)
			}
		}
	}
	for _, name := range []string{"nope", "hello.txt/x", "Sub/nope", "nope/x", "HELLO.TX"} {
		_, err := fsys.Open(name)
		var pe *fs.PathError
		if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q) = %v, want *fs.PathError with fs.ErrNotExist", name, err)
		}
	}
	if _, err := fsys.ReadDir("hello.txt"); err == nil {
		t.Error("ReadDir of a file succeeded")
	}
	if _, err := fsys.ReadFile("Sub"); err == nil {
		t.Error("ReadFile of a directory succeeded")
	}
}

func TestReadDirN(t *testing.T) {
	fsys := mustNew(t, tinyImage())
	f, err := fsys.Open(".")
	if err != nil {
		t.Fatal(err)
	}
	d := f.(fs.ReadDirFile)
	var got []string
	for i := 0; i < 10; i++ {
		ents, err := d.ReadDir(3)
		if err == io.EOF {
			if len(ents) != 0 {
				t.Errorf("EOF with %d entries", len(ents))
			}
			break
		}
		if err != nil || len(ents) == 0 || len(ents) > 3 {
			t.Fatalf("ReadDir(3) = %d entries, %v", len(ents), err)
		}
		for _, e := range ents {
			got = append(got, e.Name())
		}
	}
	if want := []string{"hello.txt", "A long name.txt", "ssh", "Sub"}; !slices.Equal(got, want) {
		t.Errorf("directory order %q, want %q", got, want)
	}
	ents, err := d.ReadDir(-1)
	if err != nil || len(ents) != 0 {
		t.Errorf("ReadDir(-1) at end = %d, %v; want 0, nil", len(ents), err)
	}
	if _, err := f.Read(make([]byte, 1)); err == nil {
		t.Error("Read of a directory succeeded")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadDir(1); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("ReadDir after Close: %v", err)
	}
}

func TestReadPastEnd(t *testing.T) {
	fsys := mustNew(t, tinyImage())
	f, err := fsys.Open("Sub/inner.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ra := f.(io.ReaderAt)
	p := make([]byte, 1000)
	n, err := ra.ReadAt(p, 1000)
	if n != 500 || err != io.EOF || !bytes.Equal(p[:n], tinyFiles["Sub/inner.bin"][1000:]) {
		t.Errorf("ReadAt across the end = %d, %v", n, err)
	}
	// The rest of the last cluster holds other bytes: they must not show.
	if n, err := ra.ReadAt(p, 1500); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at the end = %d, %v", n, err)
	}
	if n, err := ra.ReadAt(p, 1<<40); n != 0 || err != io.EOF {
		t.Errorf("ReadAt far past the end = %d, %v", n, err)
	}
	if _, err := ra.ReadAt(p, -1); err == nil {
		t.Error("negative offset accepted")
	}
	s := f.(io.Seeker)
	if off, err := s.Seek(-10, io.SeekEnd); off != 1490 || err != nil {
		t.Fatalf("Seek = %d, %v", off, err)
	}
	b, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(b, tinyFiles["Sub/inner.bin"][1490:]) {
		t.Errorf("ReadAll after Seek = %d bytes, %v", len(b), err)
	}
	if _, err := s.Seek(-1, io.SeekStart); err == nil {
		t.Error("negative Seek accepted")
	}
}

func TestPreadsPerRead(t *testing.T) {
	img := tinyImage()
	cr := &countingReaderAt{r: bytes.NewReader(img)}
	fsys, err := New(cr, int64(len(img)), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := cr.reads.Load()
	f, err := fsys.Open("Sub/inner.bin") // extents: cluster 6, clusters 9-10
	if err != nil {
		t.Fatal(err)
	}
	ra := f.(io.ReaderAt)
	p := make([]byte, 400)
	if _, err := ra.ReadAt(p, 0); err != nil {
		t.Fatal(err)
	}
	// root dir, FAT, Sub's directory, then the data.
	if n := cr.reads.Load() - before; n > 4 {
		t.Errorf("first byte of a file in a subdirectory cost %d reads, want ≤ 4", n)
	}
	for _, c := range []struct {
		off, n int64
		reads  int64
	}{
		{0, 512, 1}, {512, 988, 1}, {100, 500, 2}, {0, 1500, 2}, {1000, 400, 1},
	} {
		before := cr.reads.Load()
		p := make([]byte, c.n)
		if _, err := ra.ReadAt(p, c.off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, tinyFiles["Sub/inner.bin"][c.off:c.off+c.n]) {
			t.Errorf("ReadAt(%d, %d): wrong bytes", c.off, c.n)
		}
		if got := cr.reads.Load() - before; got != c.reads {
			t.Errorf("ReadAt(%d, %d) cost %d reads, want %d", c.off, c.n, got, c.reads)
		}
	}
	// Opening again costs no reads: directories and extents are cached.
	before = cr.reads.Load()
	if _, err := fsys.Open("SUB/INNER.BIN"); err != nil {
		t.Fatal(err)
	}
	if got := cr.reads.Load() - before; got != 0 {
		t.Errorf("second Open cost %d reads", got)
	}
}

// withDeadline fails the test if fn does not return within 10 seconds.
func withDeadline(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatal("hung for 10s")
	}
}

func TestCorrupt(t *testing.T) {
	fat := func(img []byte) []byte { return img[tinyFATOff : tinyFATOff+tinyFATSize] }
	// dirEntry finds a short entry by name in the image.
	dirEntry := func(img []byte, name11 string) []byte {
		i := bytes.Index(img[tinyRootOff:], []byte(name11))
		if i < 0 {
			t.Fatalf("no entry %q", name11)
		}
		return img[tinyRootOff+i : tinyRootOff+i+32]
	}
	for _, c := range []struct {
		name    string
		path    string
		corrupt func(img []byte)
		want    string
	}{
		{"loop", "Sub/inner.bin", func(img []byte) { setFAT12(fat(img), 9, 6) }, "fatfs: Sub/inner.bin: cluster chain loops at cluster 6"},
		{"self loop", "hello.txt", func(img []byte) { setFAT12(fat(img), 2, 2) }, "fatfs: hello.txt: cluster chain loops at cluster 2"},
		{"past end", "hello.txt", func(img []byte) { setFAT12(fat(img), 2, 0xF00) }, "fatfs: hello.txt: cluster chain points past the end of the volume (to 3840) at cluster 2"},
		{"short chain", "Sub/inner.bin", func(img []byte) { setFAT12(fat(img), 9, 0xFFF) }, "fatfs: Sub/inner.bin: cluster chain ends after 2 of the 3 clusters that size 1500 needs at cluster 9"},
		{"free", "hello.txt", func(img []byte) { setFAT12(fat(img), 2, 0) }, "fatfs: hello.txt: cluster chain reaches a free FAT entry at cluster 2"},
		{"reserved", "hello.txt", func(img []byte) { setFAT12(fat(img), 2, 1) }, "fatfs: hello.txt: cluster chain reaches a reserved FAT entry at cluster 2"},
		{"bad cluster", "hello.txt", func(img []byte) { setFAT12(fat(img), 2, 0xFF7) }, "fatfs: hello.txt: cluster chain reaches a bad-cluster mark at cluster 2"},
		{"bad first cluster", "hello.txt", func(img []byte) { dirEntry(img, "HELLO   TXT")[26] = 1 }, "fatfs: hello.txt: first cluster outside the data area 2..196 at cluster 1"},
		{"first cluster past end", "hello.txt", func(img []byte) { dirEntry(img, "HELLO   TXT")[27] = 0x40 }, "fatfs: hello.txt: first cluster outside the data area 2..196 at cluster 16386"},
		{"absurd size", "hello.txt", func(img []byte) { copy(dirEntry(img, "HELLO   TXT")[28:], []byte{0xFF, 0xFF, 0xFF, 0xFF}) }, "fatfs: hello.txt: size 4294967295 larger than the volume's 195 clusters of 512 bytes at cluster 2"},
		{"size beyond chain", "A long name.txt", func(img []byte) { dirEntry(img, "ALONGN~1TXT")[29] = 0x10 }, "fatfs: A long name.txt: cluster chain ends after 1 of the 9 clusters that size 4196 needs at cluster 4"},
		{"directory loop", "Sub/inner.bin", func(img []byte) { setFAT12(fat(img), tinySubdirClu, tinySubdirClu) }, "fatfs: Sub: cluster chain loops at cluster 5"},
		{"directory without clusters", "Sub/inner.bin", func(img []byte) { dirEntry(img, "SUB        ")[26] = 0 }, "fatfs: Sub: directory without clusters at cluster 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := tinyImage()
			c.corrupt(img)
			withDeadline(t, func() {
				fsys := mustNew(t, img)
				_, err := fsys.Open(c.path)
				var ce *CorruptError
				if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open(%q) = %v, want a *CorruptError", c.path, err)
				}
				if err.Error() != c.want {
					t.Errorf("error %q\n      want %q", err, c.want)
				}
				if _, err := fsys.ReadFile(c.path); err == nil {
					t.Error("ReadFile succeeded")
				}
				// Walking the whole tree finishes, with the error.
				var walkErr error
				fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
					if err == nil && !d.IsDir() {
						_, err = fsys.ReadFile(p)
					}
					if err != nil && walkErr == nil {
						walkErr = err
					}
					return nil
				})
				if walkErr == nil {
					t.Error("walking the tree found no error")
				}
			})
		})
	}
}

func TestChainLongerThanNeeded(t *testing.T) {
	img := tinyImage()
	f := img[tinyFATOff : tinyFATOff+tinyFATSize]
	setFAT12(f, 4, 20) // "A long name.txt" (1 cluster) continues into 20, 21
	setFAT12(f, 20, 21)
	setFAT12(f, 21, 0xFFF)
	fsys := mustNew(t, img)
	b, err := fsys.ReadFile("A long name.txt")
	if err != nil || !bytes.Equal(b, tinyFiles["A long name.txt"]) {
		t.Errorf("ReadFile = %d bytes, %v", len(b), err)
	}
}

func TestBadNames(t *testing.T) {
	img := tinyImage()
	// A bad LFN checksum: the 8.3 name is used.
	i := bytes.Index(img[tinyRootOff:], []byte("A\x00 \x00l\x00"))
	img[tinyRootOff+i-1+13]++
	// A short name with a control character and no long name: left out.
	j := bytes.Index(img[tinyRootOff:], []byte("SSH        "))
	img[tinyRootOff+j+1] = 0x01
	fsys := mustNew(t, img)
	ents, err := fsys.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if want := []string{"ALONGN~1.TXT", "Sub", "hello.txt"}; !slices.Equal(got, want) {
		t.Errorf("root = %q, want %q", got, want)
	}
	if err := fstest.TestFS(fsys, "ALONGN~1.TXT", "hello.txt", "Sub/inner.bin"); err != nil {
		t.Error(err)
	}
}

func TestBootSectorErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(b []byte)
		want string
	}{
		{"sector size", func(b []byte) { b[11], b[12] = 0xE8, 0x03 }, "fatfs: boot sector: bytes per sector 1000 not a power of two in 512..4096"},
		{"cluster size", func(b []byte) { b[13] = 3 }, "sectors per cluster 3 not a power of two"},
		{"no jump", func(b []byte) { b[0] = 0 }, "no x86 jump"},
		{"signature", func(b []byte) { b[510] = 0 }, "signature at offset 510"},
		{"fats", func(b []byte) { b[16] = 3 }, "number of FATs 3"},
		{"reserved", func(b []byte) { b[14] = 0 }, "reserved sector count is 0"},
		{"media", func(b []byte) { b[21] = 0x12 }, "media descriptor"},
		{"too big", func(b []byte) { b[19], b[20] = 0xFF, 0x0F }, "larger than the 102400 bytes given"},
		{"FAT32 layout on FAT12 geometry", func(b []byte) { b[22] = 0; copy(b[36:], []byte{1, 0, 0, 0}) }, "195 clusters make FAT12 but the 16-bit FAT size is 0 (FAT32 layout)"},
		{"no root entries", func(b []byte) { b[17] = 0 }, "make FAT12 but the root entry count is 0"},
		{"totals disagree", func(b []byte) { b[32] = 1 }, "16-bit total sectors 200 and 32-bit total sectors 1 disagree"},
	} {
		img := tinyImage()
		c.mod(img)
		_, err := New(bytes.NewReader(img), int64(len(img)), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "fatfs: boot sector: ") {
			t.Errorf("%s: err %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, err := New(bytes.NewReader(nil), 0, nil); err == nil {
		t.Error("empty volume accepted")
	}
	img := tinyImage()
	if _, err := New(bytes.NewReader(img[:1000]), int64(len(img)), nil); err != nil {
		t.Errorf("a short reader fails only on reading: %v", err)
	}
}

func TestShortReader(t *testing.T) {
	img := tinyImage()
	fsys, err := New(bytes.NewReader(img[:tinyClusterOff(9)]), int64(len(img)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.ReadFile("Sub/inner.bin"); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading past the reader's end: %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestDuplicateNamesAndEnd puts two names that differ only in case into one
// directory (FAT forbids it; a corrupt or foreign image may have it), and an
// entry after the end-of-directory mark.
func TestDuplicateNamesAndEnd(t *testing.T) {
	img := tinyImage()
	sub := img[tinyClusterOff(tinySubdirClu):]
	var extra []byte
	extra = append(extra, lfn("Dup.txt", "DUP~1   TXT")...)
	extra = append(extra, dirent("DUP~1   TXT", AttrArchive, 0, 4, 100)...) // "A long name.txt"'s bytes
	extra = append(extra, dirent("DUP     TXT", AttrArchive, 0, 2, 600)...) // hello.txt's bytes
	extra = append(extra, make([]byte, 32)...)                              // end of directory
	extra = append(extra, dirent("AFTER   TXT", AttrArchive, 0, 2, 600)...)
	copy(sub[6*32:], extra) // after ".", "..", inner.bin and Another Long.Name.x (2 LFN + 1)
	fsys := mustNew(t, img)
	ents, err := fsys.ReadDir("Sub")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"Another Long.Name.x", "DUP.TXT", "Dup.txt", "inner.bin"}; !slices.Equal(names, want) {
		t.Errorf("Sub = %q, want %q", names, want)
	}
	for i := 0; i < 3; i++ {
		for _, q := range []string{"Sub/dup.txt", "Sub/DUP.TXT", "Sub/Dup.txt"} {
			st, err := fsys.Stat(q)
			if err != nil || st.Name() != "Dup.txt" || st.Size() != 100 {
				t.Errorf("Stat(%q) = %v, %v; want the first in directory order, Dup.txt", q, st, err)
			}
		}
	}
	if _, err := fsys.Stat("Sub/after.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an entry after the end mark was found: %v", err)
	}
}
