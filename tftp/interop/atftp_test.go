package interop

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"github.com/nobodd-go/nobodd-go/tftp"
)

// TestAtftp uses atftp 0.8.0, the one command-line client here that can ask
// for windowsize. Options are given with --option "name value" and sent in
// the order given, literally: atftp's man page suggests --option "tsize
// enable", which puts tsize=enable on the wire (see TestAtftpTsizeEnable);
// --option "tsize 0" sends tsize=0 on RRQ and the file's size on WRQ.
// Without --option an RRQ carries no options at all.
func TestAtftp(t *testing.T) {
	bin := testpeer.Require(t, "atftp")
	f := start(t, "")
	port := strconv.Itoa(f.port)
	args := func(bs, ws int) []string {
		a := []string{"--option", "tsize 0"}
		if bs != 0 {
			a = append(a, "--option", "blksize "+strconv.Itoa(bs))
		}
		if ws > 1 {
			a = append(a, "--option", "windowsize "+strconv.Itoa(ws))
		}
		return a
	}
	get := func(t *testing.T, f *fixture, remote, local string, bs, ws int) error {
		a := append(args(bs, ws), "-g", "-r", remote, "-l", local, "127.0.0.1", port)
		out, err := run(t, clientTimeout, nil, bin, a...)
		if err != nil {
			return fmt.Errorf("atftp -g: %v: %s", err, out)
		}
		return nil
	}
	put := func(t *testing.T, f *fixture, remote, local string, bs, ws int) error {
		a := append(args(bs, ws), "-p", "-r", remote, "-l", local, "127.0.0.1", port)
		out, err := run(t, clientTimeout, nil, bin, a...)
		if err != nil {
			return fmt.Errorf("atftp -p: %v: %s", err, out)
		}
		return nil
	}
	matrix(t, f, blockSizes, windowSizes, get, put, func(t *testing.T, opts tftp.Options, bs, ws int) {
		wantOption(t, opts, "blksize", strconv.Itoa(bs))
		if ws > 1 {
			wantOption(t, opts, "windowsize", strconv.Itoa(ws))
		}
	})
}

// TestAtftpTsizeEnable: atftp's documented --option "tsize enable" sends the
// literal value "enable". tftp-hpa's in.tftpd ignores the bad value and
// serves the file; so must the server (it refused it with ERROR 8 until
// tftp-core's commit 34c73da).
func TestAtftpTsizeEnable(t *testing.T) {
	bin := testpeer.Require(t, "atftp")
	f := start(t, "")
	remote := fileName(1468)
	local := filepath.Join(t.TempDir(), "out")
	out, err := run(t, clientTimeout, nil, bin, "--option", "tsize enable", "--option", "blksize 1024", "-g", "-r", remote, "-l", local, "127.0.0.1", strconv.Itoa(f.port))
	if err != nil {
		t.Fatalf("atftp with tsize=enable: %v: %s", err, out)
	}
	checkFile(t, local, f.sums[remote], 1468)
	wantOption(t, f.sent(remote), "tsize", "enable")
}
