package image_test

import (
	"fmt"
	"log"

	"github.com/nobodd-go/nobodd-go/image"
)

// Open an OS image, find the FAT boot partition and the root partition, and
// read the boot partition's bytes through an io.SectionReader (what a FAT
// reader takes).
func Example() {
	img, err := image.Open("raspios-bookworm-arm64.img")
	if err != nil {
		log.Fatal(err) // e.g. "raspios.img: partition 2 (...) extends past the end of the image (...): truncated image?"
	}
	defer img.Close()
	for _, w := range img.Warnings() {
		log.Print(w) // e.g. a damaged primary GPT, read from its backup
	}
	boot, err := img.BootPartition()
	if err != nil {
		log.Fatal(err)
	}
	root, err := img.RootPartition()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(boot, root)
	section := boot.Section() // io.ReaderAt, io.Seeker, with Size()
	sector := make([]byte, 512)
	if _, err := section.ReadAt(sector, 0); err != nil {
		log.Fatal(err)
	}
}

// Grow the root partition after enlarging the image file (truncate -s).
func ExampleImage_GrowPartition() {
	img, err := image.OpenWritable("raspios-bookworm-arm64.img")
	if err != nil {
		log.Fatal(err)
	}
	defer img.Close()
	root, err := img.RootPartition()
	if err != nil {
		log.Fatal(err)
	}
	if err := img.GrowPartition(root.Number, 0); err != nil {
		log.Fatal(err)
	}
}
