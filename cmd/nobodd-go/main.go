// Command nobodd-go is a netboot server for Raspberry Pis: it serves boot
// files straight out of the FAT boot partition inside raw OS disk images,
// over TFTP.
//
//	nobodd-go [flags]                 run the server (see internal/cli/serve)
//	nobodd-go get [flags] HOST FILE   fetch a file from a TFTP server
//	nobodd-go put [flags] HOST FILE   send a file to a TFTP server
//	nobodd-go demo [flags]            build a demo image and serve it
//	nobodd-go bench [flags] HOST:PORT load-test a TFTP server
//	nobodd-go prep [flags] IMAGE      customise an OS image for netboot
//	nobodd-go sh [CMD ARGS...]        work on files inside FAT partitions of images
//
// Exit status: 0 on success, 1 on a runtime failure, 2 on a usage error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/nobodd-go/nobodd-go/internal/cli"
	"github.com/nobodd-go/nobodd-go/internal/cli/bench"
	"github.com/nobodd-go/nobodd-go/internal/cli/demo"
	"github.com/nobodd-go/nobodd-go/internal/cli/getput"
	"github.com/nobodd-go/nobodd-go/internal/cli/prep"
	"github.com/nobodd-go/nobodd-go/internal/cli/serve"
	"github.com/nobodd-go/nobodd-go/internal/cli/sh"
)

// stdio is what a subcommand may read and write.
type stdio struct {
	in          io.Reader
	out, errout io.Writer
}

// command is one subcommand: its name as the first argument, a one-line
// description, and its entry point.
type command struct {
	name, help string
	run        func(ctx context.Context, args []string, std stdio) int
}

// plain adapts an entry point that reads no standard input.
func plain(f func(ctx context.Context, args []string, stdout, stderr io.Writer) int) func(context.Context, []string, stdio) int {
	return func(ctx context.Context, args []string, std stdio) int { return f(ctx, args, std.out, std.errout) }
}

// commands is the dispatch table.
func commands() []command {
	return []command{
		{"serve", "run the server (the default when the first argument is a flag)", func(ctx context.Context, args []string, std stdio) int {
			return serve.Main(ctx, args, serve.Env{Stdout: std.out, Stderr: std.errout})
		}},
		{"get", "fetch a file from a TFTP server", plain(getput.Get)},
		{"put", "send a file to a TFTP server", func(ctx context.Context, args []string, std stdio) int {
			return getput.Put(ctx, args, std.in, std.out, std.errout)
		}},
		{"demo", "build a small Pi-like image and serve it on 127.0.0.1", func(ctx context.Context, args []string, std stdio) int {
			return demo.Main(ctx, args, demo.Env{Stdout: std.out, Stderr: std.errout})
		}},
		{"bench", "load-test a TFTP server with transfers or emulated Pi boots", plain(bench.Main)},
		{"prep", "customise an OS image for netboot (cmdline, size, files)", plain(prep.Main)},
		{"sh", "ls, cat, cp, mv, rm, mkdir... on files inside FAT partitions of images", func(ctx context.Context, args []string, std stdio) int {
			return sh.Main(ctx, args, std.in, std.out, std.errout)
		}},
	}
}

func version() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return "nobodd-go " + v
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: nobodd-go [flags]            run the server (nobodd-go --help lists its flags)")
	fmt.Fprintln(w, "       nobodd-go COMMAND [flags] ...")
	fmt.Fprintln(w, "       nobodd-go --version")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-6s %s\n", c.name, c.help)
	}
}

// run dispatches args (without the program name) and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "--version" || a == "-version":
			fmt.Fprintln(stdout, version())
			return cli.ExitOK
		case a == "help":
			usage(stdout)
			return cli.ExitOK
		case !strings.HasPrefix(a, "-"):
			for _, c := range commands() {
				if c.name == a {
					return c.run(ctx, args[1:], stdio{stdin, stdout, stderr})
				}
			}
			fmt.Fprintf(stderr, "nobodd-go: unknown command %q\n", a)
			usage(stderr)
			return cli.ExitUsage
		}
	}
	return serve.Main(ctx, args, serve.Env{Stdout: stdout, Stderr: stderr})
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
