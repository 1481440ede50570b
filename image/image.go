package image

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// Scheme is the kind of partition table an image has.
type Scheme int

// The partition table kinds.
const (
	SchemeMBR         Scheme = iota + 1 // MBR, with or without logical partitions
	SchemeGPT                           // GPT behind a protective or hybrid MBR
	SchemeSuperfloppy                   // no table: a FAT file system at offset 0
)

// String returns "mbr", "gpt" or "superfloppy".
func (s Scheme) String() string {
	switch s {
	case SchemeMBR:
		return "mbr"
	case SchemeGPT:
		return "gpt"
	case SchemeSuperfloppy:
		return "superfloppy"
	}
	return "Scheme(" + strconv.Itoa(int(s)) + ")"
}

// maxLogical bounds the walk of an extended partition's EBR chain.
const maxLogical = 1024

// Image is a disk image or block device whose partition table has been read.
// Its methods are safe for concurrent use, except GrowPartition.
type Image struct {
	name       string
	r          io.ReaderAt // bounded to size
	w          io.WriterAt // nil when read-only
	f          *os.File    // nil when built by New
	size       int64
	sectorSize int
	scheme     Scheme
	parts      []*Partition
	warnings   []string

	mbr        MBR // sector 0; zero for a superfloppy
	logical    map[int]ebrRef
	gptHeader  GPTHeader
	gptEntries []GPTEntry

	base io.ReaderAt // r unbounded, to read the tables again after a write
}

// ebrRef places a logical partition in its EBR chain, for GrowPartition.
type ebrRef struct {
	ext      int    // slot (1–4) of its extended partition
	ebr      uint64 // sector of its EBR
	index    int    // its entry in that EBR
	prev     uint64 // sector of the EBR linking to its EBR; 0 for the first
	prevLink int    // the linking entry in prev
	next     uint64 // sector of the next EBR; 0 for none
}

// Open opens the image or block device at path read-only and reads its
// partition table.
func Open(path string) (*Image, error) { return OpenFile(path, os.O_RDONLY) }

// OpenWritable opens the image or block device at path for reading and
// writing (Partition.WriterAt) and reads its partition table.
func OpenWritable(path string) (*Image, error) { return OpenFile(path, os.O_RDWR) }

// OpenFile opens path with flag (os.O_RDONLY or os.O_RDWR, possibly with
// other flags such as os.O_SYNC, but never os.O_CREATE or os.O_TRUNC) and
// reads its partition table. The size of a regular file or block device is
// found by seeking to its end. The error is an *fs.PathError when the file
// cannot be opened, an *Error when its tables cannot be read.
func OpenFile(path string, flag int) (*Image, error) {
	if flag&(os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 || flag&(os.O_RDONLY|os.O_WRONLY|os.O_RDWR) == os.O_WRONLY {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrInvalid}
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, errors.Join(&fs.PathError{Op: "seek", Path: path, Err: err}, f.Close())
	}
	var w io.WriterAt
	if flag&os.O_RDWR != 0 {
		w = f
	}
	img, err := newImage(f, w, size, path)
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	img.f = f
	return img, nil
}

// New reads the partition table of the image held by r, of size bytes, and
// returns it read-only. The name is used in errors and warnings. Reads never
// go beyond size, whatever r holds.
func New(r io.ReaderAt, size int64, name string) (*Image, error) {
	return newImage(r, nil, size, name)
}

// NewReadWriter is New for an image that can also be written through
// Partition.WriterAt.
func NewReadWriter(rw interface {
	io.ReaderAt
	io.WriterAt
}, size int64, name string) (*Image, error) {
	return newImage(rw, rw, size, name)
}

func newImage(r io.ReaderAt, w io.WriterAt, size int64, name string) (*Image, error) {
	if size < 0 {
		return nil, &Error{Image: name, Msg: fmt.Sprintf("negative size %d", size), kind: ErrFormat}
	}
	img := &Image{name: name, r: io.NewSectionReader(r, 0, size), w: w, size: size, base: r}
	if err := img.load(); err != nil {
		return nil, err
	}
	return img, nil
}

// Close closes the file opened by Open, OpenWritable or OpenFile. It does
// nothing for an image built by New. Partitions must not be read after
// Close.
func (img *Image) Close() error {
	if img.f == nil {
		return nil
	}
	return img.f.Close()
}

// Name returns the path or name the image was opened with.
func (img *Image) Name() string { return img.name }

// Size returns the image's size in bytes.
func (img *Image) Size() int64 { return img.size }

