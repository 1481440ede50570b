package fatfs_test

import (
	"fmt"
	"log"
	"os"

	"github.com/nobodd-go/nobodd-go/fatfs"
)

// Format a new image file, write to it, and read it back.
func ExampleNewRW() {
	img, err := os.CreateTemp("", "boot-*.img")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(img.Name())
	defer img.Close()
	const size = 64 << 20
	if err := fatfs.Format(img, size, &fatfs.FormatOptions{Label: "BOOT"}); err != nil {
		log.Fatal(err)
	}
	fsys, err := fatfs.NewRW(img, size, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := fsys.MkdirAll("overlays", 0o755); err != nil {
		log.Fatal(err)
	}
	if err := fsys.WriteFile("config.txt", []byte("arm_64bit=1\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := fsys.Rename("config.txt", "overlays/Old Config.txt"); err != nil {
		log.Fatal(err)
	}
	if err := fsys.Close(); err != nil { // marks the volume clean
		log.Fatal(err)
	}
	b, err := fsys.ReadFile("OVERLAYS/old config.txt")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s %q\n", fsys.Type(), fsys.Label(), b)
	// Output: FAT16 BOOT "arm_64bit=1\n"
}
