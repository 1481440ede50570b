package fatfs

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"
)

// memImage is an in-memory ReadWriterAt, safe for concurrent use.
type memImage struct {
	mu sync.RWMutex
	b  []byte
}

func (m *memImage) ReadAt(p []byte, off int64) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if off >= int64(len(m.b)) {
		return 0, errors.New("memImage: read past the end")
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, errors.New("memImage: short read")
	}
	return n, nil
}

func (m *memImage) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off+int64(len(p)) > int64(len(m.b)) {
		return 0, errors.New("memImage: write past the end")
	}
	return copy(m.b[off:], p), nil
}

// newMem formats an in-memory volume and opens it writable.
func newMem(t testing.TB, size int64, opts *FormatOptions) (*memImage, *FS) {
	t.Helper()
	m := &memImage{b: make([]byte, size)}
	if err := Format(m, size, opts); err != nil {
		t.Fatal(err)
	}
	fsys, err := NewRW(m, size, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, fsys
}

// rawRoot returns the slots of the FAT12/16 fixed root directory that are
// in use, up to the end mark.
func rawRoot(m *memImage, fsys *FS) [][]byte {
	g := fsys.v.g
	var out [][]byte
	for i := int64(0); i < g.RootDirSize; i += 32 {
		d := m.b[g.RootDirOffset+i : g.RootDirOffset+i+32]
		if d[0] == 0 {
			break
		}
		out = append(out, d)
	}
	return out
}

func TestShortNames(t *testing.T) {
	m, fsys := newMem(t, 2<<20, &FormatOptions{Type: FAT12})
	cases := []struct {
		name, short string
		lfn         bool
		ntCase      byte
	}{
		{"config.txt", "CONFIG.TXT", false, 0x18},
		{"README.md", "README.MD", false, 0x10},
		{"lower.TXT", "LOWER.TXT", false, 0x08},
		{"UPPER.TXT", "UPPER.TXT", false, 0},
		{"NOEXT", "NOEXT", false, 0},
		{"a1$%-_@~.{}", "A1$%-_@~.{}", false, 0x08},
		{"Makefile", "MAKEFILE", true, 0},
		{"Mixed.Txt", "MIXED.TXT", true, 0},
		{"Long File Name.txt", "LONGFI~1.TXT", true, 0},
		{"Long File Name 2.txt", "LONGFI~2.TXT", true, 0},
		{"longfilename3.txt", "LONGFI~3.TXT", true, 0},
		{"archive.tar.gz", "ARCHIV~1.GZ", true, 0},
		{".hidden", "HIDDEN~1", true, 0},
		{"ünï.txt", "_N_~1.TXT", true, 0},
		{"a+b;c=d[e].txt", "A_B_C_~1.TXT", true, 0},
		{"toolongext.html", "TOOLON~1.HTM", true, 0},
		{"two  spaces", "TWOSPA~1", true, 0},
		{"name.", "", false, 0}, // invalid: see TestBadWriteNames
	}
	for _, c := range cases {
		if c.short == "" {
			continue
		}
		if err := fsys.WriteFile(c.name, []byte(c.name), 0o644); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		st, err := fsys.Stat(c.name)
		if err != nil {
			t.Fatal(err)
		}
		info := st.Sys().(*EntryInfo)
		if info.ShortName != c.short || st.Name() != c.name {
			t.Errorf("%q: stored as %q named %q, want %q", c.name, info.ShortName, st.Name(), c.short)
		}
		// Find its raw entries.
		slots := rawRoot(m, fsys)
		for i, d := range slots {
			if d[0] == 0xE5 || Attr(d[11])&0x3F == attrLongName {
				continue
			}
			stored, _ := shortName(d)
			if stored != c.short {
				continue
			}
			hasLFN := i > 0 && Attr(slots[i-1][11])&0x3F == attrLongName && slots[i-1][13] == shortChecksum(d)
			if hasLFN != c.lfn {
				t.Errorf("%q: long-name entries %v, want %v", c.name, hasLFN, c.lfn)
			}
			if d[12] != c.ntCase {
				t.Errorf("%q: NT case bits %#02x, want %#02x", c.name, d[12], c.ntCase)
			}
		}
	}
}

func TestLFNEntries(t *testing.T) {
	for _, n := range []int{1, 12, 13, 14, 25, 26, 27, 255} {
		name := strings.Repeat("é", n)
		short := pack11("E", "")
		ents := lfnEntries(name, short)
		want := (n + 12) / 13
		if len(ents) != want {
			t.Fatalf("%d units: %d entries, want %d", n, len(ents), want)
		}
		var units []uint16
		for i := len(ents) - 1; i >= 0; i-- {
			d := ents[i][:]
			ord := len(ents) - i
			wantOrd := byte(ord)
			if i == 0 {
				wantOrd |= 0x40
			}
			if d[0] != wantOrd || d[11] != 0x0F || d[12] != 0 || d[13] != shortChecksum(short[:]) || d[26] != 0 || d[27] != 0 {
				t.Errorf("%d units, entry %d: % x", n, ord, d)
			}
			for _, r := range [][2]int{{1, 5}, {14, 6}, {28, 2}} {
				for k := 0; k < r[1]; k++ {
					units = append(units, binary.LittleEndian.Uint16(d[r[0]+2*k:]))
				}
			}
		}
		for i, u := range units {
			switch {
			case i < n && u != 0x00E9:
				t.Errorf("%d units: unit %d is %#04x", n, i, u)
			case i == n && u != 0:
				t.Errorf("%d units: terminator is %#04x", n, u)
			case i > n && u != 0xFFFF:
				t.Errorf("%d units: padding unit %d is %#04x", n, i, u)
			}
		}
		// The read side decodes them back.
		var run lfnRun
		for _, e := range ents {
			run.add(e[:])
		}
		d := make([]byte, 32)
		copy(d, short[:])
		if got := run.name(d); got != name {
			t.Errorf("%d units: read back %q", n, got)
		}
	}
}

func TestBadWriteNames(t *testing.T) {
	_, fsys := newMem(t, 2<<20, &FormatOptions{Type: FAT12})
	for _, c := range []struct{ name, mention string }{
		{`a"b`, `'"'`}, {"a*b", "'*'"}, {"a:b", "':'"}, {"a<b", "'<'"}, {"a>b", "'>'"},
		{"a?b", "'?'"}, {`a\b`, `'\\'`}, {"a|b", "'|'"}, {"a\x01b", "U+0001"}, {"a\x7fb", "U+007F"},
		{"trailing.", "trailing '.'"}, {"trailing ", "trailing space"},
		{strings.Repeat("x", 256), "256 UTF-16"},
		{strings.Repeat("😀", 128), "256 UTF-16"},
	} {
		for _, op := range []func() error{
			func() error { return fsys.WriteFile(c.name, nil, 0o644) },
			func() error { return fsys.Mkdir(c.name, 0o755) },
		} {
			err := op()
			if !errors.Is(err, fs.ErrInvalid) || !strings.Contains(err.Error(), c.mention) {
				t.Errorf("%q: %v, want fs.ErrInvalid mentioning %s", c.name, err, c.mention)
			}
		}
	}
	if err := fsys.WriteFile("ok", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Rename("ok", "not:ok"); !errors.Is(err, fs.ErrInvalid) || !strings.Contains(err.Error(), "':'") {
		t.Errorf("rename to a bad name: %v", err)
	}
	// 255 units is the limit, and allowed.
	if err := fsys.WriteFile(strings.Repeat("x", 255), nil, 0o644); err != nil {
		t.Error(err)
	}
	if u := utf16.Encode([]rune(strings.Repeat("😀", 127) + "x")); len(u) != 255 {
		t.Fatal(len(u))
	}
	if err := fsys.WriteFile(strings.Repeat("😀", 127)+"x", nil, 0o644); err != nil {
		t.Error(err)
	}
}