// SectorSize returns the logical sector size, 512 or 4096 (for a
// superfloppy, its FAT bytes per sector). See the package doc for how it is
// detected.
func (img *Image) SectorSize() int { return img.sectorSize }

// Scheme returns the kind of partition table.
func (img *Image) Scheme() Scheme { return img.scheme }

// Writable reports whether partitions can be written through
// Partition.WriterAt.
func (img *Image) Writable() bool { return img.w != nil }

// Warnings returns what was found wrong but worked around while reading the
// tables: a damaged primary GPT (the backup was used), a damaged or misplaced
// backup GPT, an EBR chain cut short. Each names the image.
func (img *Image) Warnings() []string { return append([]string(nil), img.warnings...) }

// Partitions returns the partitions in number order: MBR primaries, then
// logical partitions; GPT entries in array order. Each call returns fresh
// copies.
func (img *Image) Partitions() []*Partition {
	out := make([]*Partition, len(img.parts))
	for i, p := range img.parts {
		c := *p
		out[i] = &c
	}
	return out
}

// Partition returns partition n. For a superfloppy, partitions 0 and 1 are
// both the whole image. A missing partition is an *Error that matches
// fs.ErrNotExist and lists the partitions there are, as in
// "image.img: partition 7 not found; image has 1, 2, 5, 6".
func (img *Image) Partition(n int) (*Partition, error) {
	if n == 0 && img.scheme == SchemeSuperfloppy {
		n = 1
	}
	for _, p := range img.parts {
		if p.Number == n {
			c := *p
			return &c, nil
		}
	}
	return nil, &Error{Image: img.name, Msg: fmt.Sprintf("partition %d not found; %s", n, img.listNumbers()), kind: fs.ErrNotExist}
}

func (img *Image) listNumbers() string {
	if len(img.parts) == 0 {
		return "image has no partitions"
	}
	nums := make([]string, len(img.parts))
	for i, p := range img.parts {
		nums[i] = strconv.Itoa(p.Number)
	}
	return "image has " + strings.Join(nums, ", ")
}

func (img *Image) listTypes() string {
	if len(img.parts) == 0 {
		return "image has no partitions"
	}
	s := make([]string, len(img.parts))
	for i, p := range img.parts {
		s[i] = fmt.Sprintf("%d (%v)", p.Number, p.Type)
	}
	return "image has " + strings.Join(s, ", ")
}

// BootPartition returns the first partition whose type says FAT (see
// Type.IsFAT) and that starts with a valid FAT boot sector. A read error
// is returned as it is met; no such partition is an *Error that matches
// fs.ErrNotExist.
func (img *Image) BootPartition() (*Partition, error) {
	p, err := img.boot()
	if err != nil {
		return nil, err
	}
	c := *p
	return &c, nil
}

func (img *Image) boot() (*Partition, error) {
	buf := make([]byte, 512)
	for _, p := range img.parts {
		if !p.Type.IsFAT() || p.size < 512 {
			continue
		}
		if _, err := img.r.ReadAt(buf, p.off); err != nil {
			return nil, &Error{Image: img.name, Msg: fmt.Sprintf("partition %d: reading its boot sector", p.Number), Err: err}
		}
		if _, _, ok := fatBootSector(buf); ok {
			return p, nil
		}
	}
	return nil, &Error{Image: img.name, Msg: "no FAT boot partition; " + img.listTypes(), kind: fs.ErrNotExist}
}

// RootPartition returns the first partition that is not the boot partition
// (see BootPartition) and whose type says Linux (MBR 0x83, GPT Linux file
// system or a root type); failing that, the first one whose type is neither
// FAT nor extended, swap, protective or BIOS boot. No such partition is an
// *Error that matches fs.ErrNotExist.
func (img *Image) RootPartition() (*Partition, error) {
	boot, err := img.boot()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for pass := 0; pass < 2; pass++ {
		for _, p := range img.parts {
			if p == boot || p.Type.IsFAT() || p.Type.neverRoot() {
				continue
			}
			if pass == 0 && !p.Type.IsLinux() {
				continue
			}
			c := *p
			return &c, nil
		}
	}
	return nil, &Error{Image: img.name, Msg: "no root partition; " + img.listTypes(), kind: fs.ErrNotExist}
}

// MBR returns the decoded partition table of sector 0 (for a GPT image, the
// protective MBR), for a tool that rewrites it. ok is false for a
// superfloppy.
func (img *Image) MBR() (m MBR, ok bool) { return img.mbr, img.scheme != SchemeSuperfloppy }

