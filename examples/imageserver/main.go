// Command imageserver is the smallest netboot server: it serves the FAT boot
// partition of one disk image over TFTP, with no routing by serial number.
// It shows how image, fatfs and tftp fit together; nobodd-go itself adds
// boards, reloads and socket activation on top.
//
//	go run ./examples/imageserver -image raspios.img -listen 127.0.0.1:6969
//	curl -o config.txt tftp://127.0.0.1:6969/config.txt
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/image"
	"github.com/nobodd-go/nobodd-go/tftp"
)

func main() {
	imgPath := flag.String("image", "", "disk image to serve from")
	listen := flag.String("listen", "127.0.0.1:6969", "UDP address to listen on")
	flag.Parse()
	if err := run(*imgPath, *listen); err != nil {
		fmt.Fprintln(os.Stderr, "imageserver:", err)
		os.Exit(1)
	}
}

func run(imgPath, listen string) error {
	img, err := image.Open(imgPath)
	if err != nil {
		return err
	}
	defer img.Close()
	part, err := img.BootPartition()
	if err != nil {
		return err
	}
	boot, err := fatfs.New(part.Section(), part.Size, nil)
	if err != nil {
		return fmt.Errorf("%s: partition %d: %w", imgPath, part.Number, err)
	}

	srv := &tftp.Server{
		Handler: tftp.FileServer(boot), // any io/fs.FS can be served
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopped := make(chan error, 1)
	go func() {
		<-ctx.Done()
		grace, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- srv.Shutdown(grace) // transfers in flight may finish
	}()
	fmt.Fprintf(os.Stderr, "serving partition %d of %s on %s\n", part.Number, imgPath, listen)
	if err := srv.ListenAndServe(listen); !errors.Is(err, tftp.ErrServerClosed) {
		return err
	}
	// Serve returns as soon as Shutdown closes the socket; wait for the
	// transfers in flight before the image is closed under them.
	if err := <-stopped; err != nil {
		return fmt.Errorf("shutdown: transfers cut short: %w", err)
	}
	return nil
}
