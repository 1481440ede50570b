package fatfs

import (
	"encoding/binary"
	"unicode/utf16"
)

// A tiny FAT12 image built in Go, for tests and fuzz seeds that need no
// tools: 512-byte sectors, one sector per cluster, two FATs, 32 root
// entries, 200 sectors.
const (
	tinySectors   = 200
	tinyFATOff    = 512
	tinyFATSize   = 512
	tinyRootOff   = tinyFATOff + 2*tinyFATSize
	tinyRootSize  = 32 * 32
	tinyDataOff   = tinyRootOff + tinyRootSize
	tinyClusters  = tinySectors - tinyDataOff/512
	tinySubdirClu = 5
)

// tinyFiles are the files of the tiny image and their contents.
var tinyFiles = map[string][]byte{
	"hello.txt":               pattern(600, 1),
	"A long name.txt":         pattern(100, 2),
	"ssh":                     nil,
	"Sub/inner.bin":           pattern(1500, 3),
	"Sub/Another Long.Name.x": pattern(513, 4),
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func tinyClusterOff(c int) int { return tinyDataOff + (c-2)*512 }

func setFAT12(fat []byte, c int, v uint16) {
	off := c + c/2
	e := binary.LittleEndian.Uint16(fat[off:])
	if c&1 == 1 {
		e = e&0x000F | v<<4
	} else {
		e = e&0xF000 | v&0x0FFF
	}
	binary.LittleEndian.PutUint16(fat[off:], e)
}

func dirent(name11 string, attr Attr, ncase byte, first uint16, size uint32) []byte {
	d := make([]byte, 32)
	copy(d, name11)
	d[11] = byte(attr)
	d[12] = ncase
	binary.LittleEndian.PutUint16(d[14:], 0x6000)                  // 12:00:00 created
	binary.LittleEndian.PutUint16(d[16:], (44<<9)|(3<<5)|7)        // 2024-03-07
	binary.LittleEndian.PutUint16(d[18:], (44<<9)|(3<<5)|8)        // accessed 2024-03-08
	binary.LittleEndian.PutUint16(d[22:], (13<<11)|(37<<5)|(42/2)) // 13:37:42
	binary.LittleEndian.PutUint16(d[24:], (44<<9)|(2<<5)|29)       // 2024-02-29
	binary.LittleEndian.PutUint16(d[26:], first)
	binary.LittleEndian.PutUint32(d[28:], size)
	return d
}

// lfn returns the long-name entries (in on-disk order) for long and the
// short name they belong to.
func lfn(long, short11 string) []byte {
	u := utf16.Encode([]rune(long))
	n := (len(u) + 12) / 13
	padded := make([]uint16, n*13)
	for i := range padded {
		switch {
		case i < len(u):
			padded[i] = u[i]
		case i == len(u):
			padded[i] = 0
		default:
			padded[i] = 0xFFFF
		}
	}
	sum := shortChecksum([]byte(short11))
	var out []byte
	for ord := n; ord >= 1; ord-- {
		d := make([]byte, 32)
		d[0] = byte(ord)
		if ord == n {
			d[0] |= 0x40
		}
		d[11] = byte(attrLongName)
		d[13] = sum
		p := padded[(ord-1)*13:]
		for i := 0; i < 5; i++ {
			binary.LittleEndian.PutUint16(d[1+2*i:], p[i])
		}
		for i := 0; i < 6; i++ {
			binary.LittleEndian.PutUint16(d[14+2*i:], p[5+i])
		}
		for i := 0; i < 2; i++ {
			binary.LittleEndian.PutUint16(d[28+2*i:], p[11+i])
		}
		out = append(out, d...)
	}
	return out
}

// tinyImage builds the tiny image.
func tinyImage() []byte {
	img := make([]byte, tinySectors*512)
	b := img[:512]
	b[0], b[1], b[2] = 0xEB, 0x3C, 0x90
	copy(b[3:], "NOBODDGO")
	binary.LittleEndian.PutUint16(b[11:], 512)
	b[13] = 1
	binary.LittleEndian.PutUint16(b[14:], 1)
	b[16] = 2
	binary.LittleEndian.PutUint16(b[17:], 32)
	binary.LittleEndian.PutUint16(b[19:], tinySectors)
	b[21] = 0xF8
	binary.LittleEndian.PutUint16(b[22:], 1)
	b[38] = 0x29
	binary.LittleEndian.PutUint32(b[39:], 0x1234abcd)
	copy(b[43:54], "TINY       ")
	copy(b[54:62], "FAT12   ")
	b[510], b[511] = 0x55, 0xAA

	fat := make([]byte, tinyFATSize)
	setFAT12(fat, 0, 0xFF8)
	setFAT12(fat, 1, 0xFFF)
	chain := func(cs ...int) {
		for i, c := range cs {
			if i+1 < len(cs) {
				setFAT12(fat, c, uint16(cs[i+1]))
			} else {
				setFAT12(fat, c, 0xFFF)
			}
		}
	}
	put := func(data []byte, cs ...int) {
		for i, c := range cs {
			lo := i * 512
			if lo >= len(data) {
				break
			}
			copy(img[tinyClusterOff(c):], data[lo:min(lo+512, len(data))])
		}
		chain(cs...)
	}
	put(tinyFiles["hello.txt"], 2, 3)
	put(tinyFiles["A long name.txt"], 4)
	put(nil, tinySubdirClu)
	put(tinyFiles["Sub/inner.bin"], 6, 9, 10)
	put(tinyFiles["Sub/Another Long.Name.x"], 7, 8)

	var root []byte
	root = append(root, dirent("TINY       ", AttrVolumeID, 0, 0, 0)...)
	root = append(root, dirent("HELLO   TXT", AttrArchive, 0x18, 2, 600)...)
	root = append(root, lfn("A long name.txt", "ALONGN~1TXT")...)
	root = append(root, dirent("ALONGN~1TXT", AttrArchive, 0, 4, 100)...)
	deleted := dirent("GONE    TXT", AttrArchive, 0, 11, 10)
	deleted[0] = 0xE5
	root = append(root, deleted...)
	root = append(root, dirent("SSH        ", AttrArchive|AttrHidden, 0x08, 0, 0)...)
	root = append(root, lfn("Sub", "SUB        ")...)
	root = append(root, dirent("SUB        ", AttrDirectory, 0, tinySubdirClu, 0)...)
	copy(img[tinyRootOff:], root)

	var sub []byte
	sub = append(sub, dirent(".          ", AttrDirectory, 0, tinySubdirClu, 0)...)
	sub = append(sub, dirent("..         ", AttrDirectory, 0, 0, 0)...)
	sub = append(sub, dirent("INNER   BIN", AttrArchive, 0x18, 6, 1500)...)
	sub = append(sub, lfn("Another Long.Name.x", "ANOTHE~1X  ")...)
	sub = append(sub, dirent("ANOTHE~1X  ", AttrArchive|AttrReadOnly, 0, 7, 513)...)
	copy(img[tinyClusterOff(tinySubdirClu):], sub)
	copy(img[tinyFATOff:], fat)
	copy(img[tinyFATOff+tinyFATSize:], fat)
	return img
}
