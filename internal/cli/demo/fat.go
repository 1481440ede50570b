package demo

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"time"

	"github.com/nobodd-go/nobodd-go/fatfs"
)

// demoTime is the modification time of every demo file, so that the image
// is the same on every run.
func demoTime() time.Time { return time.Date(2024, 7, 4, 12, 0, 0, 0, time.UTC) }

// sectionRW reads and writes the bytes [off, off+size) of a file.
type sectionRW struct {
	f         *os.File
	off, size int64
}

func (s *sectionRW) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	short := int64(len(p)) > s.size-off
	if short {
		p = p[:s.size-off]
	}
	n, err := s.f.ReadAt(p, s.off+off)
	if err == nil && short {
		err = io.EOF
	}
	return n, err
}

func (s *sectionRW) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > s.size {
		return 0, fmt.Errorf("write of %d bytes at %d outside the %d-byte boot partition", len(p), off, s.size)
	}
	return s.f.WriteAt(p, s.off+off)
}

// writeBootPartition formats the boot partition as FAT32 and copies files
// into it.
func writeBootPartition(f *os.File, off, size int64, files map[string][]byte) error {
	part := &sectionRW{f: f, off: off, size: size}
	if err := fatfs.Format(part, size, &fatfs.FormatOptions{
		Type: fatfs.FAT32, Label: "BOOTFS", VolumeID: 0x1234abcd, HiddenSectors: uint32(off / sectorSize),
	}); err != nil {
		return fmt.Errorf("formatting the boot partition: %w", err)
	}
	fsys, err := fatfs.NewRW(part, size, &fatfs.Options{Now: demoTime})
	if err != nil {
		return fmt.Errorf("opening the boot partition: %w", err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if dir := path.Dir(name); dir != "." {
			if err := fsys.MkdirAll(dir, 0o755); err != nil {
				return errors.Join(err, fsys.Close())
			}
		}
		if err := fsys.WriteFile(name, files[name], 0o644); err != nil {
			return errors.Join(err, fsys.Close())
		}
	}
	return fsys.Close()
}