// GPT returns the GPT header and every entry (used or not) of the table in
// use: the primary one, or the backup when the primary is damaged (then
// header.MyLBA is the last LBA). ok is false for an image without GPT.
func (img *Image) GPT() (header GPTHeader, entries []GPTEntry, ok bool) {
	if img.scheme != SchemeGPT {
		return GPTHeader{}, nil, false
	}
	return img.gptHeader, append([]GPTEntry(nil), img.gptEntries...), true
}

// errorf returns an *Error about the image's format.
func (img *Image) errorf(format string, args ...any) error {
	return &Error{Image: img.name, Msg: fmt.Sprintf(format, args...), kind: ErrFormat}
}

func (img *Image) warnf(format string, args ...any) {
	img.warnings = append(img.warnings, img.name+": "+fmt.Sprintf(format, args...))
}

// read reads n bytes at off; the error names what was read.
func (img *Image) read(off int64, n int, what string) ([]byte, error) {
	b, err := img.readRaw(off, n)
	if err != nil {
		e := &Error{Image: img.name, Msg: "reading " + what, Err: err}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			e.kind = ErrFormat // the tables point past the end
		}
		return nil, e
	}
	return b, nil
}

func (img *Image) load() error {
	if img.size < 512 {
		return img.errorf("image of %d bytes is too small for a partition table", img.size)
	}
	sector0, err := img.read(0, 512, "sector 0")
	if err != nil {
		return err
	}
	m, err := ParseMBR(sector0)
	if err != nil {
		return img.errorf("no partition table: sector 0 has no 0x55AA signature")
	}
	if bps, fat32, ok := fatBootSector(sector0); ok && !m.plausible(img.size) {
		return img.loadSuperfloppy(sector0, bps, fat32)
	}
	img.mbr = m
	for _, e := range m.Entries {
		if e.Type == 0xEE && e.Sectors != 0 {
			return img.loadGPT()
		}
	}
	return img.loadMBR()
}

func (img *Image) loadSuperfloppy(sector0 []byte, bps int, fat32 bool) error {
	img.scheme = SchemeSuperfloppy
	img.sectorSize = bps
	var total uint64 = uint64(sector0[19]) | uint64(sector0[20])<<8
	if total == 0 {
		total = uint64(sector0[32]) | uint64(sector0[33])<<8 | uint64(sector0[34])<<16 | uint64(sector0[35])<<24
	}
	if total*uint64(bps) > uint64(img.size) {
		return img.errorf("superfloppy: FAT file system of %d sectors of %d bytes extends past the end of the image (%d bytes): truncated image?", total, bps, img.size)
	}
	t := Type{MBR: 0x0E}
	if fat32 {
		t.MBR = 0x0C
	}
	img.parts = []*Partition{{Number: 1, Start: 0, Size: img.size, Type: t, img: img, off: 0, size: img.size}}
	return nil
}

// addPart appends a partition after checking that sectors [first,
// first+count) lie inside the image.
func (img *Image) addPart(p Partition, first, count uint64) error {
	ss := uint64(img.sectorSize)
	end := uint64(img.size) / ss
	if first+count > end || first+count < first {
		return img.errorf("partition %d (sectors %d–%d of %d bytes) extends past the end of the image (%d sectors): truncated image?",
			p.Number, first, first+count-1, ss, end)
	}
	p.img = img
	p.Start, p.off = int64(first*ss), int64(first*ss)
	p.Size, p.size = int64(count*ss), int64(count*ss)
	img.parts = append(img.parts, &p)
	return nil
}

// mbrSectorSize decides the sector size of an MBR image; see the package doc.
func (img *Image) mbrSectorSize() int {
	for _, e := range img.mbr.Entries {
		if e.Empty() || isExtended(e.Type) {
			continue
		}
		found := func(ss int64) (fat, fatMatch, ext bool) {
			off := int64(e.FirstLBA) * ss
			if b, err := img.read(off, 512, "boot sector"); err == nil {
				bps, _, ok := fatBootSector(b)
				fat, fatMatch = ok, ok && int64(bps) == ss
			}
			if b, err := img.read(off+1024, 64, "superblock"); err == nil {
				ext = extSuperblock(b)
			}
			return
		}
		fat512, _, ext512 := found(512)
		if fat512 || ext512 {
			return 512
		}
		if _, fat4096, ext4096 := found(4096); fat4096 || ext4096 {
			return 4096
		}
	}
	return 512
}

