package fatfs

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"testing/fstest"
)

// A FAT32 volume needs at least 65525 clusters, so the FAT32 test image is
// sparse: its reserved sectors and FATs are held in memory, a few data
// clusters in a map, and the rest reads as zeros.
const (
	t32Clusters = 65600
	t32Reserved = 32
	t32FATSecs  = (t32Clusters+2)*4/512 + 1
	t32Sectors  = t32Reserved + 2*t32FATSecs + t32Clusters
	t32FATOff   = t32Reserved * 512
	t32DataOff  = (t32Reserved + 2*t32FATSecs) * 512
)

type sparseImage struct {
	meta     []byte           // bytes [0, t32DataOff)
	clusters map[int64][]byte // 512-byte data clusters by number
}

func (s *sparseImage) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		o := off + int64(n)
		if o >= t32Sectors*512 {
			return n, io.EOF
		}
		var k int
		if o < t32DataOff {
			k = copy(p[n:], s.meta[o:])
		} else {
			c := (o-t32DataOff)/512 + 2
			in := (o - t32DataOff) % 512
			k = int(min(int64(len(p)-n), 512-in))
			if b, ok := s.clusters[c]; ok {
				copy(p[n:n+k], b[in:])
			} else {
				clear(p[n : n+k])
			}
		}
		n += k
	}
	return n, nil
}

func (s *sparseImage) clone() *sparseImage {
	c := &sparseImage{meta: bytes.Clone(s.meta), clusters: make(map[int64][]byte, len(s.clusters))}
	for k, v := range s.clusters {
		c.clusters[k] = bytes.Clone(v)
	}
	return c
}

var tiny32Files = map[string][]byte{
	"kernel8.img":           pattern(1500, 5),
	"overlays/a-long.dtbo":  pattern(700, 6),
	"overlays/README":       pattern(10, 7),
	"Empty Directory/x.txt": pattern(1, 8),
}

// tiny32Image builds the sparse FAT32 image: kernel8.img over clusters 3,
// 40000 and 40001 (in another FAT chunk), overlays/ in clusters 6 and 7,
// a file in the very last cluster.
func tiny32Image() *sparseImage {
	s := &sparseImage{meta: make([]byte, t32DataOff), clusters: make(map[int64][]byte)}
	b := s.meta[:512]
	b[0], b[1], b[2] = 0xEB, 0x58, 0x90
	copy(b[3:], "NOBODDGO")
	binary.LittleEndian.PutUint16(b[11:], 512)
	b[13] = 1
	binary.LittleEndian.PutUint16(b[14:], t32Reserved)
	b[16] = 2
	b[21] = 0xF8
	binary.LittleEndian.PutUint32(b[32:], t32Sectors)
	binary.LittleEndian.PutUint32(b[36:], t32FATSecs)
	binary.LittleEndian.PutUint32(b[44:], 2) // root cluster
	binary.LittleEndian.PutUint16(b[48:], 1) // FSInfo
	b[66] = 0x29
	copy(b[71:82], "TINY32     ")
	copy(b[82:90], "FAT32   ")
	b[510], b[511] = 0x55, 0xAA

	fat := make([]byte, t32FATSecs*512)
	set := func(c, v uint32) { binary.LittleEndian.PutUint32(fat[4*c:], v) }
	set(0, 0x0FFFFFF8)
	set(1, 0x0FFFFFFF)
	put := func(data []byte, cs ...uint32) {
		for i, c := range cs {
			if i+1 < len(cs) {
				set(c, cs[i+1]|0xA0000000) // high bits are reserved: ignored
			} else {
				set(c, 0x0FFFFFFF)
			}
			blk := make([]byte, 512)
			if lo := i * 512; lo < len(data) {
				copy(blk, data[lo:])
			}
			s.clusters[int64(c)] = blk
		}
	}
	dir := func(entries ...[]byte) []byte { return bytes.Join(entries, nil) }
	ent := func(name11 string, attr Attr, ncase byte, first uint32, size uint32) []byte {
		d := dirent(name11, attr, ncase, uint16(first), size)
		binary.LittleEndian.PutUint16(d[20:], uint16(first>>16))
		return d
	}
	last := uint32(t32Clusters + 1)
	put(dir(
		ent("TINY32     ", AttrVolumeID, 0, 0, 0),
		ent("KERNEL8 IMG", AttrArchive, 0x18, 3, 1500),
		ent("OVERLAYS   ", AttrDirectory, 0x08, 6, 0),
		lfn("Empty Directory", "EMPTYD~1   "),
		ent("EMPTYD~1   ", AttrDirectory, 0, 8, 0),
	), 2)
	put(tiny32Files["kernel8.img"], 3, 40000, 40001)
	put(dir(
		ent(".          ", AttrDirectory, 0, 6, 0),
		ent("..         ", AttrDirectory, 0, 0, 0),
		lfn("a-long.dtbo", "A-LONG~1DTB"),
		ent("A-LONG~1DTB", AttrArchive, 0, 65000, 700),
		ent("README     ", AttrArchive, 0, last, 10),
	), 6, 7)
	put(tiny32Files["overlays/a-long.dtbo"], 65000, 65001)
	put(tiny32Files["overlays/README"], last)
	put(dir(
		ent(".          ", AttrDirectory, 0, 8, 0),
		ent("..         ", AttrDirectory, 0, 0, 0),
		ent("X       TXT", AttrArchive, 0x18, 9, 1),
	), 8)
	put(tiny32Files["Empty Directory/x.txt"], 9)
	copy(s.meta[t32FATOff:], fat)
	copy(s.meta[t32FATOff+t32FATSecs*512:], fat)
	return s
}

