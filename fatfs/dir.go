package fatfs

import (
	"encoding/binary"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Attr holds the attribute bits of a directory entry.
type Attr uint8

// Attribute bits, as stored in the directory entry.
const (
	AttrReadOnly  Attr = 0x01
	AttrHidden    Attr = 0x02
	AttrSystem    Attr = 0x04
	AttrVolumeID  Attr = 0x08
	AttrDirectory Attr = 0x10
	AttrArchive   Attr = 0x20
	attrLongName       = AttrReadOnly | AttrHidden | AttrSystem | AttrVolumeID
)

// ReadOnly reports the read-only bit.
func (a Attr) ReadOnly() bool { return a&AttrReadOnly != 0 }

// Hidden reports the hidden bit.
func (a Attr) Hidden() bool { return a&AttrHidden != 0 }

// System reports the system bit.
func (a Attr) System() bool { return a&AttrSystem != 0 }

// Archive reports the archive bit.
func (a Attr) Archive() bool { return a&AttrArchive != 0 }

// IsDir reports the directory bit.
func (a Attr) IsDir() bool { return a&AttrDirectory != 0 }

// EntryInfo is what fs.FileInfo.Sys returns for files and directories of an
// *FS: the parts of the directory entry that io/fs has no place for. The root
// directory's EntryInfo has only Attr (AttrDirectory) and, on FAT32,
// FirstCluster.
type EntryInfo struct {
	Attr         Attr
	ShortName    string    // the 8.3 name as stored, e.g. "KERNEL8.IMG" or "AVERYL~1.DAT"
	FirstCluster uint32    // 0 for an empty file
	Created      time.Time // creation date and time (10 ms resolution); zero if unset
	Accessed     time.Time // last access date (no time of day); zero if unset
}

// entry is a parsed directory entry.
type entry struct {
	name  string // long name, or the short name with the NT case bits applied
	short string // the short name as stored
	attr  Attr
	first uint32
	size  int64
	mtime time.Time
	info  EntryInfo

	// Where the entry is in its directory, for writers: the index of the
	// 8.3 entry (in 32-byte slots) and the count of long-name slots that
	// belong to it, just before it.
	slot, lfnSlots int
}

// cp850 maps the upper half of code page 850 (mtools' default, and the code
// page mkfs.fat encodes labels in) to Unicode.
var cp850 = [128]rune([]rune(
	"ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»" +
		"░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈıÍÎÏ┘┌█▄¦Ì▀" +
		"ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u00ad±‗¾¶§÷¸°¨·¹³²■\u00a0"))

// decodeOEM decodes short-name bytes as code page 850.
func decodeOEM(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	var sb strings.Builder
	for _, c := range b {
		if c < 0x80 {
			sb.WriteByte(c)
		} else {
			sb.WriteRune(cp850[c-0x80])
		}
	}
	return sb.String()
}

// validName reports whether s can name a file in an io/fs.FS.
func validName(s string) bool {
	if s == "" || s == "." || s == ".." || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == '/' || s[i] == 0x7F {
			return false
		}
	}
	return true
}