func (img *Image) loadMBR() error {
	img.scheme = SchemeMBR
	img.sectorSize = img.mbrSectorSize()
	for i, e := range img.mbr.Entries {
		if e.Empty() {
			continue
		}
		p := Partition{Number: i + 1, Type: Type{MBR: e.Type}, Bootable: e.Status&0x80 != 0}
		if err := img.addPart(p, uint64(e.FirstLBA), uint64(e.Sectors)); err != nil {
			return err
		}
	}
	next := 5
	for i, e := range img.mbr.Entries {
		if e.Empty() || !isExtended(e.Type) {
			continue
		}
		if err := img.walkEBRs(i+1, uint64(e.FirstLBA), uint64(e.Sectors), &next); err != nil {
			return err
		}
	}
	return nil
}

// walkEBRs adds the logical partitions of the extended partition in slot,
// covering sectors [extStart, extStart+extSize), numbering them from *next.
func (img *Image) walkEBRs(slot int, extStart, extSize uint64, next *int) error {
	extEnd := extStart + extSize
	seen := make(map[uint64]bool)
	ebr := extStart
	var prev uint64
	prevLink := -1
	var inChain []int // numbers of the logical partitions of the current EBR
	if img.logical == nil {
		img.logical = make(map[int]ebrRef)
	}
	for {
		if seen[ebr] {
			return img.errorf("logical partition chain loops at sector %d", ebr)
		}
		if len(seen) >= maxLogical {
			return img.errorf("extended partition %d: more than %d EBRs in its chain", slot, maxLogical)
		}
		seen[ebr] = true
		b, err := img.read(int64(ebr)*int64(img.sectorSize), 512, fmt.Sprintf("EBR at sector %d", ebr))
		if err != nil {
			return err
		}
		m, err := ParseMBR(b)
		if err != nil {
			if ebr != extStart {
				img.warnf("EBR at sector %d has no 0x55AA signature; logical partitions end there", ebr)
			}
			return nil
		}
		for i, e := range m.Entries {
			if e.Empty() || isExtended(e.Type) {
				continue
			}
			first := ebr + uint64(e.FirstLBA)
			last := first + uint64(e.Sectors) - 1
			if first < extStart || last >= extEnd {
				if i >= 2 {
					// Linux ignores entries 3 and 4 of an EBR when they do
					// not fit: they are sometimes garbage.
					img.warnf("EBR at sector %d: entry %d (sectors %d–%d) ignored: outside extended partition %d", ebr, i+1, first, last, slot)
					continue
				}
				return img.errorf("logical partition %d (sectors %d–%d, EBR at sector %d) lies outside extended partition %d (sectors %d–%d)",
					*next, first, last, ebr, slot, extStart, extEnd-1)
			}
			p := Partition{Number: *next, Type: Type{MBR: e.Type}, Bootable: e.Status&0x80 != 0}
			if err := img.addPart(p, first, uint64(e.Sectors)); err != nil {
				return err
			}
			img.logical[*next] = ebrRef{ext: slot, ebr: ebr, index: i, prev: prev, prevLink: prevLink}
			inChain = append(inChain, *next)
			*next++
		}
		link := -1
		for i, e := range m.Entries {
			if e.Sectors != 0 && isExtended(e.Type) {
				link = i
				break
			}
		}
		if link < 0 {
			return nil
		}
		to := extStart + uint64(m.Entries[link].FirstLBA)
		if to >= extEnd {
			return img.errorf("EBR at sector %d links to sector %d, outside extended partition %d (sectors %d–%d)",
				ebr, to, slot, extStart, extEnd-1)
		}
		for _, n := range inChain {
			r := img.logical[n]
			r.next = to
			img.logical[n] = r
		}
		inChain = inChain[:0]
		prev, prevLink = ebr, link
		ebr = to
	}
}

func (img *Image) loadGPT() error {
	img.scheme = SchemeGPT
	var sizes []int
	for _, ss := range []int{512, 4096} {
		if b, err := img.readRaw(int64(ss), 8); err == nil && [8]byte(b) == gptSignature {
			sizes = append(sizes, ss)
		}
	}
	if len(sizes) == 0 {
		sizes = []int{512, 4096} // the primary header is lost: look for a backup
	}
	var errs []string
	for _, ss := range sizes {
		h, entries, warns, err := img.findGPT(ss)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		img.sectorSize = ss
		img.gptHeader, img.gptEntries = h, entries
		for _, w := range warns {
			img.warnf("%s", w)
		}
		return img.gptPartitions()
	}
	return img.errorf("no usable GPT: %s", strings.Join(errs, "; "))
}

