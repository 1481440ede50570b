package pisim

import (
	"crypto/sha256"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math/rand/v2"
	"path"
	"strings"
)

// Digest is what a Board expects of one file: its size and SHA-256.
type Digest struct {
	Size int64
	Sum  [sha256.Size]byte
}

// DigestOf returns the Digest of b.
func DigestOf(b []byte) Digest {
	return Digest{Size: int64(len(b)), Sum: sha256.Sum256(b)}
}

// Manifest is the set of files a board's boot directory holds, keyed by
// their path relative to it, without the prefix ("config.txt",
// "overlays/overlay_map.dtb"); "bootcode.bin" is looked up under the same
// key although the Pi 3 boot ROM asks for it at the top. Any file of a
// boot sequence not in the manifest is expected to be missing. A Manifest
// is only read by Boot, so one may be shared by many boards.
type Manifest map[string]Digest

// NewManifest returns the manifest of files (as Files returns them).
func NewManifest(files map[string][]byte) Manifest {
	m := make(Manifest, len(files))
	for name, b := range files {
		m[name] = DigestOf(b)
	}
	return m
}

// ManifestFS reads every regular file under dir of fsys ("." for all of
// it) and returns their manifest, keyed relative to dir. Use it to expect
// exactly what a directory or a FAT boot partition holds.
func ManifestFS(fsys fs.FS, dir string) (Manifest, error) {
	m := Manifest{}
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return &fs.PathError{Op: "read", Path: p, Err: err}
		}
		var dg Digest
		dg.Size = n
		h.Sum(dg.Sum[:0])
		rel := p
		if dir != "." {
			rel = strings.TrimPrefix(p, dir+"/")
		}
		m[rel] = dg
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pisim: manifest of %q: %w", dir, err)
	}
	return m, nil
}

// Default sizes of the files Files makes, chosen small so that many boots
// run in seconds, and so that some sizes are exact multiples of the block
// size (the transfer then ends with an empty DATA block).
const (
	DefaultKernelSize = 96*1024 + 123 // kernel: 96 KiB and a bit
	DefaultInitrdSize = 160*1024 + 77 // initramfs: 160 KiB and a bit
)

// Files returns the files a boot directory for model m usually holds, with
// the default names (see Board.Files).
func Files(m Model, kernelSize, initrdSize int, seed int64) map[string][]byte {
	return (&Board{Model: m}).Files(kernelSize, initrdSize, seed)
}

// Files returns the files b's boot directory usually holds, keyed like a
// Manifest, with b's kernel, initramfs, dtb and overlay names: firmware
// (bootcode.bin, start*.elf, fixup*.dat as the model needs), config.txt,
// cmdline.txt, the dtb, overlays/overlay_map.dtb and the overlays, the
// kernel and the initramfs. The files a Pi asks for that are usually
// missing (recovery.elf, autoboot.txt, …) are left out.
//
// Contents are pseudo-random, deterministic for a given seed and name
// (config.txt and cmdline.txt are text). A kernelSize or initrdSize of 0
// means DefaultKernelSize or DefaultInitrdSize; a negative initrdSize
// leaves the initramfs out. Lay the files out under the board's prefix
// (and bootcode.bin also at the top, for a Pi 3) in a directory, an
// fstest.MapFS or a FAT image, and pass NewManifest(files) as Board.Expect.
func (b *Board) Files(kernelSize, initrdSize int, seed int64) map[string][]byte {
	kernel, initrd, dtb, overlays := b.names()
	bs := b.Model.BlockSize()
	if kernelSize == 0 {
		kernelSize = DefaultKernelSize
	}
	if initrdSize == 0 {
		initrdSize = DefaultInitrdSize
	}
	sizes := map[string]int{}
	switch b.Model {
	case Pi3ROM:
		sizes["bootcode.bin"] = 52*1024 + 300
		return fill(sizes, seed, b.Model, kernel, initrd)
	case Pi3BPlus:
		sizes["bootcode.bin"] = 52*1024 + 300
		sizes["start.elf"] = 40*1024 + 999
		sizes["fixup.dat"] = 6 * 512
	case Pi4:
		sizes["start4.elf"] = 44*1024 + 1001
		sizes["fixup4.dat"] = 6 * 1024
	}
	sizes["config.txt"] = 700
	sizes["cmdline.txt"] = 180
	sizes[dtb] = 12 * bs
	sizes["overlays/overlay_map.dtb"] = 3*1024 + 11
	for i, o := range overlays {
		sizes["overlays/"+o] = 1500 + 400*i
	}
	sizes[kernel] = kernelSize
	if initrdSize > 0 {
		sizes[initrd] = initrdSize
	}
	return fill(sizes, seed, b.Model, kernel, initrd)
}

// fill makes the contents of the files in sizes.
func fill(sizes map[string]int, seed int64, m Model, kernel, initrd string) map[string][]byte {
	files := make(map[string][]byte, len(sizes))
	for name, n := range sizes {
		h := fnv.New64a()
		h.Write([]byte(name)) // never fails
		rng := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
		var b []byte
		switch name {
		case "config.txt":
			b = textFile(rng, n, fmt.Sprintf("# pisim %v seed %d\n[all]\narm_64bit=1\nkernel=%s\ninitramfs %s followkernel\n", m, seed, kernel, initrd))
		case "cmdline.txt":
			b = textFile(rng, n, fmt.Sprintf("console=serial0,115200 root=/dev/nfs rootwait pisim.seed=%d", seed))
		default:
			b = make([]byte, n)
			for i := 0; i < n; i += 8 {
				v := rng.Uint64()
				for j := 0; j < 8 && i+j < n; j++ {
					b[i+j] = byte(v >> (8 * j))
				}
			}
		}
		files[name] = b
	}
	return files
}

// textFile returns head padded to n bytes with comment lines of random
// hex digits, ending in a newline.
func textFile(rng *rand.Rand, n int, head string) []byte {
	b := []byte(head)
	const hex = "0123456789abcdef"
	for len(b) < n {
		b = append(b, "# "...)
		for i := 0; i < 60; i++ {
			b = append(b, hex[rng.IntN(16)])
		}
		b = append(b, '\n')
	}
	b = b[:n]
	if n > 0 {
		b[n-1] = '\n'
	}
	return b
}

// join puts name under prefix.
func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return path.Join(prefix, name)
}
