package pisim_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/nobodd-go/nobodd-go/internal/pisim"
	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// A Pi 4 boots from a TFTP server whose root holds its boot directory
// under its serial number.
func Example() {
	files := pisim.Files(pisim.Pi4, 0, 0, 1)
	root := fstest.MapFS{}
	for name, data := range files {
		root["1234abcd/"+name] = &fstest.MapFile{Data: data}
	}
	srv := tftptest.NewServer(tftp.FileServer(root))
	defer srv.Close()

	b := &pisim.Board{
		Model:  pisim.Pi4,
		Serial: "100000001234abcd",
		Server: srv.Addr,
		Expect: pisim.NewManifest(files),
	}
	res, err := b.Boot(context.Background())
	if err != nil {
		fmt.Println("boot failed:", err)
		return
	}
	fmt.Printf("%d requests: %d probes, %d reads, %d missing; %d files\n",
		len(res.Requests), res.Probes, res.Reads, res.Missing, len(files))
	fmt.Println("first:", res.Requests[0].Path, res.Requests[0].Options)
	// Output:
	// 31 requests: 12 probes, 15 reads, 4 missing; 10 files
	// first: 1234abcd/start4.elf [{tsize 0} {blksize 1024}]
}
