// Command tftpmux embeds the tftp package as a framework: a mux routes
// "static/" to a directory, "hello" to a handler that makes its content on
// the fly, and uploads under "incoming/" to a create-only directory; a hook
// prints one line per finished transfer and the server's counters on exit.
//
//	go run ./examples/tftpmux -dir /srv/tftp -listen 127.0.0.1:6969
//	curl tftp://127.0.0.1:6969/hello
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
)

func main() {
	dir := flag.String("dir", ".", "directory served under static/ (uploads go to its incoming/)")
	listen := flag.String("listen", "127.0.0.1:6969", "UDP address to listen on")
	flag.Parse()

	mux := tftp.NewServeMux()
	mux.Handle("static/", tftp.StripPrefix("static/", tftp.FileServer(os.DirFS(*dir))))
	mux.Handle("hello", tftp.HandlerFunc(func(r *tftp.Request) (io.ReaderAt, int64, error) {
		msg := fmt.Sprintf("hello %s, you asked for %q\n", r.RemoteAddr.Addr(), r.Filename)
		return strings.NewReader(msg), int64(len(msg)), nil
	}))
	// "incoming/NAME" is stored as DIR/incoming/NAME; the directory must
	// exist (DirWriter never creates directories nor overwrites files).
	mux.HandleWrite("incoming/", tftp.DirWriter(*dir))
	srv := &tftp.Server{Handler: mux, WriteHandler: mux}
	srv.OnTransfer = func(st *tftp.TransferStats) {
		fmt.Printf("%s %s %q: %d bytes in %v, %d retransmits, %v\n",
			st.RemoteAddr, st.Op, st.Filename, st.Bytes, st.Duration.Round(time.Millisecond), st.Retransmits, st.Outcome)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopped := make(chan error, 1)
	go func() {
		<-ctx.Done()
		grace, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- srv.Shutdown(grace)
	}()
	if err := srv.ListenAndServe(*listen); !errors.Is(err, tftp.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "tftpmux:", err)
		os.Exit(1)
	}
	// Serve returns as soon as Shutdown closes the socket; the statistics
	// are final once Shutdown has waited for the transfers in flight.
	if err := <-stopped; err != nil {
		fmt.Fprintln(os.Stderr, "tftpmux: shutdown: transfers cut short:", err)
	}
	fmt.Printf("%+v\n", srv.Stats())
}
