package tftp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"testing/fstest"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
)

// A server with a per-board directory tried before a shared one, and
// uploads stored create-only.
func ExampleServer() {
	boards := fstest.MapFS{"1234abcd/config.txt": {Data: []byte("arm_64bit=1\n")}}
	shared := fstest.MapFS{"bootcode.bin": {Data: []byte("...")}}
	srv := &tftp.Server{
		Handler:      tftp.Chain(tftp.FileServer(boards), tftp.FileServer(shared)),
		WriteHandler: tftp.DirWriter("/srv/tftp/uploads"),
		MaxTransfers: 100,
		OnTransfer: func(st *tftp.TransferStats) {
			fmt.Println(st.Filename, st.Outcome, st.Bytes)
		},
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(pc) }()

	// Fetch the file with a bare lock-step exchange.
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteTo(tftp.AppendRequest(nil, tftp.OpRRQ, "1234abcd/config.txt", "octet", nil), pc.LocalAddr()); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 600)
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		log.Fatal(err)
	}
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		log.Fatal(err)
	}
	blk, data, err := tftp.ParseData(buf[:n])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("block %d: %q\n", blk, data)
	if _, err := c.WriteTo(tftp.AppendAck(nil, blk), from); err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	if err := <-served; !errors.Is(err, tftp.ErrServerClosed) {
		log.Fatal(err)
	}
	// Output:
	// block 1: "arm_64bit=1\n"
	// 1234abcd/config.txt completed 12
}

// A handler generating content; StripPrefix removes the board directory.
func ExampleHandlerFunc() {
	h := tftp.StripPrefix("1234abcd/", tftp.HandlerFunc(func(r *tftp.Request) (io.ReaderAt, int64, error) {
		if r.Filename != "cmdline.txt" {
			return nil, 0, &tftp.Error{Code: tftp.ErrNotFound, Message: "no " + r.Filename}
		}
		s := "console=serial0,115200 root=/dev/nfs\n"
		return strings.NewReader(s), int64(len(s)), nil
	}))
	_, size, err := h.ServeTFTP(&tftp.Request{Filename: "1234abcd/cmdline.txt"})
	fmt.Println(size, err)
	_, _, err = h.ServeTFTP(&tftp.Request{Filename: "1234abcd/kernel8.img"})
	fmt.Println(err)
	// Output:
	// 37 <nil>
	// tftp error 1 (file not found): no kernel8.img
}
