package interop

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
)

// TestMissingFile: every command-line client reports the server's ERROR 1
// for a file that does not exist. Facts (the same against in.tftpd):
// tftp-hpa prints "Error code 1: ..." but exits 0 and leaves an empty local
// file; curl exits 68 (CURLE_TFTP_NOTFOUND) behind a stale getpeername
// message; atftp exits 255 and leaves an empty local file; busybox exits 1
// and leaves nothing.
func TestMissingFile(t *testing.T) {
	f := start(t, "")
	port := strconv.Itoa(f.port)
	for _, tc := range []struct {
		peer     string
		args     func(local string) []string
		exitCode int    // wanted exit status
		says     string // wanted in the output, "" for nothing to check
	}{
		{"tftp", func(l string) []string { return []string{"-m", "binary", "127.0.0.1", port, "-c", "get", "nope", l} }, 0, "Error code 1"},
		{"curl", func(l string) []string { return []string{"-sS", "-o", l, "tftp://127.0.0.1:" + port + "/nope"} }, 68, ""},
		{"atftp", func(l string) []string { return []string{"-g", "-r", "nope", "-l", l, "127.0.0.1", port} }, 255, "error received from server"},
		{"busybox", func(l string) []string { return []string{"tftp", "-g", "-r", "nope", "-l", l, "127.0.0.1", port} }, 1, "server error: (1)"},
	} {
		t.Run(tc.peer, func(t *testing.T) {
			bin := testpeer.Require(t, tc.peer)
			out, err := run(t, clientTimeout, nil, bin, tc.args(filepath.Join(t.TempDir(), "out"))...)
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.exitCode || !strings.Contains(string(out), tc.says) {
				t.Fatalf("exit %d, output %q; want exit %d and %q", code, out, tc.exitCode, tc.says)
			}
		})
	}
}
