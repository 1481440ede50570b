package fatfs

import (
	"encoding/binary"
	"fmt"
)

// Type is the FAT variant of a volume.
type Type int

// The FAT variants, named by the width of a FAT entry.
const (
	FAT12 Type = 12
	FAT16 Type = 16
	FAT32 Type = 32
)

// String returns "FAT12", "FAT16" or "FAT32".
func (t Type) String() string { return fmt.Sprintf("FAT%d", int(t)) }

// Geometry is the layout of a FAT volume as read from its boot sector. All
// offsets are bytes from the start of the volume.
type Geometry struct {
	Type              Type
	BytesPerSector    int
	SectorsPerCluster int
	ClusterSize       int   // bytes per cluster
	ReservedSectors   int   // sectors before the first FAT
	NumFATs           int   // 1 or 2
	FATSize           int64 // bytes per FAT
	ActiveFAT         int   // the FAT to read (FAT32 with mirroring off may name one)
	RootEntries       int   // FAT12/16 fixed root directory entries; 0 on FAT32
	RootCluster       uint32
	TotalSectors      int64
	VolumeSize        int64  // TotalSectors * BytesPerSector
	FATOffset         int64  // of the first FAT
	RootDirOffset     int64  // FAT12/16 fixed root directory; 0 on FAT32
	RootDirSize       int64  // bytes of the FAT12/16 fixed root directory
	DataOffset        int64  // of cluster 2
	Clusters          uint32 // count of data clusters; valid ones are 2..Clusters+1
	Label             string // from the extended boot record, trimmed
	VolumeID          uint32
}

// bootErr makes an error about the boot sector.
func bootErr(format string, args ...any) error {
	return fmt.Errorf("fatfs: boot sector: "+format, args...)
}

