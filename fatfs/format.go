package fatfs

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"
)

// FormatOptions configures Format. The zero value (or a nil *FormatOptions)
// makes a file system like "mkfs.fat" with no options would: the type and
// cluster size chosen by size, 512-byte sectors, two FATs, no label.
type FormatOptions struct {
	// Type is FAT12, FAT16 or FAT32; 0 chooses by size much as mkfs.fat
	// does: FAT12 below 16 MiB, FAT16 below 512 MiB, FAT32 from there.
	Type Type
	// SectorSize is the logical sector size: 512 (0), 1024, 2048 or 4096.
	SectorSize int
	// SectorsPerCluster is a power of two from 1 to 128; 0 chooses by size
	// (the Microsoft table mkfs.fat follows: e.g. 2 KiB clusters for a
	// 100 MiB FAT16, 4 KiB for a FAT32 up to 8 GiB), then doubles or
	// halves it until the cluster count suits the type.
	SectorsPerCluster int
	// NumFATs is 1 or 2 (0 means 2).
	NumFATs int
	// Label is the volume label, up to 11 characters of printable ASCII
	// other than " * + , . / : ; < = > ? [ \ ] |; it is stored upper-cased,
	// in the boot sector and as a label entry in the root directory.
	Label string
	// VolumeID is the serial number; 0 derives one from the current time.
	VolumeID uint32
	// ReservedSectors before the first FAT; 0 means 1 on FAT12/16 and 32 on
	// FAT32 (which needs at least 8: boot sector, FSInfo, and the backup
	// boot sector at 6).
	ReservedSectors int
	// RootEntries is the size of the FAT12/16 fixed root directory, rounded
	// up to fill whole sectors; 0 means 512. Ignored on FAT32.
	RootEntries int
	// HiddenSectors is the partition's offset in sectors, recorded in the
	// boot sector (0 for a superfloppy).
	HiddenSectors uint32
}

// Format makes an empty FAT file system filling the first size bytes of w,
// for New or NewRW to open. It writes the reserved sectors, the FATs and the
// root directory (zeroing them) and nothing of the data area but, on FAT32,
// the root directory's cluster, and the last sector (zeros, so that an
// empty file grows to the volume's size). Errors name the option that cannot be met,
// e.g. a FAT16 too small for 4085 clusters.
func Format(w io.WriterAt, size int64, opts *FormatOptions) error {
	var o FormatOptions
	if opts != nil {
		o = *opts
	}
	l, err := planFormat(size, o)
	if err != nil {
		return err
	}
	return l.write(w)
}

// formatPlan is a computed layout for Format.
type formatPlan struct {
	typ         Type
	ss          int64 // bytes per sector
	spc         int64
	reserved    int64
	nfats       int64
	rootEntries int64
	total       int64 // sectors
	fatSectors  int64
	clusters    int64
	hidden      uint32
	volID       uint32
	label       [11]byte
	hasLabel    bool
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("fatfs: format: "+format, args...)
}

// defaultClusterBytes is the Microsoft table of cluster sizes by volume
// size, which mkfs.fat follows.
func defaultClusterBytes(t Type, size int64) int64 {
	const mib = 1 << 20
	if t == FAT12 {
		return 2 << 10
	}
	if t == FAT32 {
		switch {
		case size <= 260*mib:
			return 512
		case size <= 8<<30:
			return 4 << 10
		case size <= 16<<30:
			return 8 << 10
		case size <= 32<<30:
			return 16 << 10
		default:
			return 32 << 10
		}
	}
	switch {
	case size <= 16*mib:
		return 1 << 10
	case size <= 128*mib:
		return 2 << 10
	case size <= 256*mib:
		return 4 << 10
	case size <= 512*mib:
		return 8 << 10
	case size <= 1<<30:
		return 16 << 10
	default:
		return 32 << 10
	}
}

// typeRange is the cluster-count range of a FAT type.
func typeRange(t Type) (lo, hi int64) {
	switch t {
	case FAT12:
		return 1, 4084
	case FAT16:
		return 4085, 65524
	default:
		return 65525, 0x0FFFFFF5
	}
}

// fit computes the FAT size and cluster count for the plan's type, sector
// and cluster sizes.
func (p *formatPlan) fit() {
	rootSectors := (p.rootEntries*32 + p.ss - 1) / p.ss
	fat := int64(1)
	for {
		data := p.total - p.reserved - p.nfats*fat - rootSectors
		clusters := max(data/p.spc, 0)
		need := ((clusters+2)*int64(p.typ)/8 + 1 + p.ss - 1) / p.ss // +1: FAT12 half entry
		if need <= fat {
			p.fatSectors, p.clusters = fat, clusters
			return
		}
		fat = need
	}
}

