package interop

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"github.com/nobodd-go/nobodd-go/tftp"
)

// TestBusybox uses busybox's tftp applet (1.35). -b sets blksize; there is
// no windowsize. Facts: every RRQ carries tsize=0, plus blksize when -b
// asks for anything but 512; a WRQ carries blksize (same rule) and
// tsize=<the file's size>. A server ERROR makes it exit 1.
func TestBusybox(t *testing.T) {
	bin := testpeer.Require(t, "busybox")
	f := start(t, "")
	port := strconv.Itoa(f.port)
	xfer := func(dir string) transferFunc {
		return func(t *testing.T, f *fixture, remote, local string, bs, ws int) error {
			a := []string{"tftp", dir, "-r", remote, "-l", local}
			if bs != 0 {
				a = append(a, "-b", strconv.Itoa(bs))
			}
			a = append(a, "127.0.0.1", port)
			out, err := run(t, clientTimeout, nil, bin, a...)
			if err != nil {
				return fmt.Errorf("busybox tftp %s: %v: %s", dir, err, out)
			}
			return nil
		}
	}
	matrix(t, f, blockSizes, []int{1}, xfer("-g"), xfer("-p"), func(t *testing.T, opts tftp.Options, bs, ws int) {
		if bs != 512 {
			wantOption(t, opts, "blksize", strconv.Itoa(bs))
		}
	})
}
