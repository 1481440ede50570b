package fatfs

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"testing"
)

// walkAll walks the tree and reads every file, bounded in entries and depth
// so that a directory that contains its ancestor does not walk forever. It
// returns the number of entries visited.
func walkAll(t *testing.T, fsys *FS) int {
	const maxEntries, maxDepth = 2000, 16
	visited := 0
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		if depth > maxDepth || visited > maxEntries {
			return
		}
		ents, err := fsys.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			visited++
			if visited > maxEntries {
				return
			}
			p := path.Join(dir, e.Name())
			if !fs.ValidPath(p) {
				t.Fatalf("ReadDir(%q) gave invalid name %q", dir, e.Name())
			}
			st, err := fsys.Stat(p)
			if err != nil {
				continue // e.g. a duplicate name that folds onto another entry
			}
			if e.IsDir() {
				walk(p, depth+1)
				continue
			}
			b, err := fsys.ReadFile(p)
			if err == nil && int64(len(b)) != st.Size() {
				t.Fatalf("%s: read %d bytes, size %d", p, len(b), st.Size())
			}
			f, err := fsys.Open(p)
			if err != nil {
				continue
			}
			buf := make([]byte, 700)
			if ra, ok := f.(io.ReaderAt); ok {
				for _, off := range []int64{0, 1, 511, st.Size() - 1, st.Size()} {
					n, err := ra.ReadAt(buf, off)
					if n > len(buf) || (n < len(buf) && err == nil) {
						t.Fatalf("%s: ReadAt(%d) = %d, %v", p, off, n, err)
					}
				}
			}
			f.Close()
		}
	}
	walk(".", 0)
	return visited
}

// FuzzBootSector feeds arbitrary bytes to New as a volume, and the same
// bytes written over the start of the tiny image.
func FuzzBootSector(f *testing.F) {
	img := tinyImage()
	f.Add(img[:512])
	f.Add(img[:64])
	b := bytes.Clone(img)
	b[13] = 64
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		if fsys, err := New(bytes.NewReader(data), int64(len(data)), nil); err == nil {
			walkAll(t, fsys)
		}
		b := tinyImage()
		copy(b, data)
		if fsys, err := New(bytes.NewReader(b), int64(len(b)), nil); err == nil {
			walkAll(t, fsys)
		}
	})
}

// FuzzFAT writes random bytes over the FAT region of the tiny image and
// walks the tree.
func FuzzFAT(f *testing.F) {
	img := tinyImage()
	f.Add(uint16(0), img[tinyFATOff:tinyFATOff+64])
	f.Add(uint16(3), []byte{0x03, 0x40, 0x00})
	f.Add(uint16(9), []byte{0xFF, 0xFF, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, off uint16, data []byte) {
		b := tinyImage()
		o := tinyFATOff + int(off)%tinyFATSize
		copy(b[o:tinyFATOff+tinyFATSize], data)
		walkAll(t, mustNew(t, b))
	})
}

// FuzzDir writes random bytes over the root directory and the
// subdirectory's cluster of the tiny image and walks the tree.
func FuzzDir(f *testing.F) {
	img := tinyImage()
	f.Add(uint16(0), img[tinyRootOff:tinyRootOff+160])
	f.Add(uint16(32*3+26), []byte{0x05, 0x00})
	sub := tinyClusterOff(tinySubdirClu) - tinyRootOff
	f.Add(uint16(sub), img[tinyClusterOff(tinySubdirClu):tinyClusterOff(tinySubdirClu)+128])
	f.Add(uint16(sub+32*2+11), []byte{0x10})
	f.Fuzz(func(t *testing.T, off uint16, data []byte) {
		b := tinyImage()
		region := tinyClusterOff(tinySubdirClu) + 512 - tinyRootOff
		o := tinyRootOff + int(off)%region
		copy(b[o:tinyRootOff+region], data)
		walkAll(t, mustNew(t, b))
	})
}

func TestWalkAllCountsTiny(t *testing.T) {
	if n := walkAll(t, mustNew(t, tinyImage())); n != 6 {
		t.Errorf("walkAll visited %d entries, want 6", n)
	}
}
