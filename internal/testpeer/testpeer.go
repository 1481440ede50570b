// Package testpeer finds the external programs that tests talk to: TFTP
// clients and servers, and the FAT and partitioning tools.
//
// A test that needs a peer calls Require. On a developer's machine a missing
// peer skips the test; under CI (the environment variable CI is "true") it
// fails the test, so a CI run can never pass by skipping.
package testpeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// CI reports whether the tests run under continuous integration, where every
// peer must be present.
func CI() bool { return os.Getenv("CI") == "true" }

// Require returns the path of the program name, looked up in PATH and in the
// sbin directories (Debian installs servers such as in.tftpd there). When it
// is missing the test is skipped, or failed under CI.
func Require(tb testing.TB, name string) string {
	tb.Helper()
	path, err := Look(name)
	if err != nil {
		Missing(tb, name+" (install it with .ci/install-peers)")
	}
	return path
}

// Look finds name in PATH and then in /usr/sbin and /sbin.
func Look(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	var last error
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p, err := exec.LookPath(dir + "/" + name)
		if err == nil {
			return p, nil
		}
		last = err
	}
	return "", last
}

// Missing skips the test because what is described is not available here,
// or fails it under CI.
func Missing(tb testing.TB, what string) {
	tb.Helper()
	if CI() {
		tb.Fatalf("required test peer missing under CI: %s", what)
	}
	tb.Skipf("skipping: %s not available", what)
}

// Binary builds the module's command cmd/nobodd-go into a temporary directory
// of tb and returns its path. The build may take up to three minutes.
func Binary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "nobodd-go")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/nobodd-go/nobodd-go/cmd/nobodd-go").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build cmd/nobodd-go: %v\n%s", err, out)
	}
	return bin
}

// InTFTPD runs tftp-hpa's in.tftpd in inetd "wait" mode on a loopback socket
// bound here (network "udp4" on 127.0.0.1, "udp6" on ::1), so no port number
// is guessed, serving dir with uploads allowed and extra arguments appended,
// and returns its address. The daemon's process group (it forks per transfer)
// is killed when the test ends, and its standard error logged.
func InTFTPD(tb testing.TB, network, dir string, extra ...string) string {
	tb.Helper()
	bin := Require(tb, "in.tftpd")
	u, err := user.Current()
	if err != nil {
		tb.Fatal(err)
	}
	ip := net.IPv4(127, 0, 0, 1)
	if network == "udp6" {
		ip = net.IPv6loopback
	}
	conn, err := net.ListenUDP(network, &net.UDPAddr{IP: ip})
	if err != nil {
		tb.Fatal(err)
	}
	f, err := conn.File()
	if err != nil {
		tb.Fatal(errors.Join(err, conn.Close()))
	}
	addr := conn.LocalAddr().String()
	// -u: stay the current user; -p: no o+r checks; -c: allow creation;
	// -s: chroot to dir; -t: exit when idle this long.
	args := append([]string{"-u", u.Username, "-p", "-c", "-U", "022", "-t", "120", "-s", dir}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdin = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	startErr := cmd.Start()
	// The child holds its own copies of the socket.
	if err := errors.Join(startErr, f.Close(), conn.Close()); err != nil {
		tb.Fatal(err)
	}
	pid := cmd.Process.Pid
	tb.Cleanup(func() {
		// Only the group this test started: the daemon and its children.
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			tb.Errorf("killing in.tftpd group %d: %v", pid, err)
		}
		_ = cmd.Wait() // killed: its exit status is "signal: killed"
		if stderr.Len() > 0 {
			tb.Logf("in.tftpd stderr: %s", stderr.String())
		}
	})
	return addr
}

// ErrPortInUse is what a start function given to OnFreePort returns (or
// wraps) when the program it started could not bind the port.
var ErrPortInUse = errors.New("port already in use")

// OnFreePort calls start with a port of network ("udp" or "tcp") on the
// loopback address ip that was free a moment ago, for a program that binds the port itself. Another
// process may take the number between the check and the program's bind, so
// while start reports ErrPortInUse it is called again with another port, up
// to five times in all; then, or on any other error, the test fails. Where
// the address family is unavailable the test is skipped (failed under CI).
// Where a test can hand over the bound socket instead (inetd style, as
// InTFTPD does), it should.
func OnFreePort(tb testing.TB, network string, ip net.IP, start func(port int) error) {
	tb.Helper()
	const attempts = 5
	var err error
	for range attempts {
		port, lerr := freePort(network, ip)
		if lerr != nil {
			Missing(tb, "loopback "+ip.String()+" ("+lerr.Error()+")")
			return
		}
		if err = start(port); !errors.Is(err, ErrPortInUse) {
			break
		}
		tb.Logf("port %d was taken meanwhile: %v", port, err)
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// freePort binds port 0 of ip, notes the port and closes the socket.
func freePort(network string, ip net.IP) (int, error) {
	var c io.Closer
	var port int
	switch network {
	case "udp":
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
		if err != nil {
			return 0, err
		}
		c, port = u, u.LocalAddr().(*net.UDPAddr).Port
	case "tcp":
		l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip})
		if err != nil {
			return 0, err
		}
		c, port = l, l.Addr().(*net.TCPAddr).Port
	default:
		return 0, fmt.Errorf("free port: network %q is not udp or tcp", network)
	}
	return port, c.Close()
}
