package tftp_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// TestRegisterOnShutdown: the functions run once, on the first Shutdown,
// after the server stopped taking requests.
func TestRegisterOnShutdown(t *testing.T) {
	ts := tftptest.NewUnstartedServer(tftp.HandlerFunc(func(r *tftp.Request) (io.ReaderAt, int64, error) {
		return strings.NewReader("x"), 1, nil
	}))
	addr := ts.Addr
	calls := 0
	ts.Server.RegisterOnShutdown(func() {
		calls++
		// The server takes no requests by now: this one gets no answer.
		c := tftp.Client{Timeout: 200 * time.Millisecond, Retries: 1}
		if _, err := c.Get(context.Background(), addr, "f", io.Discard); err == nil {
			t.Error("a request was served from within the shutdown hook")
		}
	})
	ts.Start()
	// Served before Shutdown.
	c := tftp.Client{Timeout: time.Second}
	if _, err := c.Get(context.Background(), addr, "f", io.Discard); err != nil {
		t.Fatalf("before Shutdown: %v", err)
	}
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ts.Server.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if calls != 1 {
		t.Fatalf("hook called %d times, want 1", calls)
	}
}
