package interop

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"github.com/nobodd-go/nobodd-go/tftp"
)

// TestCurl uses curl's TFTP support (7.88.1 on Debian 12). Facts: with
// --tftp-blksize N it sends "tsize blksize timeout" on RRQ (tsize=0) and WRQ
// (tsize=the size), with timeout=6; it has no windowsize. It rejects an OACK
// carrying tsize=0 on download ("invalid tsize -:0:- value in OACK packet",
// exit 71, the same against tftp-hpa's in.tftpd), so an empty file cannot be
// fetched with options, and it leaves without sending ERROR. The message it
// prints for that is a stale "getpeername() failed" (curl PR #11332).
// --tftp-no-options sends none.
func TestCurl(t *testing.T) {
	bin := testpeer.Require(t, "curl")
	f := start(t, "")
	url := func(f *fixture, remote string) string { return fmt.Sprintf("tftp://127.0.0.1:%d/%s", f.port, remote) }
	args := func(bs int) []string {
		a := []string{"--silent", "--show-error", "--fail"}
		if bs != 0 {
			a = append(a, "--tftp-blksize", strconv.Itoa(bs))
		}
		return a
	}
	var emptyConfirmed bool // the tsize=0 bug costs curl seconds each time: show it once
	get := func(t *testing.T, f *fixture, remote, local string, bs, ws int) error {
		if remote == fileName(0) && bs != 0 && emptyConfirmed {
			return knownBug("curl refuses tsize=0 (confirmed at an earlier block size; not run again)")
		}
		out, err := run(t, clientTimeout, nil, bin, append(args(bs), "--output", local, url(f, remote))...)
		if remote == fileName(0) {
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() == 71 {
				f.abandoned.Store(true)
				emptyConfirmed = true
				return knownBug("curl refuses tsize=0 in the OACK of an empty file (exit 71)")
			}
			return fmt.Errorf("curl fetched an empty file with options (%v): the tsize=0 bug is fixed; update this test", err)
		}
		if err != nil {
			return fmt.Errorf("curl: %v: %s", err, out)
		}
		return nil
	}
	put := func(t *testing.T, f *fixture, remote, local string, bs, ws int) error {
		out, err := run(t, clientTimeout, nil, bin, append(args(bs), "--upload-file", local, url(f, remote))...)
		if err != nil {
			return fmt.Errorf("curl -T: %v: %s", err, out)
		}
		return nil
	}
	t.Run("blksize", func(t *testing.T) {
		matrix(t, f, blockSizes, []int{1}, get, put, func(t *testing.T, opts tftp.Options, bs, ws int) {
			wantOption(t, opts, "blksize", strconv.Itoa(bs))
			wantNoOption(t, opts, "windowsize")
		})
	})
	t.Run("no-options", func(t *testing.T) {
		noOpt := func(tf transferFunc) transferFunc {
			return func(t *testing.T, f *fixture, remote, local string, bs, ws int) error {
				verb := "--output"
				if tf == nil {
					verb = "--upload-file"
				}
				out, err := run(t, clientTimeout, nil, bin, "--silent", "--show-error", "--fail", "--tftp-no-options", verb, local, url(f, remote))
				if err != nil {
					return fmt.Errorf("curl --tftp-no-options %s: %v: %s", verb, err, out)
				}
				return nil
			}
		}
		matrix(t, f, []int{0}, []int{1}, noOpt(get), noOpt(nil), func(t *testing.T, opts tftp.Options, bs, ws int) {
			if len(opts) != 0 {
				t.Errorf("curl --tftp-no-options sent %s", describe(opts))
			}
		})
	})
}
