package image

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// GUID is a GPT globally unique identifier as its 16 bytes are stored on
// disk: the first three fields little-endian, the last two big-endian.
type GUID [16]byte

// String returns the GUID in its usual upper-case text form,
// such as "C12A7328-F81F-11D2-BA4B-00A0C93EC93B".
func (g GUID) String() string {
	return fmt.Sprintf("%08X-%04X-%04X-%04X-%012X",
		binary.LittleEndian.Uint32(g[0:4]),
		binary.LittleEndian.Uint16(g[4:6]),
		binary.LittleEndian.Uint16(g[6:8]),
		g[8:10], g[10:16])
}

// IsZero reports whether the GUID is all zero, which marks an unused GPT
// entry.
func (g GUID) IsZero() bool { return g == GUID{} }

// ParseGUID parses the text form of a GUID, in either case, as printed by
// GUID.String.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	f := strings.Split(s, "-")
	if len(s) != 36 || len(f) != 5 || len(f[0]) != 8 || len(f[1]) != 4 ||
		len(f[2]) != 4 || len(f[3]) != 4 || len(f[4]) != 12 {
		return g, fmt.Errorf("image: GUID %q: %w: want form XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", s, fs.ErrInvalid)
	}
	b, err := hex.DecodeString(strings.Join(f, ""))
	if err != nil {
		return g, fmt.Errorf("image: GUID %q: %w", s, fs.ErrInvalid)
	}
	// The first three fields are stored little-endian.
	g[0], g[1], g[2], g[3] = b[3], b[2], b[1], b[0]
	g[4], g[5] = b[5], b[4]
	g[6], g[7] = b[7], b[6]
	copy(g[8:], b[8:])
	return g, nil
}

func mustGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// Well-known GPT partition type GUIDs.
var (
	GUIDBasicData  = mustGUID("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7") // Microsoft basic data (FAT, NTFS, exFAT)
	GUIDEFISystem  = mustGUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B") // EFI system partition (FAT)
	GUIDLinuxData  = mustGUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4") // Linux file system
	GUIDLinuxSwap  = mustGUID("0657FD6D-A4AB-4C7D-84E5-9BB3C12D5D8D") // Linux swap
	GUIDRootARM64  = mustGUID("B921B045-1DF0-41C3-AF44-4C6F280D3FAE") // Linux root (ARM64), discoverable partitions
	GUIDRootARM    = mustGUID("69DAD710-2CE4-4E3C-B16C-21A1D49ABED3") // Linux root (ARM 32-bit)
	GUIDRootX86_64 = mustGUID("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709") // Linux root (x86-64)
	GUIDBIOSBoot   = mustGUID("21686148-6449-6E6F-744E-656564454649") // BIOS boot partition (GRUB)
)

// Type is a partition's type: an MBR system ID for a partition of an MBR
// table, a type GUID for a GPT partition. Exactly one of the two is set.
type Type struct {
	MBR  byte // MBR partition type byte; 0 for a GPT partition
	GUID GUID // GPT partition type GUID; zero for an MBR partition
}

// String returns the MBR type as "0x0c", or the GPT type GUID.
func (t Type) String() string {
	if t.GUID.IsZero() {
		return fmt.Sprintf("0x%02x", t.MBR)
	}
	return t.GUID.String()
}

// IsFAT reports whether the type says FAT: MBR 0x01, 0x04, 0x06, 0x0B, 0x0C,
// 0x0E or 0xEF, or the GPT basic data or EFI system type. It says nothing of
// the partition's content (a basic data partition may hold NTFS).
func (t Type) IsFAT() bool {
	if !t.GUID.IsZero() {
		return t.GUID == GUIDBasicData || t.GUID == GUIDEFISystem
	}
	switch t.MBR {
	case 0x01, 0x04, 0x06, 0x0B, 0x0C, 0x0E, 0xEF:
		return true
	}
	return false
}

// IsLinux reports whether the type says Linux file system: MBR 0x83, or the
// GPT Linux file system type or a discoverable-partitions root type
// (ARM64, ARM, x86-64).
func (t Type) IsLinux() bool {
	if !t.GUID.IsZero() {
		switch t.GUID {
		case GUIDLinuxData, GUIDRootARM64, GUIDRootARM, GUIDRootX86_64:
			return true
		}
		return false
	}
	return t.MBR == 0x83
}

// IsExtended reports whether the type is an MBR extended partition (0x05,
// 0x0F or 0x85), a container for logical partitions.
func (t Type) IsExtended() bool {
	return t.GUID.IsZero() && isExtended(t.MBR)
}