func TestTinyFAT32(t *testing.T) {
	img := tiny32Image()
	fsys, err := New(img, t32Sectors*512, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fsys.Type() != FAT32 || fsys.Label() != "TINY32" || fsys.Geometry().Clusters != t32Clusters {
		t.Fatalf("%+v", fsys.Geometry())
	}
	var names []string
	for name, want := range tiny32Files {
		names = append(names, name)
		got, err := fsys.ReadFile(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v", name, len(got), err)
		}
	}
	if err := fstest.TestFS(fsys, append(names, "overlays", "Empty Directory")...); err != nil {
		t.Fatal(err)
	}
	// A loop across FAT chunks (3 → 40000 → 3) is found.
	bad := img.clone()
	binary.LittleEndian.PutUint32(bad.meta[t32FATOff+4*40000:], 3)
	fsys, err = New(bad, t32Sectors*512, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Open("kernel8.img"); err == nil || err.Error() != "fatfs: kernel8.img: cluster chain loops at cluster 3" {
		t.Errorf("loop: %v", err)
	}
	// A chain that goes on (here, looping) after the clusters the size
	// needs is not walked past them.
	long := img.clone()
	binary.LittleEndian.PutUint32(long.meta[t32FATOff+4*40001:], 3)
	fsys, err = New(long, t32Sectors*512, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := fsys.ReadFile("kernel8.img"); err != nil || !bytes.Equal(b, tiny32Files["kernel8.img"]) {
		t.Errorf("chain longer than needed: %d bytes, %v", len(b), err)
	}
}

// FuzzFAT32 writes random bytes over the FAT region of the sparse FAT32
// image and walks the tree.
func FuzzFAT32(f *testing.F) {
	f.Add(uint32(0), []byte{0xF8, 0xFF, 0xFF, 0x0F})
	f.Add(uint32(4*3), []byte{0x03, 0x00, 0x00, 0x00})
	f.Add(uint32(4*40001), []byte{0x03, 0x00, 0x00, 0x00})
	f.Add(uint32(4*6), []byte{0x06, 0x00, 0x00, 0x00})
	base := tiny32Image()
	f.Fuzz(func(t *testing.T, off uint32, data []byte) {
		img := base.clone()
		o := t32FATOff + int(off)%(t32FATSecs*512)
		copy(img.meta[o:t32FATOff+t32FATSecs*512], data)
		fsys, err := New(img, t32Sectors*512, nil)
		if err != nil {
			t.Fatal(err)
		}
		walkAll(t, fsys)
	})
}