// shortChecksum is the LFN checksum of an 11-byte short name.
func shortChecksum(b []byte) uint8 {
	var sum uint8
	for _, c := range b[:11] {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	return sum
}

// shortName decodes the 8.3 name of a directory entry: as stored, and with
// the NT lower-case bits applied.
func shortName(d []byte) (stored, display string) {
	raw := make([]byte, 11)
	copy(raw, d[:11])
	if raw[0] == 0x05 {
		raw[0] = 0xE5
	}
	base := strings.TrimRight(decodeOEM(raw[:8]), " ")
	ext := strings.TrimRight(decodeOEM(raw[8:11]), " ")
	lbase, lext := base, ext
	if d[12]&0x08 != 0 {
		lbase = asciiLower(base)
	}
	if d[12]&0x10 != 0 {
		lext = asciiLower(ext)
	}
	if ext == "" {
		return base, lbase
	}
	return base + "." + ext, lbase + "." + lext
}

func asciiLower(s string) string { return strings.ToLower(s) }

// fatTime decodes a FAT date and time; invalid or zero dates give the zero
// time.
func fatTime(date, tm uint16, tenths uint8, loc *time.Location) time.Time {
	if date == 0 {
		return time.Time{}
	}
	y, m, d := 1980+int(date>>9), int(date>>5&15), int(date&31)
	if m < 1 || m > 12 || d < 1 {
		return time.Time{}
	}
	h, mi, s := int(tm>>11), int(tm>>5&63), int(tm&31)*2
	if h > 23 || mi > 59 || s > 59 {
		h, mi, s = 0, 0, 0
	}
	ns := 0
	if tenths <= 199 {
		s += int(tenths) / 100
		ns = int(tenths) % 100 * 10e6
	}
	return time.Date(y, time.Month(m), d, h, mi, s, ns, loc)
}

// lfnRun collects the long-name entries that precede a short entry.
type lfnRun struct {
	active   bool
	checksum uint8
	expect   int // next ordinal expected; 0 when complete
	units    []uint16
	count    int // slots in the run
}

// add takes a long-name entry.
func (r *lfnRun) add(d []byte) {
	ord := int(d[0] & 0x1F)
	if d[0]&0x40 != 0 {
		if ord < 1 || ord > 20 {
			r.active = false
			return
		}
		r.active = true
		r.checksum = d[13]
		r.expect = ord
		r.count = ord
		r.units = make([]uint16, ord*13)
	} else if !r.active || ord != r.expect || d[13] != r.checksum {
		r.active = false
		return
	}
	if ord < 1 {
		r.active = false
		return
	}
	u := r.units[(ord-1)*13:]
	for i := 0; i < 5; i++ {
		u[i] = binary.LittleEndian.Uint16(d[1+2*i:])
	}
	for i := 0; i < 6; i++ {
		u[5+i] = binary.LittleEndian.Uint16(d[14+2*i:])
	}
	for i := 0; i < 2; i++ {
		u[11+i] = binary.LittleEndian.Uint16(d[28+2*i:])
	}
	r.expect--
}

// complete reports whether the run is complete and belongs to the short
// entry d.
func (r *lfnRun) complete(d []byte) bool {
	return r.active && r.expect == 0 && r.checksum == shortChecksum(d)
}

// name returns the long name if the run is complete and belongs to the short
// entry d, or "".
func (r *lfnRun) name(d []byte) string {
	if !r.complete(d) {
		return ""
	}
	u := r.units
	for i, c := range u {
		if c == 0 {
			u = u[:i]
			break
		}
	}
	for i := 0; i < len(u); i++ { // reject unpaired surrogates
		switch {
		case utf16.IsSurrogate(rune(u[i])) && u[i] < 0xDC00 && i+1 < len(u) && u[i+1] >= 0xDC00 && u[i+1] < 0xE000:
			i++
		case utf16.IsSurrogate(rune(u[i])):
			return ""
		}
	}
	return string(utf16.Decode(u))
}

// parseDir parses the raw bytes of a directory. Entries that cannot be named
// in an io/fs.FS, volume labels, deleted entries and "." and ".." are left
// out; parsing stops at the first entry that starts with 0x00.
func parseDir(b []byte, fat32 bool, loc *time.Location) []*entry {
	var out []*entry
	var run lfnRun
	le := binary.LittleEndian
	for i := 0; i+32 <= len(b); i += 32 {
		d := b[i : i+32]
		if d[0] == 0x00 {
			break
		}
		if d[0] == 0xE5 {
			run.active = false
			continue
		}
		attr := Attr(d[11])
		if attr&0x3F == attrLongName {
			run.add(d)
			continue
		}
		long := run.name(d)
		lfnSlots := 0
		if run.complete(d) {
			lfnSlots = run.count
		}
		run.active = false
		if attr&AttrVolumeID != 0 {
			continue
		}
		stored, display := shortName(d)
		if stored == "." || stored == ".." {
			continue
		}
		if !validName(stored) {
			stored = ""
		}
		name := display
		if long != "" && validName(long) {
			name = long
		} else if stored == "" {
			continue
		}
		e := &entry{
			name:  name,
			short: stored,
			attr:  attr,
			first: uint32(le.Uint16(d[26:])),
			size:  int64(le.Uint32(d[28:])),

			slot:     i / 32,
			lfnSlots: lfnSlots,
		}
		if fat32 {
			e.first |= uint32(le.Uint16(d[20:])) << 16
		}
		if attr&AttrDirectory != 0 {
			e.size = 0
		}
		e.mtime = fatTime(le.Uint16(d[24:]), le.Uint16(d[22:]), 0, loc)
		e.info = EntryInfo{
			Attr:         attr,
			ShortName:    stored,
			FirstCluster: e.first,
			Created:      fatTime(le.Uint16(d[16:]), le.Uint16(d[14:]), d[13], loc),
			Accessed:     fatTime(le.Uint16(d[18:]), 0, 0, loc),
		}
		out = append(out, e)
	}
	return out
}
