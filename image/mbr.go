package image

import (
	"encoding/binary"
)

// MBR is the partition table of a master boot record or of an extended boot
// record (EBR): the four 16-byte entries at byte 446 of a sector that ends in
// 0x55AA. The boot code around it is not part of it; Put leaves it alone.
type MBR struct {
	DiskSignature uint32 // bytes 440–443; meaningless in an EBR
	Entries       [4]MBREntry
}

// MBREntry is one raw 16-byte MBR or EBR partition entry. FirstLBA and
// Sectors count logical sectors. In the MBR FirstLBA is absolute; in an EBR
// it is relative to the EBR for the logical partition and relative to the
// start of the extended partition for the link to the next EBR.
type MBREntry struct {
	Status   byte    // 0x80 bootable, 0x00 not
	FirstCHS [3]byte // ignored by this package
	Type     byte    // system ID; 0 is an unused entry
	LastCHS  [3]byte // ignored by this package
	FirstLBA uint32
	Sectors  uint32
}

// Empty reports whether the entry is unused: type 0 or size 0.
func (e MBREntry) Empty() bool { return e.Type == 0 || e.Sectors == 0 }

const mbrTableOff = 446

// hasBootSignature reports whether a sector ends its first 512 bytes with
// 0x55AA.
func hasBootSignature(b []byte) bool { return len(b) >= 512 && b[510] == 0x55 && b[511] == 0xAA }

// ParseMBR decodes the partition table of a 512-byte (or longer) sector.
// It fails when the sector is short or lacks the 0x55AA signature; it does
// not judge the entries.
func ParseMBR(sector []byte) (MBR, error) {
	var m MBR
	if len(sector) < 512 {
		return m, errFormat("MBR sector of %d bytes, want 512", len(sector))
	}
	if !hasBootSignature(sector) {
		return m, errFormat("no 0x55AA boot signature")
	}
	m.DiskSignature = binary.LittleEndian.Uint32(sector[440:])
	for i := range m.Entries {
		b := sector[mbrTableOff+16*i:]
		e := &m.Entries[i]
		e.Status = b[0]
		copy(e.FirstCHS[:], b[1:4])
		e.Type = b[4]
		copy(e.LastCHS[:], b[5:8])
		e.FirstLBA = binary.LittleEndian.Uint32(b[8:])
		e.Sectors = binary.LittleEndian.Uint32(b[12:])
	}
	return m, nil
}

// Put encodes the table into sector (at least 512 bytes): the disk
// signature, the four entries and the 0x55AA signature. The boot code and
// everything past byte 511 are left as they are.
func (m *MBR) Put(sector []byte) {
	_ = sector[511]
	binary.LittleEndian.PutUint32(sector[440:], m.DiskSignature)
	for i, e := range m.Entries {
		b := sector[mbrTableOff+16*i:]
		b[0] = e.Status
		copy(b[1:4], e.FirstCHS[:])
		b[4] = e.Type
		copy(b[5:8], e.LastCHS[:])
		binary.LittleEndian.PutUint32(b[8:], e.FirstLBA)
		binary.LittleEndian.PutUint32(b[12:], e.Sectors)
	}
	sector[510], sector[511] = 0x55, 0xAA
}

// plausible reports whether the table's entries could be a real partition
// table of an image of size bytes: a used entry has status 0x00 or 0x80,
// does not start at sector 0 and ends within the image counted in 512-byte
// sectors (the most lenient reading), and at least one entry is used.
func (m *MBR) plausible(size int64) bool {
	used := 0
	for _, e := range m.Entries {
		if e.Empty() {
			continue
		}
		if e.Status&0x7F != 0 || e.FirstLBA == 0 {
			return false
		}
		if (uint64(e.FirstLBA)+uint64(e.Sectors))*512 > uint64(size) && e.Type != 0xEE {
			return false
		}
		used++
	}
	return used > 0
}

// fatBootSector reports whether b (at least 512 bytes) is a plausible FAT
// boot sector, and its bytes per sector and whether its BPB has the FAT32
// layout. The check: the 0x55AA signature, a jump instruction (0xEB or
// 0xE9), bytes per sector a power of two from 512 to 4096, sectors per
// cluster a power of two, reserved sectors > 0, one or two FATs, a media
// byte 0xF0 or 0xF8–0xFF, a non-zero sector count and FAT size, and some
// room left for data after the reserved sectors, FATs and root directory.
func fatBootSector(b []byte) (bytesPerSector int, fat32 bool, ok bool) {
	if !hasBootSignature(b) || (b[0] != 0xEB && b[0] != 0xE9) {
		return 0, false, false
	}
	le16 := func(off int) uint32 { return uint32(binary.LittleEndian.Uint16(b[off:])) }
	bps := le16(11)
	spc := uint32(b[13])
	reserved := le16(14)
	nfats := uint32(b[16])
	rootEntries := le16(17)
	total := le16(19)
	media := b[21]
	fatSize := le16(22)
	if total == 0 {
		total = binary.LittleEndian.Uint32(b[32:])
	}
	if fatSize == 0 {
		fatSize = binary.LittleEndian.Uint32(b[36:])
		fat32 = true
		if rootEntries != 0 {
			return 0, false, false
		}
	}
	switch {
	case bps < 512 || bps > 4096 || bps&(bps-1) != 0,
		spc == 0 || spc&(spc-1) != 0,
		reserved == 0,
		nfats < 1 || nfats > 2,
		media != 0xF0 && media < 0xF8,
		total == 0 || fatSize == 0:
		return 0, false, false
	}
	rootSectors := (rootEntries*32 + bps - 1) / bps
	if uint64(reserved)+uint64(nfats)*uint64(fatSize)+uint64(rootSectors) >= uint64(total) {
		return 0, false, false
	}
	return int(bps), fat32, true
}

// extSuperblock reports whether b, the bytes at offset 1024 of a partition,
// start an ext2/3/4 superblock (magic 0xEF53 at byte 56).
func extSuperblock(b []byte) bool {
	return len(b) >= 58 && binary.LittleEndian.Uint16(b[56:]) == 0xEF53
}
