package fatfs

import (
	"encoding/binary"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// wdir is a directory as a writer sees it: its raw bytes, where they are on
// the volume, and its parsed entries (with their slots).
type wdir struct {
	first   uint32 // first cluster; 0 for the FAT12/16 fixed root
	path    string // for errors ("." for the root)
	fixed   bool   // the FAT12/16 fixed root: cannot grow
	raw     []byte
	exts    []extent // of raw
	entries []*entry
	end     int // index of the first slot starting with 0x00 (len(raw)/32 if none)
}

// rootKey is the root directory's key in the writer's directory cache (and
// in nodeKey): its first cluster on FAT32, 0 for the FAT12/16 fixed root.
func (w *writer) rootKey() uint32 {
	if w.fs.v.g.Type == FAT32 {
		return w.fs.v.g.RootCluster
	}
	return 0
}

// loadDir returns the directory starting at first (0: the fixed root),
// from the writer's cache or read from the volume.
func (w *writer) loadDir(path string, first uint32) (*wdir, error) {
	if d, ok := w.dirs[first]; ok {
		d.path = path
		return d, nil
	}
	v := w.fs.v
	g := v.g
	d := &wdir{first: first, path: path}
	if first == 0 {
		if g.Type == FAT32 {
			return nil, &CorruptError{Path: path, Problem: "directory without clusters"}
		}
		d.fixed = true
		d.raw = make([]byte, g.RootDirSize)
		d.exts = []extent{{fileOff: 0, diskOff: g.RootDirOffset, length: g.RootDirSize}}
	} else {
		cs, err := w.fat.chain(path, first, 1)
		if err != nil {
			return nil, err
		}
		if int64(len(cs))*int64(g.ClusterSize) > maxDirSize {
			return nil, &CorruptError{Path: path, Cluster: first, Problem: fmt.Sprintf("directory larger than %d bytes", maxDirSize)}
		}
		d.exts = w.extentsOf(cs)
		d.raw = make([]byte, int64(len(cs))*int64(g.ClusterSize))
	}
	if _, err := v.readExtents(d.exts, int64(len(d.raw)), d.raw, 0); err != nil {
		return nil, err
	}
	d.parse(w)
	w.dirs[first] = d
	return d, nil
}

// parse refreshes the parsed entries after raw changed.
func (d *wdir) parse(w *writer) {
	d.entries = parseDir(d.raw, w.fs.v.g.Type == FAT32, w.fs.loc)
	d.end = len(d.raw) / 32
	for i := 0; i+32 <= len(d.raw); i += 32 {
		if d.raw[i] == 0 {
			d.end = i / 32
			break
		}
	}
}

// extentsOf maps a cluster list to extents.
func (w *writer) extentsOf(cs []uint32) []extent {
	return w.appendExtents(nil, 0, cs)
}

// appendExtents extends the extents of a file's first have clusters with
// the clusters cs that follow them.
func (w *writer) appendExtents(exts []extent, have int64, cs []uint32) []extent {
	g := w.fs.v.g
	size := int64(g.ClusterSize)
	off := have * size
	for _, c := range cs {
		exts = appendCluster(exts, off, g.clusterOffset(c), size)
		off += size
	}
	return exts
}

// writeExtents writes p at byte off of the bytes mapped by exts.
func (w *writer) writeExtents(exts []extent, p []byte, off int64) error {
	for i := range exts {
		e := &exts[i]
		if len(p) == 0 {
			return nil
		}
		if off >= e.fileOff+e.length || off+int64(len(p)) <= e.fileOff {
			continue
		}
		in := off - e.fileOff
		k := min(int64(len(p)), e.length-in)
		if _, err := w.rw.WriteAt(p[:k], e.diskOff+in); err != nil {
			return fmt.Errorf("fatfs: writing %d bytes at volume offset %d: %w", k, e.diskOff+in, err)
		}
		p = p[k:]
		off += k
	}
	if len(p) != 0 {
		return fmt.Errorf("fatfs: internal error: write of %d bytes at %d beyond the mapped clusters", len(p), off)
	}
	return nil
}

// writeSlots writes slots lo..hi-1 of the directory to the volume and
// invalidates the reader's view of the directory.
func (w *writer) writeSlots(d *wdir, lo, hi int) error {
	if err := w.writeExtents(d.exts, d.raw[lo*32:hi*32], int64(lo)*32); err != nil {
		return fmt.Errorf("fatfs: directory %s: %w", d.path, err)
	}
	d.parse(w)
	w.fs.invalidateDir(d.first)
	return nil
}

// lookup finds a name in the directory, folding case.
func (d *wdir) lookup(name string) *entry {
	for _, e := range d.entries {
		if strings.EqualFold(e.name, name) || (e.short != "" && strings.EqualFold(e.short, name)) {
			return e
		}
	}
	return nil
}

// shortTaken reports whether a stored 8.3 name is in the directory.
func (d *wdir) shortTaken(b [11]byte) bool {
	for i := 0; i+32 <= d.end*32; i += 32 {
		s := d.raw[i : i+32]
		if s[0] == 0xE5 || Attr(s[11])&0x3F == attrLongName {
			continue
		}
		if string(s[:11]) == string(b[:]) {
			return true
		}
	}
	return false
}

// isEmpty reports whether a directory holds nothing but "." and "..".
func (d *wdir) isEmpty() bool {
	return len(d.entries) == 0 && !d.hasUnnamed()
}

// hasUnnamed reports entries parseDir leaves out other than ".", ".." and
// labels (e.g. names an io/fs.FS cannot show): they keep a directory from
// being empty.
func (d *wdir) hasUnnamed() bool {
	for i := 0; i < d.end; i++ {
		s := d.raw[i*32 : i*32+32]
		a := Attr(s[11])
		if s[0] == 0xE5 || a&0x3F == attrLongName || a&AttrVolumeID != 0 {
			continue
		}
		if s[0] == '.' && (string(s[1:11]) == "          " || string(s[1:11]) == ".         ") {
			continue
		}
		return true
	}
	return false
}

// freeRun finds n consecutive free slots, growing the directory by a
// cluster (zeroed, then linked, flushed) when it has none. It returns the
// first slot.
func (w *writer) freeRun(d *wdir, n int) (int, error) {
	for {
		run := 0
		total := len(d.raw) / 32
		for i := 0; i < total; i++ {
			if i >= d.end || d.raw[i*32] == 0xE5 {
				run++
				if run == n {
					return i - n + 1, nil
				}
			} else {
				run = 0
			}
		}
		if err := w.growDir(d); err != nil {
			return 0, err
		}
	}
}

// growDir adds a zeroed cluster to a directory.
func (w *writer) growDir(d *wdir) error {
	g := w.fs.v.g
	if d.fixed {
		return fmt.Errorf("fatfs: root directory full (%d entries): %w", g.RootEntries, syscall.ENOSPC)
	}
	cs := int64(g.ClusterSize)
	if int64(len(d.raw))+cs > maxDirSize {
		return fmt.Errorf("fatfs: directory %s full (%d entries): %w", d.path, maxDirSize/32, syscall.ENOSPC)
	}
	last := d.exts[len(d.exts)-1]
	lastCluster := uint32((last.diskOff+last.length-g.DataOffset)/cs) + 1
	added, err := w.fat.alloc("directory "+d.path, 1, lastCluster)
	if err != nil {
		return err
	}
	zero := make([]byte, cs)
	if _, err := w.rw.WriteAt(zero, g.clusterOffset(added[0])); err != nil {
		w.fat.undo()
		return fmt.Errorf("fatfs: zeroing cluster %d for directory %s: %w", added[0], d.path, err)
	}
	if err := w.flushFAT(); err != nil {
		return err
	}
	d.raw = append(d.raw, zero...)
	d.exts = append(d.exts, extent{fileOff: int64(len(d.raw)) - cs, diskOff: g.clusterOffset(added[0]), length: cs})
	d.parse(w)
	w.fs.invalidateDir(d.first)
	return nil
}

// addEntry writes the long-name entries (if any) and the 8.3 entry short
// (32 bytes, name already set) for name into the directory, and returns the
// slot of the 8.3 entry.
func (w *writer) addEntry(d *wdir, name string, short []byte) (int, error) {
	var lfn [][32]byte
	if _, _, ok := fits83(name); !ok {
		lfn = lfnEntries(name, [11]byte(short[:11]))
	}
	n := len(lfn) + 1
	at, err := w.freeRun(d, n)
	if err != nil {
		return 0, err
	}
	hi := at + n
	for i, e := range lfn {
		copy(d.raw[(at+i)*32:], e[:])
	}
	copy(d.raw[(hi-1)*32:], short)
	// Writing past the old end mark: keep the slot after us as the mark.
	if hi > d.end && hi < len(d.raw)/32 && d.raw[hi*32] != 0 {
		clear(d.raw[hi*32 : hi*32+32])
		hi++
	}
	if err := w.writeSlots(d, at, hi); err != nil {
		return 0, err
	}
	return at + n - 1, nil
}

// deleteEntry marks an entry (its 8.3 slot and its long-name slots) free.
func (w *writer) deleteEntry(d *wdir, slot, lfnSlots int) error {
	lo := slot - lfnSlots
	for i := lo; i <= slot; i++ {
		d.raw[i*32] = 0xE5
	}
	return w.writeSlots(d, lo, slot+1)
}

// entryAt returns the entry whose 8.3 slot is slot.
func (d *wdir) entryAt(slot int) *entry {
	for _, e := range d.entries {
		if e.slot == slot {
			return e
		}
	}
	return nil
}

// fatDateTime encodes a time for a directory entry, clamped to the range
// FAT can hold (1980 to 2107). tenths is the creation time's 10 ms count
// (0..199).
func fatDateTime(t time.Time, loc *time.Location) (date, tm uint16, tenths uint8) {
	t = t.In(loc)
	if t.Year() < 1980 {
		return 1<<5 | 1, 0, 0
	}
	if t.Year() > 2107 {
		return 127<<9 | 12<<5 | 31, 23<<11 | 59<<5 | 29, 199
	}
	date = uint16(t.Year()-1980)<<9 | uint16(t.Month())<<5 | uint16(t.Day())
	tm = uint16(t.Hour())<<11 | uint16(t.Minute())<<5 | uint16(t.Second()/2)
	tenths = uint8(t.Second()%2*100 + t.Nanosecond()/10e6)
	return date, tm, tenths
}

// newShort makes an 8.3 directory entry.
func (w *writer) newShort(name [11]byte, ntCase byte, attr Attr, first uint32, size uint32, now time.Time) []byte {
	d := make([]byte, 32)
	copy(d, name[:])
	d[11] = byte(attr)
	d[12] = ntCase
	date, tm, tenths := fatDateTime(now, w.fs.loc)
	d[13] = tenths
	le := binary.LittleEndian
	le.PutUint16(d[14:], tm)
	le.PutUint16(d[16:], date)
	le.PutUint16(d[18:], date)
	le.PutUint16(d[22:], tm)
	le.PutUint16(d[24:], date)
	setFirst(d, first)
	le.PutUint32(d[28:], size)
	return d
}

// setFirst stores a first cluster in an 8.3 entry.
func setFirst(d []byte, c uint32) {
	binary.LittleEndian.PutUint16(d[20:], uint16(c>>16))
	binary.LittleEndian.PutUint16(d[26:], uint16(c))
}
