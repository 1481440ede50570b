// Command bootls lists the partitions of a disk image and the files of its
// boot partition, reading the image in place (no mount, no root): the read
// side of what nobodd-go serves.
//
//	go run ./examples/bootls raspios.img
package main

import (
	"fmt"
	"io/fs"
	"os"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/image"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: bootls IMAGE")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "bootls:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	img, err := image.Open(path)
	if err != nil {
		return err
	}
	defer img.Close()
	for _, p := range img.Partitions() {
		fmt.Printf("partition %d: type %v, %d bytes at offset %d %s\n", p.Number, p.Type, p.Size, p.Start, p.Name)
	}
	boot, err := img.BootPartition()
	if err != nil {
		return err
	}
	fsys, err := fatfs.New(boot.Section(), boot.Size, nil)
	if err != nil {
		return err
	}
	fmt.Printf("\nboot partition %d (%v, label %q):\n", boot.Number, fsys.Type(), fsys.Label())
	return fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Printf("%10d  %s  %s\n", info.Size(), info.ModTime().Format("2006-01-02 15:04"), name)
		return nil
	})
}
