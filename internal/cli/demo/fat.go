package demo

import (
	"errors"
	"os"
)

// writeBootPartition formats the boot partition as FAT32 and copies files
// into it.
func writeBootPartition(f *os.File, off, size int64, files map[string][]byte) error {
	return errors.New("FAT32 formatting is not available yet (waiting for fatfs.Format)")
}
