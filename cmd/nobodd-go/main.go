// Command nobodd-go is a netboot server for Raspberry Pis: it serves boot
// files straight out of the FAT boot partition inside raw OS disk images,
// over TFTP.
//
//	nobodd-go [flags]                 run the server (see internal/cli/serve)
//	nobodd-go get [flags] HOST FILE   fetch a file from a TFTP server
//	nobodd-go put [flags] HOST FILE   send a file to a TFTP server
//	nobodd-go demo [flags]            build a demo image and serve it
//	nobodd-go bench [flags] HOST:PORT load-test a TFTP server
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

	"github.com/nobodd-go/nobodd-go/internal/cli/bench"
	"github.com/nobodd-go/nobodd-go/internal/cli/demo"
	"github.com/nobodd-go/nobodd-go/internal/cli/getput"
	"github.com/nobodd-go/nobodd-go/internal/cli/serve"
)

// command is one subcommand: its name as the first argument, a one-line
// description, and its entry point.
type command struct {
	name, help string
	run        func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands is the dispatch table. prep and sh join it as they are written.
func commands() []command {
	return []command{
		{"serve", "run the server (the default when the first argument is a flag)", func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return serve.Main(ctx, args, serve.Env{Stdout: stdout, Stderr: stderr})
		}},
		{"get", "fetch a file from a TFTP server", getput.Get},
		{"put", "send a file to a TFTP server", getput.Put},
		{"demo", "build a small Pi-like image and serve it on 127.0.0.1", func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return demo.Main(ctx, args, demo.Env{Stdout: stdout, Stderr: stderr})
		}},
		{"bench", "load-test a TFTP server with transfers or emulated Pi boots", bench.Main},
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
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "--version" || a == "-version":
			fmt.Fprintln(stdout, version())
			return serve.ExitOK
		case a == "help":
			usage(stdout)
			return serve.ExitOK
		case !strings.HasPrefix(a, "-"):
			for _, c := range commands() {
				if c.name == a {
					return c.run(ctx, args[1:], stdout, stderr)
				}
			}
			fmt.Fprintf(stderr, "nobodd-go: unknown command %q\n", a)
			usage(stderr)
			return serve.ExitUsage
		}
	}
	return serve.Main(ctx, args, serve.Env{Stdout: stdout, Stderr: stderr})
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
