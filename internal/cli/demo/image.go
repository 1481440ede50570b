package demo

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/nobodd-go/nobodd-go/image"
)

// Layout of the demo image, in 512-byte sectors.
const (
	sectorSize = 512
	bootStart  = 2048           // 1 MiB alignment, as Raspberry Pi OS images have
	bootSize   = 64 << 20 / 512 // 64 MiB FAT32 boot partition
	rootStart  = bootStart + bootSize
	rootSize   = 8 << 20 / 512 // 8 MiB Linux partition, left empty
	imageSize  = (rootStart + rootSize) * sectorSize
)

// pseudo returns n deterministic pseudo-random bytes for seed.
func pseudo(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5deece66d))
	b := make([]byte, n)
	for i := range b {
		if i%8 == 0 {
			x := r.Uint64()
			for j := 0; j < 8 && i+j < n; j++ {
				b[i+j] = byte(x >> (8 * j))
			}
		}
	}
	return b
}

// Files returns the demo boot partition's files: a Raspberry Pi 4 boot
// tree with deterministic stand-in contents. Paths are slash-separated.
func Files() map[string][]byte {
	f := map[string][]byte{
		"config.txt": []byte(strings.Join([]string{
			"# nobodd-go demo image: stand-in files, not real firmware",
			"[all]", "arm_64bit=1", "enable_uart=1", "kernel=kernel8.img",
			"initramfs initrd.img followkernel", "dtoverlay=vc4-kms-v3d", "",
		}, "\n")),
		"cmdline.txt":         []byte("console=serial0,115200 console=tty1 root=/dev/nfs nfsroot=10.0.0.1:/srv/pi rw rootwait\n"),
		"start4.elf":          pseudo(1, 2275<<10+123),
		"fixup4.dat":          pseudo(2, 5446),
		"bcm2711-rpi-4-b.dtb": pseudo(3, 56093),
		"kernel8.img":         pseudo(4, 8<<20+4321),
		"initrd.img":          pseudo(5, 3<<20+77),
		"overlays/README":     []byte("Device tree overlays for the nobodd-go demo.\n"),
	}
	for i, n := range []string{"vc4-kms-v3d", "disable-bt", "dwc2"} {
		f["overlays/"+n+".dtbo"] = pseudo(uint64(100+i), 1500+i*731)
	}
	f["overlays/overlay_map.dtb"] = pseudo(99, 5432)
	return f
}

// BuildImage writes the demo disk image to path (which must not exist): an
// MBR with a FAT32 boot partition (type 0x0C) holding Files and an empty
// Linux partition (type 0x83). The file is sparse.
func BuildImage(path string) (err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			err = errors.Join(err, os.Remove(path))
		}
	}()
	if err := f.Truncate(imageSize); err != nil {
		return err
	}
	mbr := image.MBR{DiskSignature: 0x6e6f6264} // "nobd"
	mbr.Entries[0] = image.MBREntry{Type: 0x0c, FirstLBA: bootStart, Sectors: bootSize}
	mbr.Entries[1] = image.MBREntry{Type: 0x83, FirstLBA: rootStart, Sectors: rootSize}
	sector := make([]byte, sectorSize)
	mbr.Put(sector)
	if _, err := f.WriteAt(sector, 0); err != nil {
		return fmt.Errorf("writing the MBR: %w", err)
	}
	return writeBootPartition(f, bootStart*sectorSize, bootSize*sectorSize, Files())
}