func isExtended(b byte) bool { return b == 0x05 || b == 0x0F || b == 0x85 }

// neverRoot reports types that hold no root file system: containers, swap,
// firmware partitions.
func (t Type) neverRoot() bool {
	if t.GUID.IsZero() {
		return isExtended(t.MBR) || t.MBR == 0x82 || t.MBR == 0xEE
	}
	return t.GUID == GUIDLinuxSwap || t.GUID == GUIDBIOSBoot
}

// Partition is one partition of an image. Its fields describe it; its bytes
// are read through Section and, on a writable image, written through
// WriterAt. The fields are informational: changing them changes neither the
// image nor what Section reads.
type Partition struct {
	Number   int    // as Linux numbers it; see the package doc
	Start    int64  // offset of the first byte in the image
	Size     int64  // length in bytes
	Type     Type   // MBR type byte or GPT type GUID
	Name     string // GPT partition name; empty for MBR
	Bootable bool   // MBR status 0x80, or GPT attribute bit 2 (legacy BIOS bootable)

	// GPT only: the partition's unique GUID and attribute bits.
	UniqueGUID GUID
	Attributes uint64

	img       *Image
	off, size int64 // what Section reads, kept apart from Start and Size
}

// Section returns a reader of the partition's bytes: offset 0 is the
// partition's first byte, and reads stop at its end with io.EOF. Each call
// returns a new reader with its own Seek position; all of them read the same
// file concurrently and safely.
func (p *Partition) Section() *io.SectionReader {
	return io.NewSectionReader(p.img.r, p.off, p.size)
}

// WriterAt returns a writer of the partition's bytes, offset 0 being its
// first byte. Writes that would reach past the partition's end write what
// fits and fail with an error naming the partition. It fails with
// fs.ErrPermission when the image was opened read-only.
func (p *Partition) WriterAt() (io.WriterAt, error) {
	if p.img.w == nil {
		return nil, &fs.PathError{Op: "write", Path: p.img.name, Err: fs.ErrPermission}
	}
	return &sectionWriter{w: p.img.w, base: p.off, size: p.size, name: p.img.name, num: p.Number}, nil
}

// String describes the partition, as in
// "image.img partition 2 (0x83, 3959422976 bytes at byte 272629760)".
func (p *Partition) String() string {
	s := fmt.Sprintf("%s partition %d (%v, %d bytes at byte %d", p.img.name, p.Number, p.Type, p.Size, p.Start)
	if p.Name != "" {
		s += fmt.Sprintf(", %q", p.Name)
	}
	return s + ")"
}

type sectionWriter struct {
	w    io.WriterAt
	base int64
	size int64
	name string
	num  int
}

func (s *sectionWriter) WriteAt(b []byte, off int64) (int, error) {
	if off < 0 || off > s.size {
		return 0, fmt.Errorf("%s: partition %d: write at offset %d outside its %d bytes", s.name, s.num, off, s.size)
	}
	short := false
	if int64(len(b)) > s.size-off {
		b = b[:s.size-off]
		short = true
	}
	n, err := s.w.WriteAt(b, s.base+off)
	if err == nil && short {
		err = fmt.Errorf("%s: partition %d: write of %d bytes at offset %d: %w past its end (%d bytes)",
			s.name, s.num, len(b), off, io.ErrShortWrite, s.size)
	}
	return n, err
}

// ErrFormat is matched (errors.Is(err, ErrFormat)) by errors about
// malformed, damaged or truncated partition tables.
var ErrFormat = errors.New("invalid partition table")

// Error is the error for a malformed, damaged or truncated image, and for a
// partition that is not there. Its text names the image and, where it can,
// the partition or sector at fault. With errors.Is it matches ErrFormat for a
// bad or truncated table, fs.ErrNotExist for a missing partition,
// fs.ErrInvalid for a bad argument, and its
// cause (such as an I/O error from the file).
type Error struct {
	Image string // the image's name
	Msg   string // what is wrong
	Err   error  // the cause, such as an I/O error; nil if none

	kind error // ErrFormat or fs.ErrNotExist: matched by Is, not printed
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Image + ": " + e.Msg + ": " + e.Err.Error()
	}
	return e.Image + ": " + e.Msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the kind of the error: ErrFormat or
// fs.ErrNotExist.
func (e *Error) Is(target error) bool { return target != nil && target == e.kind }

// formatError is an error about a table's content that matches ErrFormat
// without printing it.
type formatError string

func (e formatError) Error() string        { return string(e) }
func (e formatError) Is(target error) bool { return target == ErrFormat }

func errFormat(format string, args ...any) error { return formatError(fmt.Sprintf(format, args...)) }