// readRaw reads n bytes at off, failing on a short read.
func (img *Image) readRaw(off int64, n int) ([]byte, error) {
	if off < 0 || off > img.size || int64(n) > img.size-off {
		return nil, fmt.Errorf("bytes %d–%d lie past the end of the image (%d bytes; truncated?): %w", off, off+int64(n)-1, img.size, io.ErrUnexpectedEOF)
	}
	b := make([]byte, n)
	if _, err := img.r.ReadAt(b, off); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// gptAt reads and checks the GPT header at lba and its partition array.
func (img *Image) gptAt(ss int, lba uint64) (GPTHeader, []GPTEntry, error) {
	what := fmt.Sprintf("GPT header at LBA %d", lba)
	b, err := img.readRaw(int64(lba)*int64(ss), ss)
	if err != nil {
		return GPTHeader{}, nil, fmt.Errorf("%s: %w", what, err)
	}
	h, err := ParseGPTHeader(b)
	if err != nil {
		return h, nil, fmt.Errorf("%s: %w", what, err)
	}
	if h.MyLBA != lba {
		return h, nil, errFormat("%s: it says it is at LBA %d", what, h.MyLBA)
	}
	total := uint64(img.size) / uint64(ss)
	if h.EntriesLBA >= total {
		return h, nil, errFormat("%s: partition array at LBA %d is past the end of the image", what, h.EntriesLBA)
	}
	array, err := img.readRaw(int64(h.EntriesLBA)*int64(ss), int(h.NumEntries)*int(h.EntrySize))
	if err != nil {
		return h, nil, fmt.Errorf("%s: partition array at LBA %d: %w", what, h.EntriesLBA, err)
	}
	entries, err := ParseGPTEntries(&h, array)
	if err != nil {
		return h, nil, fmt.Errorf("%s: %w", what, err)
	}
	return h, entries, nil
}

// findGPT reads the GPT with sector size ss: the primary, or failing that
// the backup in the last sector (with a warning).
func (img *Image) findGPT(ss int) (GPTHeader, []GPTEntry, []string, error) {
	var warns []string
	total := uint64(img.size) / uint64(ss)
	if total < 3 {
		return GPTHeader{}, nil, nil, fmt.Errorf("%d-byte sectors: image too small for a GPT", ss)
	}
	lastLBA := total - 1
	h, entries, perr := img.gptAt(ss, 1)
	if perr == nil {
		if h.AlternateLBA != lastLBA {
			warns = append(warns, fmt.Sprintf("backup GPT header is at LBA %d, not at the last LBA %d (was the image resized?)", h.AlternateLBA, lastLBA))
		} else if _, _, berr := img.gptAt(ss, lastLBA); berr != nil {
			warns = append(warns, fmt.Sprintf("backup GPT damaged: %v", berr))
		}
		return h, entries, warns, nil
	}
	h, entries, berr := img.gptAt(ss, lastLBA)
	if berr != nil {
		return h, nil, nil, fmt.Errorf("%d-byte sectors: primary %v; backup %v", ss, perr, berr)
	}
	warns = append(warns, fmt.Sprintf("primary GPT unusable (%v); using the backup at LBA %d", perr, lastLBA))
	return h, entries, warns, nil
}

// gptPartitions makes the partitions of the GPT in use.
func (img *Image) gptPartitions() error {
	total := uint64(img.size) / uint64(img.sectorSize)
	for i, e := range img.gptEntries {
		if e.Type.IsZero() {
			continue
		}
		if e.FirstLBA > e.LastLBA {
			return img.errorf("GPT entry %d: first LBA %d after last LBA %d", i+1, e.FirstLBA, e.LastLBA)
		}
		if e.LastLBA >= total {
			return img.errorf("partition %d (sectors %d–%d of %d bytes) extends past the end of the image (%d sectors): truncated image?",
				i+1, e.FirstLBA, e.LastLBA, img.sectorSize, total)
		}
		p := Partition{
			Number:     i + 1,
			Type:       Type{GUID: e.Type},
			Name:       e.NameString(),
			Bootable:   e.Attributes&(1<<2) != 0,
			UniqueGUID: e.Unique,
			Attributes: e.Attributes,
		}
		if err := img.addPart(p, e.FirstLBA, e.LastLBA-e.FirstLBA+1); err != nil {
			return err
		}
	}
	return nil
}
