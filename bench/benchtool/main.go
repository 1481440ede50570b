// Command benchtool runs the load tool of "nobodd-go bench"
// (internal/cli/bench) on its own, for bench/compare.sh while
// cmd/nobodd-go does not dispatch the bench subcommand yet. It takes the
// same arguments as "nobodd-go bench".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/nobodd-go/nobodd-go/internal/cli/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := bench.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
