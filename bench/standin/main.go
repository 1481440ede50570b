// Command standin is a stand-in for the nobodd-go daemon in
// bench/compare.sh, used only while cmd/nobodd-go cannot serve boards or a
// directory yet: it serves a directory (--root) or the boot partitions of
// images under serial-number prefixes (--board SERIAL,IMAGE) with
// tftp.Server at its defaults, on one address, until SIGINT or SIGTERM.
//
// Limits: no configuration file, no reload, no logging; a board's image is
// opened once and read through fatfs; the prefix is the serial as given
// (8 lower-case hex digits), with no fallback to unprefixed names.
//
// Usage:
//
//	go run ./bench/standin --listen 127.0.0.1:6969 (--root DIR | --board SERIAL,IMAGE ...)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/image"
	"github.com/nobodd-go/nobodd-go/tftp"
)

type boards []string

func (b *boards) String() string     { return strings.Join(*b, " ") }
func (b *boards) Set(v string) error { *b = append(*b, v); return nil }

func main() {
	var (
		listen = flag.String("listen", "127.0.0.1:6969", "address to serve on")
		root   = flag.String("root", "", "directory to serve")
		bs     boards
	)
	flag.Var(&bs, "board", "SERIAL,IMAGE: serve IMAGE's boot partition under SERIAL/ (repeatable)")
	flag.Parse()
	if err := run(*listen, *root, bs); err != nil {
		fmt.Fprintf(os.Stderr, "standin: %v\n", err)
		os.Exit(1)
	}
}

func run(listen, root string, bs boards) (rerr error) {
	if (root == "") == (len(bs) == 0) {
		return errors.New("give --root or --board, not both")
	}
	var h tftp.Handler
	if root != "" {
		h = tftp.FileServer(os.DirFS(root))
	} else {
		mux := tftp.NewServeMux()
		for _, b := range bs {
			serial, path, ok := strings.Cut(b, ",")
			if !ok || serial == "" || path == "" {
				return fmt.Errorf("--board %q: want SERIAL,IMAGE", b)
			}
			img, err := image.Open(path)
			if err != nil {
				return err
			}
			defer func() { rerr = errors.Join(rerr, img.Close()) }()
			part, err := img.BootPartition()
			if err != nil {
				return fmt.Errorf("--board %q: %w", b, err)
			}
			fsys, err := fatfs.New(part.Section(), part.Size, nil)
			if err != nil {
				return fmt.Errorf("--board %q: partition %d: %w", b, part.Number, err)
			}
			mux.Handle(serial+"/", tftp.StripPrefix(serial+"/", tftp.FileServer(fsys)))
		}
		h = mux
	}
	srv := &tftp.Server{Handler: h}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(listen) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-done; !errors.Is(serr, tftp.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
