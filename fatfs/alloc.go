package fatfs

import (
	"encoding/binary"
	"fmt"
	"slices"
	"syscall"
)

// fatTable is a writer's copy of the FAT, one uint32 per entry (the raw
// entry: FAT32's four reserved high bits are kept). Changes are made in
// memory, logged so that they can be undone, and written to every FAT copy
// by flush.
type fatTable struct {
	v    *volume
	e    []uint32
	free uint32 // count of free data clusters
	hint uint32 // where the next search for a free cluster starts

	dirty []uint32 // entries changed since the last flush (unsorted, may repeat)
	log   []fatUndo
}

// fatUndo is the old value of an entry changed since the last flush.
type fatUndo struct {
	c, old uint32
}

// loadFAT reads the active FAT whole.
func loadFAT(v *volume) (*fatTable, error) {
	g := v.g
	n := int(g.Clusters) + 2
	t := &fatTable{v: v, e: make([]uint32, n), hint: 2}
	buf := make([]byte, v.fatBytes)
	if err := v.readFull(buf, v.fatBase); err != nil {
		return nil, fmt.Errorf("fatfs: reading the FAT: %w", err)
	}
	le := binary.LittleEndian
	for c := 0; c < n; c++ {
		switch g.Type {
		case FAT12:
			x := uint32(le.Uint16(buf[c+c/2:]))
			if c&1 == 1 {
				x >>= 4
			}
			t.e[c] = x & 0xFFF
		case FAT16:
			t.e[c] = uint32(le.Uint16(buf[2*c:]))
		default:
			t.e[c] = le.Uint32(buf[4*c:])
		}
		if c >= 2 && t.get(uint32(c)) == 0 {
			t.free++
		}
	}
	return t, nil
}

// get returns the entry of cluster c without FAT32's reserved bits.
func (t *fatTable) get(c uint32) uint32 { return t.e[c] & 0x0FFFFFFF }

// eoc is the end-of-chain mark written by this package.
func (t *fatTable) eoc() uint32 {
	switch t.v.g.Type {
	case FAT12:
		return 0xFFF
	case FAT16:
		return 0xFFFF
	default:
		return 0x0FFFFFFF
	}
}

// set changes the entry of cluster c to x, keeping the free count.
func (t *fatTable) set(c, x uint32) {
	old := t.e[c]
	oldv := old & 0x0FFFFFFF
	if oldv == x {
		return
	}
	if c >= 2 {
		if oldv == 0 {
			t.free--
		} else if x == 0 {
			t.free++
		}
	}
	t.log = append(t.log, fatUndo{c, old})
	t.e[c] = old&0xF0000000 | x
	t.dirty = append(t.dirty, c)
}

// undo reverts every change since the last flush.
func (t *fatTable) undo() {
	for i := len(t.log) - 1; i >= 0; i-- {
		u := t.log[i]
		cur := t.e[u.c] & 0x0FFFFFFF
		if u.c >= 2 {
			if cur == 0 && u.old&0x0FFFFFFF != 0 {
				t.free--
			} else if cur != 0 && u.old&0x0FFFFFFF == 0 {
				t.free++
			}
		}
		t.e[u.c] = u.old
	}
	t.log = t.log[:0]
	t.dirty = t.dirty[:0]
}

// errNoSpace is what a full volume gives.
func errNoSpace(what string, need, free uint32) error {
	return fmt.Errorf("fatfs: %s needs %d clusters, %d free: %w", what, need, free, syscall.ENOSPC)
}

// alloc takes n free clusters, links them into a chain ending in an
// end-of-chain mark and, if after is not 0, links after to the first. It
// prefers the clusters right after after, then the first run of n free
// clusters from the hint (next fit), then any free clusters in order from
// the hint. Nothing reaches the disk before flush.
func (t *fatTable) alloc(what string, n int, after uint32) ([]uint32, error) {
	if n <= 0 {
		return nil, nil
	}
	if uint32(n) > t.free || n > len(t.e) {
		return nil, errNoSpace(what, uint32(n), t.free)
	}
	last := uint32(len(t.e) - 1)
	out := make([]uint32, 0, n)
	if after != 0 {
		for c := after + 1; len(out) < n && c <= last && t.get(c) == 0; c++ {
			out = append(out, c)
		}
	}
	// The clusters taken so far are after+1..after+len(out).
	pre := uint32(len(out))
	taken := func(c uint32) bool { return pre > 0 && c > after && c <= after+pre }
	if need := n - len(out); need > 0 {
		start := t.hint
		if start < 2 || start > last {
			start = 2
		}
		// Next fit: the first run of need free clusters from the hint,
		// wrapping once.
		run, runStart := 0, uint32(0)
		found := false
		for i, c := uint32(0), start; i <= last-2; i++ {
			if c == 2 {
				run = 0 // a run does not wrap around the end
			}
			if t.get(c) == 0 && !taken(c) {
				if run == 0 {
					runStart = c
				}
				run++
				if run == need {
					found = true
					break
				}
			} else {
				run = 0
			}
			if c++; c > last {
				c = 2
			}
		}
		if found {
			for k := 0; k < need; k++ {
				out = append(out, runStart+uint32(k))
			}
		} else {
			for i, c := uint32(0), start; i <= last-2 && len(out) < n; i++ {
				if t.get(c) == 0 && !taken(c) {
					out = append(out, c)
				}
				if c++; c > last {
					c = 2
				}
			}
		}
	}
	if len(out) < n {
		return nil, errNoSpace(what, uint32(n), t.free)
	}
	for i, c := range out {
		if i+1 < len(out) {
			t.set(c, out[i+1])
		} else {
			t.set(c, t.eoc())
		}
	}
	if after != 0 {
		t.set(after, out[0])
	}
	t.hint = out[len(out)-1] + 1
	if t.hint > last {
		t.hint = 2
	}
	return out, nil
}