func planFormat(size int64, o FormatOptions) (*formatPlan, error) {
	p := &formatPlan{ss: int64(o.SectorSize), hidden: o.HiddenSectors, volID: o.VolumeID}
	if p.ss == 0 {
		p.ss = 512
	}
	if p.ss < 512 || p.ss > 4096 || p.ss&(p.ss-1) != 0 {
		return nil, formatErr("sector size %d not 512, 1024, 2048 or 4096", p.ss)
	}
	p.total = size / p.ss
	if p.total > 0xFFFFFFFF {
		return nil, formatErr("%d sectors of %d bytes, more than a boot sector can count", p.total, p.ss)
	}
	switch o.NumFATs {
	case 0:
		p.nfats = 2
	case 1, 2:
		p.nfats = int64(o.NumFATs)
	default:
		return nil, formatErr("%d FATs, want 1 or 2", o.NumFATs)
	}
	if o.SectorsPerCluster < 0 || o.SectorsPerCluster > 128 || o.SectorsPerCluster&(o.SectorsPerCluster-1) != 0 {
		return nil, formatErr("sectors per cluster %d not a power of two in 1..128", o.SectorsPerCluster)
	}
	if o.ReservedSectors < 0 || o.ReservedSectors > 0xFFFF {
		return nil, formatErr("reserved sectors %d out of range", o.ReservedSectors)
	}
	if o.RootEntries < 0 || o.RootEntries > 0xFFFF-15 {
		return nil, formatErr("root entries %d out of range", o.RootEntries)
	}
	if p.volID == 0 {
		p.volID = uint32(time.Now().UnixNano()>>10) | 1
	}
	for i := range p.label {
		p.label[i] = ' '
	}
	if o.Label != "" {
		if len(o.Label) > 11 {
			return nil, formatErr("label %q longer than 11 characters", o.Label)
		}
		for _, c := range []byte(o.Label) {
			if c < 0x20 || c >= 0x7F || strings.IndexByte(`"*+,./:;<=>?[\]|`, c) >= 0 {
				return nil, formatErr("label %q: character %q not allowed", o.Label, c)
			}
		}
		copy(p.label[:], strings.ToUpper(o.Label))
		p.hasLabel = true
	}

	types := []Type{o.Type}
	switch o.Type {
	case 0:
		switch {
		case size >= 512<<20:
			types = []Type{FAT32}
		case size >= 16<<20:
			types = []Type{FAT16}
		default:
			types = []Type{FAT12, FAT16}
		}
	case FAT12, FAT16, FAT32:
	default:
		return nil, formatErr("type %d not FAT12, FAT16 or FAT32", int(o.Type))
	}
	var last error
	for _, t := range types {
		err := p.planType(t, size, o)
		if err == nil {
			return p, nil
		}
		last = err
	}
	return nil, last
}

// planType fixes the layout for type t, choosing the cluster size unless
// the options name one.
func (p *formatPlan) planType(t Type, size int64, o FormatOptions) error {
	p.typ = t
	p.reserved = int64(o.ReservedSectors)
	p.rootEntries = 0
	if t == FAT32 {
		if p.reserved == 0 {
			p.reserved = 32
		}
		if p.reserved < 8 {
			return formatErr("FAT32 needs at least 8 reserved sectors (backup boot sector at 6), not %d", p.reserved)
		}
	} else {
		if p.reserved == 0 {
			p.reserved = 1
		}
		p.rootEntries = int64(o.RootEntries)
		if p.rootEntries == 0 {
			p.rootEntries = 512
		}
		per := p.ss / 32
		p.rootEntries = (p.rootEntries + per - 1) / per * per
	}
	lo, hi := typeRange(t)
	if o.SectorsPerCluster != 0 {
		p.spc = int64(o.SectorsPerCluster)
		p.fit()
		if p.clusters < lo || p.clusters > hi {
			return formatErr("%s needs %d to %d clusters; %d bytes in %d-byte clusters make %d", t, lo, hi, size, p.spc*p.ss, p.clusters)
		}
		return nil
	}
	p.spc = max(defaultClusterBytes(t, size)/p.ss, 1)
	for range 16 {
		p.fit()
		switch {
		case p.clusters > hi && p.spc < 128:
			p.spc *= 2
		case p.clusters < lo && p.spc > 1:
			p.spc /= 2
		case p.clusters >= lo && p.clusters <= hi:
			return nil
		default:
			return formatErr("%d bytes cannot hold a %s (%d to %d clusters) with %d-byte sectors", size, t, lo, hi, p.ss)
		}
	}
	return formatErr("no cluster size suits a %s of %d bytes", t, size)
}

