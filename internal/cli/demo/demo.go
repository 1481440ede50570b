// Package demo implements "nobodd-go demo": it builds a small Raspberry Pi
// 4 like disk image in a temporary directory and serves it on 127.0.0.1, so
// that a first-time user can fetch boot files with curl or "nobodd-go get"
// without a Pi, an OS image or any mkfs tool.
//
// # Limits
//
//   - Loopback only (127.0.0.1), on a free unprivileged port unless --port
//     is given; one board, serial --serial (default 1234abcd).
//   - The files are small, deterministic stand-ins (pseudo-random bytes of
//     plausible sizes), not real firmware: nothing here boots a real Pi.
//   - The image is removed when the demo ends, unless --keep names a path
//     to copy it to.
//
// Usage:
//
//	nobodd-go demo [--serial HEX] [--port N] [--duration D] [--keep FILE]
//
// It runs until Ctrl-C (or for --duration), then exits 0.
package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/nobodd-go/nobodd-go/config"
	"github.com/nobodd-go/nobodd-go/internal/cli"
	"github.com/nobodd-go/nobodd-go/internal/cli/serve"
)

// DefaultSerial is the demo board's serial number.
const DefaultSerial = "1234abcd"

// Env is the process environment of Main; its zero value is the real
// process.
type Env struct {
	// Stdout and Stderr; nil means os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// Signals delivers SIGINT and SIGTERM; nil means the process's own.
	Signals <-chan os.Signal
	// Listening, when not nil, is called with the server's address once it
	// serves.
	Listening func(addr net.Addr)
}

// Main runs the demo with args (without "demo") and returns the exit status.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Stdout == nil {
		env.Stdout = os.Stdout
	}
	if env.Stderr == nil {
		env.Stderr = os.Stderr
	}
	fs := flag.NewFlagSet("nobodd-go demo", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	serialFlag := fs.String("serial", DefaultSerial, "serial number of the demo board (8 hex digits)")
	port := fs.Int("port", 0, "UDP port on 127.0.0.1; 0 picks a free one")
	duration := fs.Duration("duration", 0, "stop after this long; 0 runs until Ctrl-C")
	keep := fs.String("keep", "", "copy the demo image to this file before serving")
	fs.Usage = cli.Usage(env.Stderr, fs, "demo [--serial HEX] [--port N] [--duration D] [--keep FILE]", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cli.ExitOK
		}
		return cli.ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "nobodd-go demo: unexpected argument %q\n", fs.Arg(0))
		return cli.ExitUsage
	}
	serial, err := config.ParseSerial(*serialFlag)
	if err != nil {
		fmt.Fprintf(env.Stderr, "nobodd-go demo: --serial: %v\n", err)
		return cli.ExitUsage
	}
	if *port < 0 || *port > 65535 {
		fmt.Fprintf(env.Stderr, "nobodd-go demo: --port %d: want 0-65535\n", *port)
		return cli.ExitUsage
	}
	if *duration < 0 {
		fmt.Fprintf(env.Stderr, "nobodd-go demo: --duration %v: want a positive duration or 0\n", *duration)
		return cli.ExitUsage
	}

	dir, err := os.MkdirTemp("", "nobodd-go-demo-")
	if err != nil {
		fmt.Fprintf(env.Stderr, "nobodd-go demo: %v\n", err)
		return cli.ExitFailure
	}
	defer os.RemoveAll(dir)
	empty := filepath.Join(dir, "empty.toml")
	if err := os.WriteFile(empty, []byte("# nobodd-go demo: everything comes from --board\n"), 0o644); err != nil {
		fmt.Fprintf(env.Stderr, "nobodd-go demo: %v\n", err)
		return cli.ExitFailure
	}
	img := filepath.Join(dir, "demo.img")
	if err := BuildImage(img); err != nil {
		fmt.Fprintf(env.Stderr, "nobodd-go demo: building the image: %v\n", err)
		return cli.ExitFailure
	}
	if *keep != "" {
		if err := copyFile(img, *keep); err != nil {
			fmt.Fprintf(env.Stderr, "nobodd-go demo: --keep: %v\n", err)
			return cli.ExitFailure
		}
	}
	pc, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintf(env.Stderr, "nobodd-go demo: %v\n", err)
		return cli.ExitFailure
	}
	addr := pc.LocalAddr().(*net.UDPAddr)

	sigs := env.Signals
	if sigs == nil {
		ch := make(chan os.Signal, 2)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(ch)
		sigs = ch
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	s := serial.String()
	listening := func(a net.Addr) {
		fmt.Fprintf(env.Stdout, "nobodd-go demo: serving a Raspberry Pi 4 like image for board %s on %s\n", s, a)
		fmt.Fprintf(env.Stdout, "(image: %s, %d files in its FAT32 boot partition)\n\n", img, len(Files()))
		fmt.Fprintf(env.Stdout, "Fetch boot files as a Pi would, from another terminal:\n\n")
		fmt.Fprintf(env.Stdout, "  curl -o config.txt tftp://127.0.0.1:%d/%s/config.txt\n", addr.Port, s)
		fmt.Fprintf(env.Stdout, "  curl -o kernel8.img tftp://127.0.0.1:%d/%s/kernel8.img\n", addr.Port, s)
		fmt.Fprintf(env.Stdout, "  nobodd-go get 127.0.0.1:%d %s/cmdline.txt -\n", addr.Port, s)
		fmt.Fprintf(env.Stdout, "  nobodd-go get 127.0.0.1:%d %s/overlays/vc4-kms-v3d.dtbo\n\n", addr.Port, s)
		fmt.Fprintf(env.Stdout, "Serve your own image the same way:\n\n  nobodd-go --board %s,/path/to/raspios.img --port 6969\n\n", s)
		if *duration > 0 {
			fmt.Fprintf(env.Stdout, "Stopping after %v.\n", *duration)
		} else {
			fmt.Fprintln(env.Stdout, "Press Ctrl-C to stop.")
		}
		if env.Listening != nil {
			env.Listening(a)
		}
	}
	// Quit quietly on the first SIGINT or SIGTERM, without reloads: the
	// demo has no configuration file to reload.
	fwd := make(chan os.Signal, 1)
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case sig := <-sigs:
			fwd <- sig
		case <-stopped:
		}
	}()
	return serve.Main(ctx, []string{
		"--config", empty,
		"--board", s + "," + img,
		"--shutdown-timeout", "5s",
	}, serve.Env{Stdout: env.Stdout, Stderr: env.Stderr, Signals: fwd, PacketConn: pc,
		LookupEnv: func(string) (string, bool) { return "", false }, Listening: listening})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		return errors.Join(err, out.Close(), os.Remove(dst))
	}
	return out.Close()
}
