package fatfs_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

// rwVolume is a writable volume under test with the model of what it must
// hold: path → file or directory.
type rwVolume struct {
	v     *fixture.Volume
	file  *os.File
	rw    fatfs.ReadWriterAt // the volume's bytes in file
	fsys  *fatfs.FS
	model fixture.Tree
}

// writeConfig is a volume to write to.
type writeConfig struct {
	name  string
	build func(t *testing.T) *rwVolume
}

// newFormatted formats an image file with fatfs.Format and opens it with
// NewRW.
func newFormatted(t *testing.T, size int64, opts *fatfs.FormatOptions) *rwVolume {
	t.Helper()
	v := formatted(t, size, opts)
	return openRW(t, v, fixture.Tree{})
}

// newMkfs builds a fixture with mkfs.vfat and mtools and opens it with
// NewRW.
func newMkfs(t *testing.T, spec fixture.FAT) *rwVolume {
	t.Helper()
	v := fixture.NewFAT(t, spec)
	model := fixture.Tree{}
	for p, dir := range v.Tree.Paths() {
		if dir {
			model[p] = fixture.File{Dir: true}
		} else {
			model[p] = fixture.File{Data: v.Tree[p].Data}
		}
	}
	return openRW(t, v, model)
}

func openRW(t *testing.T, v *fixture.Volume, model fixture.Tree) *rwVolume {
	t.Helper()
	f, err := os.OpenFile(v.Image, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var rw fatfs.ReadWriterAt = f
	if v.Offset != 0 {
		rw = partRW{io.NewSectionReader(f, v.Offset, v.Size), io.NewOffsetWriter(f, v.Offset)}
	}
	fsys, err := fatfs.NewRW(rw, v.Size, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &rwVolume{v: v, file: f, rw: rw, fsys: fsys, model: model}
}

// partRW is a partition of an image file.
type partRW struct {
	*io.SectionReader
	*io.OffsetWriter
}

func (p partRW) ReadAt(b []byte, off int64) (int, error) { return p.SectionReader.ReadAt(b, off) }
func (p partRW) WriteAt(b []byte, off int64) (int, error) {
	if off+int64(len(b)) > p.SectionReader.Size() {
		return 0, fmt.Errorf("write of %d bytes at %d past the partition's end", len(b), off)
	}
	return p.OffsetWriter.WriteAt(b, off)
}

// newPartition makes an MBR disk image whose second partition holds a file
// system, made by mkfs.vfat (spec not nil) or by fatfs.Format, and opens it
// with NewRW.
func newPartition(t *testing.T, typ string, size int64, spec *fixture.FAT, opts *fatfs.FormatOptions) *rwVolume {
	t.Helper()
	d := fixture.NewDisk(t, fixture.Disk{Label: "dos", Partitions: []fixture.Partition{
		{Type: "83", Size: 1 * mib},
		{Type: typ, Size: size, FAT: spec},
	}})
	p := d.Part(t, 2)
	if spec != nil {
		model := fixture.Tree{}
		for q, dir := range p.Volume.Tree.Paths() {
			if dir {
				model[q] = fixture.File{Dir: true}
			} else {
				model[q] = fixture.File{Data: p.Volume.Tree[q].Data}
			}
		}
		return openRW(t, p.Volume, model)
	}
	f, err := os.OpenFile(d.Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	o := *opts
	o.HiddenSectors = uint32(p.Offset / 512)
	err = fatfs.Format(io.NewOffsetWriter(f, p.Offset), p.Size, &o)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	v := &fixture.Volume{Image: d.Path, Offset: p.Offset, Size: p.Size, Tree: fixture.Tree{}}
	fixture.Fsck(t, v)
	return openRW(t, v, fixture.Tree{})
}

// writeConfigs are the volumes the write tests run on: each FAT type at 512
// and 4096-byte sectors, from Format and from mkfs.vfat.
func writeConfigs() []writeConfig {
	f := func(typ fatfs.Type, ss int, size int64, spc int) func(t *testing.T) *rwVolume {
		return func(t *testing.T) *rwVolume {
			return newFormatted(t, size, &fatfs.FormatOptions{Type: typ, SectorSize: ss, SectorsPerCluster: spc, VolumeID: 0xfeedf00d})
		}
	}
	m := func(spec fixture.FAT) func(t *testing.T) *rwVolume {
		return func(t *testing.T) *rwVolume { return newMkfs(t, spec) }
	}
	return []writeConfig{
		{"format-fat12-512", f(fatfs.FAT12, 512, 2*mib, 1)},
		{"format-fat12-4096", f(fatfs.FAT12, 4096, 4*mib, 0)},
		{"format-fat16-512", f(fatfs.FAT16, 512, 8*mib, 1)},
		{"format-fat16-4096", f(fatfs.FAT16, 4096, 20*mib, 1)},
		{"format-fat32-512", f(fatfs.FAT32, 512, 36*mib, 1)},
		{"format-fat32-4096", f(fatfs.FAT32, 4096, 270*mib, 1)},
		{"mkfs-fat12-512", m(fixture.FAT{Type: 12, Size: 2 * mib, Tree: fixture.LongNames()})},
		{"mkfs-fat16-4096", m(fixture.FAT{Type: 16, SectorSize: 4096, SectorsPerCluster: 1, Size: 20 * mib, Tree: fixture.PiBoot()})},
		{"mkfs-fat32-512", m(fixture.FAT{Type: 32, SectorsPerCluster: 1, Size: 34 * mib, Tree: fixture.PiBoot()})},
		{"mkfs-fat32-4096-1fat", m(fixture.FAT{Type: 32, SectorSize: 4096, FATs: 1, SectorsPerCluster: 1, Size: 260 * mib, Tree: fixture.Deep(3)})},
		{"mbr-p2-mkfs-fat16", func(t *testing.T) *rwVolume {
			return newPartition(t, "e", 8*mib, &fixture.FAT{Type: 16, SectorsPerCluster: 1, Tree: fixture.PiBoot()}, nil)
		}},
		{"mbr-p2-format-fat32", func(t *testing.T) *rwVolume {
			return newPartition(t, "c", 36*mib, nil, &fatfs.FormatOptions{Type: fatfs.FAT32, SectorsPerCluster: 1, Label: "BOOT"})
		}},
	}
}

// imageBytes reads n bytes at off of the volume from the image file.
func (r *rwVolume) imageBytes(t *testing.T, off, n int64) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := r.file.ReadAt(b, r.v.Offset+off); err != nil {
		t.Fatal(err)
	}
	return b
}

// fat1 returns the raw FAT[1] entry.
func (r *rwVolume) fat1(t *testing.T) uint32 {
	t.Helper()
	g := r.fsys.Geometry()
	switch g.Type {
	case fatfs.FAT12:
		b := r.imageBytes(t, g.FATOffset, 3)
		return uint32(b[1])>>4 | uint32(b[2])<<4
	case fatfs.FAT16:
		return uint32(binary.LittleEndian.Uint16(r.imageBytes(t, g.FATOffset+2, 2)))
	default:
		return binary.LittleEndian.Uint32(r.imageBytes(t, g.FATOffset+4, 4))
	}
}

// dirtyOnDisk reports whether FAT[1]'s clean-shutdown bit is cleared.
func (r *rwVolume) dirtyOnDisk(t *testing.T) bool {
	t.Helper()
	switch r.fsys.Type() {
	case fatfs.FAT16:
		return r.fat1(t)&0x8000 == 0
	case fatfs.FAT32:
		return r.fat1(t)&0x08000000 == 0
	}
	return false
}

// checkStructure checks the FAT copies are byte-equal and FSInfo's free
// count is the real one.
func (r *rwVolume) checkStructure(t *testing.T) {
	t.Helper()
	g := r.fsys.Geometry()
	first := r.imageBytes(t, g.FATOffset, g.FATSize)
	if g.NumFATs == 2 {
		second := r.imageBytes(t, g.FATOffset+g.FATSize, g.FATSize)
		if !bytes.Equal(first, second) {
			for i := range first {
				if first[i] != second[i] {
					t.Fatalf("FAT copies differ, first at byte %d: %#02x vs %#02x", i, first[i], second[i])
				}
			}
		}
	}
	free := int64(0)
	for c := uint32(2); c < g.Clusters+2; c++ {
		var e uint32
		switch g.Type {
		case fatfs.FAT12:
			x := uint32(binary.LittleEndian.Uint16(first[c+c/2:]))
			if c&1 == 1 {
				x >>= 4
			}
			e = x & 0xFFF
		case fatfs.FAT16:
			e = uint32(binary.LittleEndian.Uint16(first[2*c:]))
		default:
			e = binary.LittleEndian.Uint32(first[4*c:]) & 0x0FFFFFFF
		}
		if e == 0 {
			free++
		}
	}
	if got := r.fsys.FreeClusters(); got != free {
		t.Errorf("FreeClusters() = %d, the FAT has %d free", got, free)
	}
	if g.Type == fatfs.FAT32 {
		boot := r.imageBytes(t, 0, 512)
		sec := int64(binary.LittleEndian.Uint16(boot[48:]))
		info := r.imageBytes(t, sec*int64(g.BytesPerSector), 512)
		if got := int64(binary.LittleEndian.Uint32(info[488:])); got != free {
			t.Errorf("FSInfo free count %d, the FAT has %d free", got, free)
		}
		if next := binary.LittleEndian.Uint32(info[492:]); next < 2 || next > g.Clusters+1 {
			t.Errorf("FSInfo next-free hint %d outside 2..%d", next, g.Clusters+1)
		}
	}
}

// check syncs the volume and checks it with fsck.fat -n, with mtools (every
// file's contents) and with a fresh read-only fatfs.FS and the writable one,
// against the model.
func (r *rwVolume) check(t *testing.T, what string) {
	t.Helper()
	if err := r.fsys.Sync(); err != nil {
		t.Fatalf("%s: Sync: %v", what, err)
	}
	if r.dirtyOnDisk(t) {
		t.Fatalf("%s: volume still marked dirty after Sync", what)
	}
	r.checkStructure(t)
	fixture.Fsck(t, r.v)
	r.checkMdir(t, what)
	compareTrees(t, what+": mtools", mtoolsTree(t, r.v), r.model, false)
	r.checkRead(t, what)
}

// checkPaths is check without reading every file back: fsck.fat -n, the
// structure, and the paths mdir lists (for steps that change no contents
// of a volume with large files).
func (r *rwVolume) checkPaths(t *testing.T, what string) {
	t.Helper()
	if err := r.fsys.Sync(); err != nil {
		t.Fatalf("%s: Sync: %v", what, err)
	}
	r.checkStructure(t)
	fixture.Fsck(t, r.v)
	r.checkMdir(t, what)
}

// checkMdir compares the paths "mdir -/ -a -b" lists (directories with a
// trailing slash) with the model's.
func (r *rwVolume) checkMdir(t *testing.T, what string) {
	t.Helper()
	out, err := fixture.RunErr(t, "mdir", "-/", "-a", "-b", "-i", r.v.Mtools(), "::/")
	if err != nil {
		// An empty root: mdir -b says the directory is not found.
		if len(r.model) == 0 && strings.Contains(string(out), "not found") {
			return
		}
		t.Fatalf("%s: mdir: %v\n%s", what, err, out)
	}
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		p, ok := strings.CutPrefix(line, "::/")
		if !ok {
			t.Fatalf("%s: mdir line %q", what, line)
		}
		got[p] = true
	}
	for p, f := range r.model {
		if f.Dir {
			p += "/"
		}
		if !got[p] {
			t.Errorf("%s: mdir does not list %q", what, p)
		}
		delete(got, p)
	}
	for p := range got {
		t.Errorf("%s: mdir lists %q, not expected", what, p)
	}
}

// checkRead compares what the writable FS and a fresh read-only FS see
// with the model.
func (r *rwVolume) checkRead(t *testing.T, what string) {
	t.Helper()
	compareTrees(t, what+": fatfs (writable)", fatTree(t, r.fsys), r.model, false)
	ro, err := fatfs.New(r.rw, r.v.Size, nil)
	if err != nil {
		t.Fatal(err)
	}
	compareTrees(t, what+": fatfs (fresh)", fatTree(t, ro), r.model, false)
}

// TestWriteBasic creates directories and files (long and short names) on
// every configuration and checks them with fsck.fat and mtools.
func TestWriteBasic(t *testing.T) {
	for _, c := range writeConfigs() {
		t.Run(c.name, func(t *testing.T) {
			r := c.build(t)
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(r.fsys.MkdirAll("boot/Overlays dir", 0o755))
			r.model["boot"] = fixture.File{Dir: true}
			r.model["boot/Overlays dir"] = fixture.File{Dir: true}
			files := map[string][]byte{
				"boot/config.txt":                    []byte("arm_64bit=1\n"),
				"boot/Overlays dir/A Long Name.dtbo": fixture.Pseudo(1, 100000),
				"README":                             []byte("x"),
				"empty":                              nil,
			}
			for p, data := range files {
				must(r.fsys.WriteFile(p, data, 0o644))
				r.model[p] = fixture.File{Data: data}
			}
			if !r.dirtyOnDisk(t) && r.fsys.Type() != fatfs.FAT12 {
				t.Error("volume not marked dirty while writing")
			}
			r.check(t, "after creating")
			must(r.fsys.Close())
			if r.dirtyOnDisk(t) {
				t.Error("volume marked dirty after Close")
			}
			if err := r.fsys.WriteFile("late", nil, 0o644); err == nil {
				t.Error("WriteFile after Close succeeded")
			}
			fixture.Fsck(t, r.v)
		})
	}
}

func TestReadOnlyWrites(t *testing.T) {
	r := newFormatted(t, 2*mib, &fatfs.FormatOptions{Type: fatfs.FAT12})
	ro, err := fatfs.New(r.rw, r.v.Size, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		ro.Mkdir("d", 0o755),
		ro.WriteFile("f", nil, 0o644),
		ro.Remove("f"),
		ro.Rename("a", "b"),
	} {
		var pe *fs.PathError
		var le *os.LinkError
		if !fatfsIsReadOnly(err) || !(errorsAs(err, &pe) || errorsAs(err, &le)) {
			t.Errorf("write to a read-only FS: %v", err)
		}
	}
}

func fatfsIsReadOnly(err error) bool {
	return errors.Is(err, fatfs.ErrReadOnly) && errors.Is(err, fs.ErrPermission)
}

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }
