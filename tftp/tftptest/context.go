package tftptest

import (
	"context"
	"testing"
	"time"
)

// Context returns a context for a client call in a test: cancelled after d,
// or when the test ends, whichever comes first.
func Context(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(tb.Context(), d)
	tb.Cleanup(cancel)
	return ctx
}
