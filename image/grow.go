package image

import (
	"fmt"
	"io/fs"
	"math"
)

// GrowPartition enlarges partition n to size bytes, rounded down to whole
// sectors, by rewriting the partition table; size 0 means as large as
// possible: up to the next partition, or to the end of the image. It is for
// growing the root partition after the image file was enlarged (reopen the
// image after enlarging the file: the size is measured by Open).
//
// Limits: it only grows (a smaller size is an error, to protect data) and
// never moves a partition's start. It does not touch the file system inside.
// An MBR partition may be a primary or a logical partition, not an
// extended one; growing the last logical partition grows its extended
// partition with it; MBR sizes are capped at 2^32-1 sectors. On a GPT image
// the backup table is moved to the image's new last sectors and both tables
// are rewritten with fresh CRCs (the backup first, so that an interrupted
// write leaves the old primary table intact), even when the partition
// already had the size asked for: GrowPartition(n, 0) on a full partition
// just moves the backup GPT to the end. The protective MBR's size is
// updated too. A superfloppy has no table to change.
//
// The image must be writable and not in use by other goroutines during the
// call. On success the Image describes the new table; Partitions returned
// before keep their old fields.
func (img *Image) GrowPartition(n int, size int64) error {
	if img.w == nil {
		return &fs.PathError{Op: "write", Path: img.name, Err: fs.ErrPermission}
	}
	if size < 0 {
		return &Error{Image: img.name, Msg: fmt.Sprintf("partition %d: negative size %d", n, size), kind: fs.ErrInvalid}
	}
	p, err := img.Partition(n)
	if err != nil {
		return err
	}
	ss := uint64(img.sectorSize)
	first := uint64(p.off) / ss
	cur := uint64(p.size) / ss
	want := uint64(size) / ss
	if size != 0 && want < cur {
		return img.errorf("partition %d: will not shrink it from %d to %d sectors", n, cur, want)
	}
	switch img.scheme {
	case SchemeGPT:
		err = img.growGPT(n, first, cur, want)
	case SchemeMBR:
		err = img.growMBR(p, first, cur, want)
	default:
		return img.errorf("a superfloppy has no partition table to change")
	}
	if err != nil {
		return err
	}
	fresh, err := newImage(img.base, img.w, img.size, img.name)
	if err != nil {
		return err
	}
	fresh.f = img.f
	*img = *fresh
	for _, p := range img.parts {
		p.img = img
	}
	return nil
}

// limitAfter returns the first sector at or after from that the check says
// is taken, or end.
func limitAfter(from, end uint64, starts []uint64) uint64 {
	for _, s := range starts {
		if s > from && s < end {
			end = s
		}
	}
	return end
}

// newEnd picks the exclusive end sector of a grown partition: first+want
// when want is given (checked against limit), or limit.
func (img *Image) newEnd(n int, first, cur, want, limit uint64) (uint64, error) {
	if want == 0 {
		if limit < first+cur {
			return first + cur, nil // nothing to grow into
		}
		return limit, nil
	}
	if first+want > limit {
		return 0, img.errorf("partition %d: %d sectors from sector %d would reach past sector %d (the next partition or the end of the image)",
			n, want, first, limit-1)
	}
	return first + want, nil
}

func (img *Image) writeAt(b []byte, off int64, what string) error {
	if _, err := img.w.WriteAt(b, off); err != nil {
		return &Error{Image: img.name, Msg: "writing " + what, Err: err}
	}
	return nil
}

func (img *Image) growGPT(n int, first, cur, want uint64) error {
	ss := uint64(img.sectorSize)
	h := img.gptHeader
	entries := append([]GPTEntry(nil), img.gptEntries...)
	total := uint64(img.size) / ss
	arraySectors := (uint64(h.NumEntries)*uint64(h.EntrySize) + ss - 1) / ss
	if total < 2*arraySectors+3 {
		return img.errorf("image too small for its GPT")
	}
	backupArray := total - 1 - arraySectors
	lastUsable := backupArray - 1
	if h.MyLBA != 1 {
		return img.errorf("the primary GPT is damaged; repair it before growing a partition")
	}
	for i, e := range entries {
		if !e.Type.IsZero() && i+1 != n && e.LastLBA > lastUsable {
			return img.errorf("partition %d reaches sector %d, where the backup GPT must go", i+1, e.LastLBA)
		}
	}
	var starts []uint64
	for _, e := range entries {
		if !e.Type.IsZero() {
			starts = append(starts, e.FirstLBA)
		}
	}
	end, err := img.newEnd(n, first, cur, want, limitAfter(first, lastUsable+1, starts))
	if err != nil {
		return err
	}
	entries[n-1].LastLBA = end - 1
	array, crc := MarshalGPTEntries(entries, int(h.EntrySize))

	primary := h
	primary.AlternateLBA = total - 1
	primary.LastUsableLBA = lastUsable
	primary.EntriesCRC32 = crc
	backup := primary
	backup.MyLBA, backup.AlternateLBA = total-1, 1
	backup.EntriesLBA = backupArray

	for _, w := range []struct {
		b    []byte
		lba  uint64
		what string
	}{
		{array, backup.EntriesLBA, "backup GPT partition array"},
		{backup.Marshal(int(ss)), backup.MyLBA, "backup GPT header"},
		{array, primary.EntriesLBA, "primary GPT partition array"},
		{primary.Marshal(int(ss)), 1, "primary GPT header"},
	} {
		if err := img.writeAt(w.b, int64(w.lba*ss), w.what); err != nil {
			return err
		}
	}
	// The protective MBR covers the disk but sector 0, as far as 32 bits go.
	m := img.mbr
	for i, e := range m.Entries {
		if e.Type == 0xEE && e.FirstLBA == 1 {
			m.Entries[i].Sectors = uint32(min(total-1, math.MaxUint32))
		}
	}
	return img.putMBR(m, 0, "protective MBR")
}

