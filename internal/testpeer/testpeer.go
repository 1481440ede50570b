// Package testpeer finds the external programs that tests talk to: TFTP
// clients and servers, and the FAT and partitioning tools.
//
// A test that needs a peer calls Require. On a developer's machine a missing
// peer skips the test; under CI (the environment variable CI is "true") it
// fails the test, so a CI run can never pass by skipping.
package testpeer

import (
	"os"
	"os/exec"
	"testing"
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