// chain returns the clusters of the chain from first: at least need of
// them (need ≥ 0), all of them up to the end-of-chain mark. name names the
// file in errors.
func (t *fatTable) chain(name string, first uint32, need int64) ([]uint32, error) {
	if first == 0 {
		if need > 0 {
			return nil, &CorruptError{Path: name, Problem: "no first cluster for a file of nonzero size"}
		}
		return nil, nil
	}
	g := t.v.g
	var out []uint32
	c := first
	for {
		if !g.validCluster(c) {
			return nil, &CorruptError{Path: name, Cluster: c, Problem: "cluster chain leaves the data area"}
		}
		if len(out) >= int(g.Clusters) {
			return nil, &CorruptError{Path: name, Cluster: c, Problem: "cluster chain loops"}
		}
		out = append(out, c)
		e := t.get(c)
		if t.v.isEOC(e) {
			break
		}
		if e < 2 || t.v.isBad(e) || e > g.Clusters+1 {
			return nil, &CorruptError{Path: name, Cluster: c, Problem: fmt.Sprintf("cluster chain reaches FAT entry %#x", e)}
		}
		c = e
	}
	if int64(len(out)) < need {
		return nil, &CorruptError{Path: name, Cluster: out[len(out)-1], Problem: fmt.Sprintf("cluster chain ends after %d of %d clusters", len(out), need)}
	}
	return out, nil
}

// freeChain frees the clusters of a chain.
func (t *fatTable) freeChain(cs []uint32) {
	for _, c := range cs {
		t.set(c, 0)
	}
}

// flushFAT writes the changed entries to every FAT copy (only the active one
// when FAT32 mirroring is off), drops them from the reader's cache, and
// updates FSInfo. The undo log is cleared.
func (w *writer) flushFAT() error {
	t := w.fat
	if len(t.dirty) == 0 {
		t.log = t.log[:0]
		return nil
	}
	g := t.v.g
	slices.Sort(t.dirty)
	t.dirty = slices.Compact(t.dirty)
	// Byte ranges to write, merged when close.
	type span struct{ lo, hi int64 }
	var spans []span
	if g.Type == FAT12 {
		spans = []span{{0, t.v.fatBytes}}
	} else {
		wd := int64(g.Type) / 8
		for _, c := range t.dirty {
			lo, hi := int64(c)*wd, int64(c+1)*wd
			if k := len(spans); k > 0 && lo-spans[k-1].hi <= 512 {
				spans[k-1].hi = hi
			} else {
				spans = append(spans, span{lo, hi})
			}
		}
	}
	le := binary.LittleEndian
	for _, s := range spans {
		b := make([]byte, s.hi-s.lo)
		switch g.Type {
		case FAT12:
			for c := range t.e {
				o := c + c/2
				x := le.Uint16(b[o:])
				if c&1 == 1 {
					x = x&0x000F | uint16(t.e[c])<<4
				} else {
					x = x&0xF000 | uint16(t.e[c])
				}
				le.PutUint16(b[o:], x)
			}
		case FAT16:
			for c := s.lo / 2; c < s.hi/2; c++ {
				le.PutUint16(b[2*c-s.lo:], uint16(t.e[c]))
			}
		default:
			for c := s.lo / 4; c < s.hi/4; c++ {
				le.PutUint32(b[4*c-s.lo:], t.e[c])
			}
		}
		for _, base := range w.fatCopies {
			if _, err := w.rw.WriteAt(b, base+s.lo); err != nil {
				return fmt.Errorf("fatfs: writing the FAT at volume offset %d: %w", base+s.lo, err)
			}
		}
		t.v.dropFAT(s.lo, s.hi)
	}
	t.dirty = t.dirty[:0]
	t.log = t.log[:0]
	w.fs.invalidateFiles()
	return w.writeFSInfo()
}