// putMBR rewrites the table of the MBR or EBR at sector, keeping the rest
// of the sector.
func (img *Image) putMBR(m MBR, sector uint64, what string) error {
	off := int64(sector) * int64(img.sectorSize)
	b, err := img.read(off, 512, what)
	if err != nil {
		return err
	}
	m.Put(b)
	return img.writeAt(b, off, what)
}

func (img *Image) growMBR(p *Partition, first, cur, want uint64) error {
	n := p.Number
	ss := uint64(img.sectorSize)
	total := min(uint64(img.size)/ss, math.MaxUint32)
	if p.Type.IsExtended() {
		return img.errorf("partition %d is an extended partition; grow its last logical partition instead", n)
	}
	var primaryStarts []uint64
	for _, e := range img.mbr.Entries {
		if !e.Empty() {
			primaryStarts = append(primaryStarts, uint64(e.FirstLBA))
		}
	}
	if n <= 4 {
		end, err := img.newEnd(n, first, cur, want, limitAfter(first, total, primaryStarts))
		if err != nil {
			return err
		}
		m := img.mbr
		m.Entries[n-1].Sectors = uint32(end - first)
		return img.putMBR(m, 0, "MBR")
	}

	ref, ok := img.logical[n]
	if !ok {
		return img.errorf("partition %d: not found in its EBR chain", n)
	}
	ext := img.mbr.Entries[ref.ext-1]
	extStart, extEnd := uint64(ext.FirstLBA), uint64(ext.FirstLBA)+uint64(ext.Sectors)
	var limit uint64
	if ref.next != 0 {
		limit = ref.next // the next EBR
	} else {
		limit = limitAfter(extStart, total, primaryStarts) // the extended partition may grow
	}
	// Another logical partition of the same EBR may follow.
	for m, r := range img.logical {
		if r.ebr == ref.ebr && m != n {
			q := img.parts[img.indexOf(m)]
			limit = limitAfter(first, limit, []uint64{uint64(q.off) / ss})
		}
	}
	end, err := img.newEnd(n, first, cur, want, limit)
	if err != nil {
		return err
	}
	if end > extEnd {
		m := img.mbr
		m.Entries[ref.ext-1].Sectors = uint32(end - extStart)
		if err := img.putMBR(m, 0, "MBR"); err != nil {
			return err
		}
	}
	ebr, err := img.readEBR(ref.ebr)
	if err != nil {
		return err
	}
	ebr.Entries[ref.index].Sectors = uint32(end - first)
	if err := img.putMBR(ebr, ref.ebr, fmt.Sprintf("EBR at sector %d", ref.ebr)); err != nil {
		return err
	}
	if ref.prev == 0 {
		return nil
	}
	// The link to this EBR covers it and its logical partitions, by the
	// convention of fdisk; Linux does not read the link's size.
	prev, err := img.readEBR(ref.prev)
	if err != nil {
		return err
	}
	if l := &prev.Entries[ref.prevLink]; uint64(l.FirstLBA)+extStart+uint64(l.Sectors) < end {
		l.Sectors = uint32(end - extStart - uint64(l.FirstLBA))
		return img.putMBR(prev, ref.prev, fmt.Sprintf("EBR at sector %d", ref.prev))
	}
	return nil
}

func (img *Image) readEBR(sector uint64) (MBR, error) {
	b, err := img.read(int64(sector)*int64(img.sectorSize), 512, fmt.Sprintf("EBR at sector %d", sector))
	if err != nil {
		return MBR{}, err
	}
	m, err := ParseMBR(b)
	if err != nil {
		return m, &Error{Image: img.name, Msg: fmt.Sprintf("EBR at sector %d", sector), Err: err, kind: ErrFormat}
	}
	return m, nil
}

func (img *Image) indexOf(n int) int {
	for i, p := range img.parts {
		if p.Number == n {
			return i
		}
	}
	return -1
}