// write lays the plan down.
func (p *formatPlan) write(w io.WriterAt) error {
	le := binary.LittleEndian
	ss := p.ss
	rootSectors := (p.rootEntries*32 + ss - 1) / ss
	fatOff := p.reserved * ss
	rootOff := fatOff + p.nfats*p.fatSectors*ss
	dataOff := rootOff + rootSectors*ss
	zeroEnd := dataOff
	if p.typ == FAT32 {
		zeroEnd += p.spc * ss // the root directory's cluster
	}
	// Zero the metadata.
	zero := make([]byte, min(zeroEnd, 1<<20))
	for off := int64(0); off < zeroEnd; off += int64(len(zero)) {
		n := min(int64(len(zero)), zeroEnd-off)
		if _, err := w.WriteAt(zero[:n], off); err != nil {
			return formatErr("zeroing at offset %d: %w", off, err)
		}
	}

	b := make([]byte, ss)
	b[0], b[2] = 0xEB, 0x90
	copy(b[3:11], "NOBODDGO")
	le.PutUint16(b[11:], uint16(ss))
	b[13] = byte(p.spc)
	le.PutUint16(b[14:], uint16(p.reserved))
	b[16] = byte(p.nfats)
	le.PutUint16(b[17:], uint16(p.rootEntries))
	if p.typ != FAT32 && p.total < 0x10000 {
		le.PutUint16(b[19:], uint16(p.total))
	} else {
		le.PutUint32(b[32:], uint32(p.total))
	}
	b[21] = 0xF8
	le.PutUint16(b[24:], 63)  // sectors per track
	le.PutUint16(b[26:], 255) // heads
	le.PutUint32(b[28:], p.hidden)
	ebr := 36
	fsType := "FAT12   "
	if p.typ == FAT16 {
		fsType = "FAT16   "
	}
	if p.typ == FAT32 {
		le.PutUint32(b[36:], uint32(p.fatSectors))
		le.PutUint32(b[44:], 2) // root cluster
		le.PutUint16(b[48:], 1) // FSInfo sector
		le.PutUint16(b[50:], 6) // backup boot sector
		ebr = 64
		fsType = "FAT32   "
	} else {
		le.PutUint16(b[22:], uint16(p.fatSectors))
	}
	b[1] = byte(ebr + 26 - 2) // jump over the BPB to the boot code
	b[ebr] = 0x80             // drive number
	b[ebr+2] = 0x29
	le.PutUint32(b[ebr+3:], p.volID)
	if p.hasLabel {
		copy(b[ebr+7:ebr+18], p.label[:])
	} else {
		copy(b[ebr+7:ebr+18], "NO NAME    ")
	}
	copy(b[ebr+18:ebr+26], fsType)
	// Boot code: print nothing, wait for a key, reboot (int 16h; int 19h).
	copy(b[ebr+26:], []byte{0x31, 0xC0, 0xCD, 0x16, 0xCD, 0x19, 0xEB, 0xFE})
	b[510], b[511] = 0x55, 0xAA
	if _, err := w.WriteAt(b, 0); err != nil {
		return formatErr("writing the boot sector: %w", err)
	}
	if p.typ == FAT32 {
		if _, err := w.WriteAt(b, 6*ss); err != nil {
			return formatErr("writing the backup boot sector: %w", err)
		}
		info := make([]byte, ss)
		le.PutUint32(info[0:], fsInfoLead)
		le.PutUint32(info[484:], fsInfoStruct)
		le.PutUint32(info[488:], uint32(p.clusters-1)) // all but the root's cluster
		le.PutUint32(info[492:], 3)
		le.PutUint32(info[508:], fsInfoTrail)
		for _, s := range []int64{1, 7} {
			if _, err := w.WriteAt(info, s*ss); err != nil {
				return formatErr("writing FSInfo sector %d: %w", s, err)
			}
		}
		// Sectors 2 and 8 (third boot sector and its backup) carry the
		// signature too, as Windows writes them.
		third := make([]byte, ss)
		third[510], third[511] = 0x55, 0xAA
		for _, s := range []int64{2, 8} {
			if _, err := w.WriteAt(third, s*ss); err != nil {
				return formatErr("writing sector %d: %w", s, err)
			}
		}
	}
	// The first FAT entries: media descriptor, the clean-shutdown entry,
	// and on FAT32 the root directory's end-of-chain mark.
	var head []byte
	switch p.typ {
	case FAT12:
		head = []byte{0xF8, 0xFF, 0xFF}
	case FAT16:
		head = []byte{0xF8, 0xFF, 0xFF, 0xFF}
	default:
		head = []byte{0xF8, 0xFF, 0xFF, 0x0F, 0xFF, 0xFF, 0xFF, 0x0F, 0xFF, 0xFF, 0xFF, 0x0F}
	}
	for i := int64(0); i < p.nfats; i++ {
		if _, err := w.WriteAt(head, fatOff+i*p.fatSectors*ss); err != nil {
			return formatErr("writing FAT %d: %w", i+1, err)
		}
	}
	// The last sector too, so that an empty file grows to the volume's size.
	if last := (p.total - 1) * ss; last >= zeroEnd {
		if _, err := w.WriteAt(make([]byte, ss), last); err != nil {
			return formatErr("writing the last sector: %w", err)
		}
	}
	if p.hasLabel {
		d := make([]byte, 32)
		copy(d, p.label[:])
		d[11] = byte(AttrVolumeID)
		off := rootOff
		if p.typ == FAT32 {
			off = dataOff
		}
		if _, err := w.WriteAt(d, off); err != nil {
			return formatErr("writing the label entry: %w", err)
		}
	}
	return nil
}

// FSInfo signatures.
const (
	fsInfoLead   = 0x41615252
	fsInfoStruct = 0x61417272
	fsInfoTrail  = 0xAA550000
)
