package image

import (
	"encoding/binary"
	"hash/crc32"
	"unicode/utf16"
)

// GPT limits; see the package doc.
const (
	gptMinHeader    = 92
	gptMaxEntries   = 16384
	gptMaxEntrySize = 4096
	gptMaxArray     = 1 << 20
)

var gptSignature = [8]byte{'E', 'F', 'I', ' ', 'P', 'A', 'R', 'T'}

// GPTHeader is a decoded GPT header (primary at LBA 1, backup at the last
// LBA). Marshal encodes it again with a fresh header CRC.
type GPTHeader struct {
	Revision       uint32 // 0x00010000
	HeaderSize     uint32 // 92 or more
	HeaderCRC32    uint32 // as read; Marshal recomputes it
	MyLBA          uint64 // where this header is
	AlternateLBA   uint64 // where the other header is
	FirstUsableLBA uint64
	LastUsableLBA  uint64
	DiskGUID       GUID
	EntriesLBA     uint64 // first sector of this header's partition array
	NumEntries     uint32
	EntrySize      uint32 // 128 × 2^n
	EntriesCRC32   uint32 // CRC32 of NumEntries × EntrySize bytes of array
}

// GPTEntry is one decoded GPT partition entry. An entry whose Type is zero
// is unused.
type GPTEntry struct {
	Type       GUID
	Unique     GUID
	FirstLBA   uint64
	LastLBA    uint64 // inclusive
	Attributes uint64
	Name       [72]byte // UTF-16LE, NUL-padded
}

// NameString decodes the entry's UTF-16LE name up to its first NUL.
func (e *GPTEntry) NameString() string {
	u := make([]uint16, 0, len(e.Name)/2)
	for i := 0; i+1 < len(e.Name); i += 2 {
		c := binary.LittleEndian.Uint16(e.Name[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// ParseGPTHeader decodes and checks a GPT header from the start of sector (a
// whole logical sector): signature, header size, and header CRC32.
func ParseGPTHeader(sector []byte) (GPTHeader, error) {
	var h GPTHeader
	if len(sector) < gptMinHeader || [8]byte(sector[0:8]) != gptSignature {
		return h, errFormat("no \"EFI PART\" signature")
	}
	le32 := binary.LittleEndian.Uint32
	le64 := binary.LittleEndian.Uint64
	h.Revision = le32(sector[8:])
	h.HeaderSize = le32(sector[12:])
	h.HeaderCRC32 = le32(sector[16:])
	if h.HeaderSize < gptMinHeader || int64(h.HeaderSize) > int64(len(sector)) {
		return h, errFormat("header size %d outside %d..%d", h.HeaderSize, gptMinHeader, len(sector))
	}
	if c := headerCRC(sector[:h.HeaderSize]); c != h.HeaderCRC32 {
		return h, errFormat("header CRC mismatch (stored 0x%08x, computed 0x%08x)", h.HeaderCRC32, c)
	}
	h.MyLBA = le64(sector[24:])
	h.AlternateLBA = le64(sector[32:])
	h.FirstUsableLBA = le64(sector[40:])
	h.LastUsableLBA = le64(sector[48:])
	h.DiskGUID = GUID(sector[56:72])
	h.EntriesLBA = le64(sector[72:])
	h.NumEntries = le32(sector[80:])
	h.EntrySize = le32(sector[84:])
	h.EntriesCRC32 = le32(sector[88:])
	if h.EntrySize < 128 || h.EntrySize%128 != 0 || h.EntrySize > gptMaxEntrySize ||
		h.NumEntries > gptMaxEntries || uint64(h.NumEntries)*uint64(h.EntrySize) > gptMaxArray {
		return h, errFormat("partition array of %d entries of %d bytes is beyond this package's limits", h.NumEntries, h.EntrySize)
	}
	return h, nil
}

// headerCRC computes the CRC32 of a header's bytes with its CRC field
// taken as zero.
func headerCRC(hdr []byte) uint32 {
	c := crc32.ChecksumIEEE(hdr[:16])
	c = crc32.Update(c, crc32.IEEETable, []byte{0, 0, 0, 0})
	return crc32.Update(c, crc32.IEEETable, hdr[20:])
}

// Marshal encodes the header into a sector of sectorSize bytes (the rest
// zero), with HeaderSize 92 when it is 0 and the header CRC recomputed.
// Set EntriesCRC32 first (see MarshalGPTEntries).
func (h *GPTHeader) Marshal(sectorSize int) []byte {
	b := make([]byte, sectorSize)
	size := h.HeaderSize
	if size < gptMinHeader || int(size) > sectorSize {
		size = gptMinHeader
	}
	copy(b, gptSignature[:])
	put32 := binary.LittleEndian.PutUint32
	put64 := binary.LittleEndian.PutUint64
	put32(b[8:], h.Revision)
	put32(b[12:], size)
	put64(b[24:], h.MyLBA)
	put64(b[32:], h.AlternateLBA)
	put64(b[40:], h.FirstUsableLBA)
	put64(b[48:], h.LastUsableLBA)
	copy(b[56:72], h.DiskGUID[:])
	put64(b[72:], h.EntriesLBA)
	put32(b[80:], h.NumEntries)
	put32(b[84:], h.EntrySize)
	put32(b[88:], h.EntriesCRC32)
	put32(b[16:], headerCRC(b[:size]))
	return b
}

// ParseGPTEntries decodes a partition array of h.NumEntries entries of
// h.EntrySize bytes, after checking its CRC32 against h.EntriesCRC32.
func ParseGPTEntries(h *GPTHeader, array []byte) ([]GPTEntry, error) {
	n := int(h.NumEntries) * int(h.EntrySize)
	if len(array) < n {
		return nil, errFormat("partition array of %d bytes, want %d", len(array), n)
	}
	array = array[:n]
	if c := crc32.ChecksumIEEE(array); c != h.EntriesCRC32 {
		return nil, errFormat("partition array CRC mismatch (stored 0x%08x, computed 0x%08x)", h.EntriesCRC32, c)
	}
	entries := make([]GPTEntry, h.NumEntries)
	for i := range entries {
		b := array[i*int(h.EntrySize):]
		e := &entries[i]
		e.Type = GUID(b[0:16])
		e.Unique = GUID(b[16:32])
		e.FirstLBA = binary.LittleEndian.Uint64(b[32:])
		e.LastLBA = binary.LittleEndian.Uint64(b[40:])
		e.Attributes = binary.LittleEndian.Uint64(b[48:])
		e.Name = [72]byte(b[56:128])
	}
	return entries, nil
}

// MarshalGPTEntries encodes entries into a partition array of entrySize
// bytes per entry and returns it with its CRC32, for GPTHeader.EntriesCRC32.
func MarshalGPTEntries(entries []GPTEntry, entrySize int) (array []byte, crc uint32) {
	array = make([]byte, len(entries)*entrySize)
	for i, e := range entries {
		b := array[i*entrySize:]
		copy(b[0:16], e.Type[:])
		copy(b[16:32], e.Unique[:])
		binary.LittleEndian.PutUint64(b[32:], e.FirstLBA)
		binary.LittleEndian.PutUint64(b[40:], e.LastLBA)
		binary.LittleEndian.PutUint64(b[48:], e.Attributes)
		copy(b[56:128], e.Name[:])
	}
	return array, crc32.ChecksumIEEE(array)
}