// parseBootSector validates a boot sector (at least its first 512 bytes) and
// derives the geometry, checking it against the volume size.
func parseBootSector(b []byte, size int64) (*Geometry, error) {
	if len(b) < 512 {
		return nil, bootErr("%d bytes, need 512", len(b))
	}
	le := binary.LittleEndian
	if !(b[0] == 0xEB && b[2] == 0x90) && b[0] != 0xE9 {
		return nil, bootErr("no x86 jump instruction (starts % x), not a FAT boot sector", b[0:3])
	}
	if b[510] != 0x55 || b[511] != 0xAA {
		return nil, bootErr("signature at offset 510 is %#02x %#02x, want 0x55 0xaa", b[510], b[511])
	}
	g := &Geometry{}
	bps := int(le.Uint16(b[11:]))
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 {
		return nil, bootErr("bytes per sector %d not a power of two in 512..4096", bps)
	}
	g.BytesPerSector = bps
	spc := int(b[13])
	if spc == 0 || spc&(spc-1) != 0 {
		return nil, bootErr("sectors per cluster %d not a power of two in 1..128", spc)
	}
	g.SectorsPerCluster = spc
	g.ClusterSize = spc * bps
	g.ReservedSectors = int(le.Uint16(b[14:]))
	if g.ReservedSectors == 0 {
		return nil, bootErr("reserved sector count is 0")
	}
	g.NumFATs = int(b[16])
	if g.NumFATs < 1 || g.NumFATs > 2 {
		return nil, bootErr("number of FATs %d, want 1 or 2", g.NumFATs)
	}
	g.RootEntries = int(le.Uint16(b[17:]))
	tot16 := int64(le.Uint16(b[19:]))
	media := b[21]
	if media != 0xF0 && media < 0xF8 {
		return nil, bootErr("media descriptor %#02x not 0xf0 or 0xf8..0xff", media)
	}
	fatSz16 := int64(le.Uint16(b[22:]))
	tot32 := int64(le.Uint32(b[32:]))
	fatSz32 := int64(le.Uint32(b[36:]))

	fatSz := fatSz16
	if fatSz == 0 {
		fatSz = fatSz32
	}
	if fatSz == 0 {
		return nil, bootErr("FAT size is 0 sectors")
	}
	tot := tot16
	if tot == 0 {
		tot = tot32
	}
	if tot == 0 {
		return nil, bootErr("total sector count is 0")
	}
	if tot16 != 0 && tot32 != 0 && tot16 != tot32 {
		return nil, bootErr("16-bit total sectors %d and 32-bit total sectors %d disagree", tot16, tot32)
	}
	g.TotalSectors = tot
	g.VolumeSize = tot * int64(bps)
	if g.VolumeSize > size {
		return nil, bootErr("volume of %d sectors (%d bytes) larger than the %d bytes given", tot, g.VolumeSize, size)
	}
	rootSectors := (int64(g.RootEntries)*32 + int64(bps) - 1) / int64(bps)
	meta := int64(g.ReservedSectors) + int64(g.NumFATs)*fatSz + rootSectors
	if meta >= tot {
		return nil, bootErr("reserved, FAT and root directory sectors (%d) fill the %d-sector volume", meta, tot)
	}
	count := (tot - meta) / int64(spc)
	if count < 1 {
		return nil, bootErr("no data clusters")
	}
	if count > 0x0FFFFFF5 {
		return nil, bootErr("%d data clusters, more than FAT32 can address", count)
	}
	g.Clusters = uint32(count)
	switch {
	case count < 4085:
		g.Type = FAT12
	case count < 65525:
		g.Type = FAT16
	default:
		g.Type = FAT32
	}
	g.FATSize = fatSz * int64(bps)
	g.FATOffset = int64(g.ReservedSectors) * int64(bps)
	g.RootDirOffset = g.FATOffset + int64(g.NumFATs)*g.FATSize
	g.RootDirSize = int64(g.RootEntries) * 32
	g.DataOffset = g.RootDirOffset + rootSectors*int64(bps)

	// The FAT must hold an entry for every cluster.
	need := (int64(count+2)*int64(g.Type) + 7) / 8
	if g.FATSize < need {
		return nil, bootErr("FAT of %d bytes too small for %d clusters of %s (needs %d)", g.FATSize, count, g.Type, need)
	}

	ebr := 36 // extended boot record of FAT12/16
	if g.Type == FAT32 {
		// The count of clusters makes this FAT32: the BPB must be a FAT32 one.
		if fatSz16 != 0 {
			return nil, bootErr("%d clusters make FAT32 but the 16-bit FAT size is %d (FAT12/16 layout)", count, fatSz16)
		}
		if g.RootEntries != 0 {
			return nil, bootErr("%d clusters make FAT32 but the root entry count is %d (FAT12/16 layout)", count, g.RootEntries)
		}
		if tot16 != 0 {
			return nil, bootErr("%d clusters make FAT32 but the 16-bit total sector count is %d", count, tot16)
		}
		ext := le.Uint16(b[40:])
		if ext&0x80 != 0 {
			g.ActiveFAT = int(ext & 0x0F)
			if g.ActiveFAT >= g.NumFATs {
				return nil, bootErr("active FAT %d but only %d FATs", g.ActiveFAT, g.NumFATs)
			}
		}
		if v := le.Uint16(b[42:]); v != 0 {
			return nil, bootErr("FAT32 version %#04x, only 0 is known", v)
		}
		g.RootCluster = le.Uint32(b[44:])
		if g.RootCluster < 2 || g.RootCluster > g.Clusters+1 {
			return nil, bootErr("root directory cluster %d outside 2..%d", g.RootCluster, g.Clusters+1)
		}
		ebr = 64
	} else {
		if fatSz16 == 0 {
			return nil, bootErr("%d clusters make %s but the 16-bit FAT size is 0 (FAT32 layout)", count, g.Type)
		}
		if g.RootEntries == 0 {
			return nil, bootErr("%d clusters make %s but the root entry count is 0 (FAT32 layout)", count, g.Type)
		}
	}
	if b[ebr+2] == 0x29 { // extended boot signature: volume ID and label present
		g.VolumeID = le.Uint32(b[ebr+3:])
		g.Label = trimLabel(b[ebr+7 : ebr+18])
	}
	return g, nil
}

// trimLabel decodes a space-padded 11-byte label.
func trimLabel(b []byte) string {
	end := len(b)
	for end > 0 && (b[end-1] == ' ' || b[end-1] == 0) {
		end--
	}
	s := decodeOEM(b[:end])
	if s == "NO NAME" {
		return ""
	}
	return s
}

// clusterOffset is the byte offset of data cluster c (2 ≤ c ≤ Clusters+1).
func (g *Geometry) clusterOffset(c uint32) int64 {
	return g.DataOffset + int64(c-2)*int64(g.ClusterSize)
}

// validCluster reports whether c names a data cluster.
func (g *Geometry) validCluster(c uint32) bool {
	return c >= 2 && c <= g.Clusters+1
}
