package fatfs

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// NameError reports a name that a FAT directory cannot hold. It matches
// fs.ErrInvalid.
type NameError struct {
	Name    string
	Problem string // e.g. `character '?' not allowed`
}

// Error returns e.g. `fatfs: name "a?b": character '?' not allowed`.
func (e *NameError) Error() string {
	return fmt.Sprintf("fatfs: name %q: %s", e.Name, e.Problem)
}

// Is matches fs.ErrInvalid.
func (e *NameError) Is(target error) bool { return target == fs.ErrInvalid }

// checkName validates one path element as a long file name.
func checkName(name string) error {
	bad := func(format string, args ...any) error {
		return &NameError{Name: name, Problem: fmt.Sprintf(format, args...)}
	}
	if name == "" || name == "." || name == ".." {
		return bad("not a file name")
	}
	if !utf8.ValidString(name) {
		return bad("not valid UTF-8")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7F {
			return bad("control character %U not allowed", r)
		}
		if strings.ContainsRune(`"*/:<>?\|`, r) {
			return bad("character %q not allowed", r)
		}
	}
	switch name[len(name)-1] {
	case '.':
		return bad("trailing '.' not allowed")
	case ' ':
		return bad("trailing space not allowed")
	}
	if n := len(utf16.Encode([]rune(name))); n > 255 {
		return bad("%d UTF-16 code units, more than 255", n)
	}
	return nil
}

// shortChar reports whether c may appear in a short name as stored
// (upper-case letters, digits and the specials the specification allows).
func shortChar(c byte) bool {
	switch {
	case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("$%'-_@~`!(){}^#&", c) >= 0
}

// caseOf returns whether s has lower-case and upper-case ASCII letters.
func caseOf(s string) (lower, upper bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		}
	}
	return
}

// fits83 returns the stored 8.3 name and the NT case bits for a name that
// fits 8.3 exactly with each of base and extension in one case, which is
// written without long-name entries, as Windows does.
func fits83(name string) (short [11]byte, ntCase byte, ok bool) {
	base, ext, dot := strings.Cut(name, ".")
	if len(base) < 1 || len(base) > 8 || len(ext) > 3 || (dot && ext == "") || strings.Contains(ext, ".") {
		return short, 0, false
	}
	for _, s := range []string{base, ext} {
		for i := 0; i < len(s); i++ {
			if !shortChar(asciiUpper(s[i])) {
				return short, 0, false
			}
		}
	}
	bl, bu := caseOf(base)
	el, eu := caseOf(ext)
	if (bl && bu) || (el && eu) {
		return short, 0, false
	}
	if bl {
		ntCase |= 0x08
	}
	if el {
		ntCase |= 0x10
	}
	for i := range short {
		short[i] = ' '
	}
	copy(short[:8], strings.ToUpper(base))
	copy(short[8:], strings.ToUpper(ext))
	return short, ntCase, true
}

func asciiUpper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// basisName derives the 8.3 basis name of a long name as the FAT
// specification describes: upper-cased, characters a short name cannot
// hold replaced by '_' (a lossy conversion), spaces and leading periods
// dropped, up to 8 characters before the first period and up to 3 after
// the last. exact reports that the basis is the whole name, upper-cased
// (so that no numeric tail is needed unless the alias is taken).
func basisName(name string) (base, ext string, exact bool) {
	lossy := false
	conv := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			switch {
			case r == ' ':
				lossy = true // dropped
			case r < utf8.RuneSelf && shortChar(asciiUpper(byte(r))):
				b.WriteByte(asciiUpper(byte(r)))
			case r == '.':
				b.WriteByte('.')
			default:
				lossy = true
				b.WriteByte('_')
			}
		}
		return b.String()
	}
	s := conv(name)
	trimmed := strings.TrimLeft(s, ".")
	if trimmed != s {
		lossy = true
	}
	s = trimmed
	primary, _, _ := strings.Cut(s, ".")
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		ext = s[i+1:]
		if strings.Count(s, ".") > 1 {
			lossy = true
		}
	}
	base = primary
	if len(base) > 8 {
		base, lossy = base[:8], true
	}
	if len(ext) > 3 {
		ext, lossy = ext[:3], true
	}
	if base == "" {
		base, lossy = "_", true
	}
	return base, ext, !lossy
}

// pack11 makes the stored form of an 8.3 name.
func pack11(base, ext string) [11]byte {
	var b [11]byte
	for i := range b {
		b[i] = ' '
	}
	copy(b[:8], base)
	copy(b[8:], ext)
	return b
}

// shortAlias chooses the 8.3 name for a long name that needs long-name
// entries: the basis name if it is exact and free, else the basis with the
// first free numeric tail "~N" (N up to 999999). taken reports whether a
// stored 8.3 name is already in the directory.
func shortAlias(name string, taken func([11]byte) bool) ([11]byte, error) {
	base, ext, exact := basisName(name)
	if exact {
		if b := pack11(base, ext); !taken(b) {
			return b, nil
		}
	}
	for n := 1; n <= 999999; n++ {
		tail := "~" + strconv.Itoa(n)
		b := base
		if len(b)+len(tail) > 8 {
			b = b[:8-len(tail)]
		}
		if s := pack11(b+tail, ext); !taken(s) {
			return s, nil
		}
	}
	return [11]byte{}, &NameError{Name: name, Problem: "no free 8.3 alias (~1 to ~999999 taken)"}
}

// lfnEntries makes the long-name entries for name and the 8.3 name short, in
// directory order (the entry with the 0x40 flag first).
func lfnEntries(name string, short [11]byte) [][32]byte {
	units := utf16.Encode([]rune(name))
	n := (len(units) + 12) / 13
	padded := make([]uint16, n*13)
	copy(padded, units)
	for i := len(units); i < len(padded); i++ {
		if i == len(units) {
			padded[i] = 0x0000
		} else {
			padded[i] = 0xFFFF
		}
	}
	sum := shortChecksum(short[:])
	out := make([][32]byte, 0, n)
	le := binary.LittleEndian
	for ord := n; ord >= 1; ord-- {
		var d [32]byte
		d[0] = byte(ord)
		if ord == n {
			d[0] |= 0x40
		}
		d[11] = byte(attrLongName)
		d[13] = sum
		p := padded[(ord-1)*13:]
		for i := 0; i < 5; i++ {
			le.PutUint16(d[1+2*i:], p[i])
		}
		for i := 0; i < 6; i++ {
			le.PutUint16(d[14+2*i:], p[5+i])
		}
		for i := 0; i < 2; i++ {
			le.PutUint16(d[28+2*i:], p[11+i])
		}
		out = append(out, d)
	}
	return out
}
