package interop

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"github.com/nobodd-go/nobodd-go/tftp"
)

// TestTFTPHPA uses tftp-hpa's tftp client (5.2). Facts: it sends no options
// at all (no blksize, no tsize), so every transfer is 512-byte lock-step;
// it takes the port as a second positional argument and commands after -c;
// it exits 0 even when the server answers ERROR, leaving an empty local
// file, so only its output tells.
func TestTFTPHPA(t *testing.T) {
	bin := testpeer.Require(t, "tftp")
	f := start(t, "")
	port := strconv.Itoa(f.port)
	get := func(t *testing.T, f *fixture, remote, local string, bs, ws int) error {
		out, err := run(t, clientTimeout, nil, bin, "-m", "binary", "127.0.0.1", port, "-c", "get", remote, local)
		// tftp-hpa exits 0 even after an ERROR packet (leaving an empty
		// file), so its output is checked too.
		if err != nil || bytes.Contains(out, []byte("Error code")) {
			return fmt.Errorf("tftp get: %v: %s", err, out)
		}
		return nil
	}
	put := func(t *testing.T, f *fixture, remote, local string, bs, ws int) error {
		out, err := run(t, clientTimeout, nil, bin, "-m", "binary", "127.0.0.1", port, "-c", "put", local, remote)
		if err != nil || bytes.Contains(out, []byte("Error code")) {
			return fmt.Errorf("tftp put: %v: %s", err, out)
		}
		return nil
	}
	matrix(t, f, []int{512}, []int{1}, get, put, func(t *testing.T, opts tftp.Options, bs, ws int) {
		if len(opts) != 0 {
			t.Errorf("tftp-hpa sent options %s; it is known to send none", describe(opts))
		}
	})
}
