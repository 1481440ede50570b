package serve

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/cli"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// runMain runs Main to completion for arguments that make it exit at
// start-up.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	out, errb := &tftptest.LogBuffer{}, &tftptest.LogBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(context.Background(), args, Env{Stdout: out, Stderr: errb,
			LookupEnv: func(string) (string, bool) { return "", false }})
	}()
	return <-done, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--board", "1234abcd"}, `--board "1234abcd": 1 fields; want SERIAL,IMAGE`},
		{[]string{"--board", "xyz,a.img"}, `serial "xyz": not hex`},
		{[]string{"--board", "1234abcd,a.img,one"}, `partition "one"`},
		{[]string{"--board", "1234abcd,a.img,1,300.1.1.1"}, `ip "300.1.1.1"`},
	} {
		code, _, stderr := runMain(t, c.args...)
		if code != cli.ExitUsage {
			t.Errorf("%q: exit status %d, want %d", c.args, code, cli.ExitUsage)
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("%q: stderr %q does not contain %q", c.args, stderr, c.want)
		}
	}
	code, stdout, _ := runMain(t, "--help")
	if code != cli.ExitOK || !strings.Contains(stdout, "-board SERIAL,IMAGE[,PART[,IP]]") || !strings.Contains(stdout, "-max-block-size") {
		t.Errorf("--help: exit %d, stdout %q", code, stdout)
	}
}

func TestBadConfigurations(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, text)
		return p
	}
	syntax := file("syntax.toml", "[tftp]\nport = \n")
	keys := file("keys.toml", "[tftp]\nprot = 69\nmax-block-size = 4\n\n[board.pi]\nserial = \"1234abcd\"\n")
	dup := file("dup.toml", "[board.a]\nserial = \"1234abcd\"\nimage = \"a.img\"\n\n[board.b]\nserial = \"1234ABCD\"\nimage = \"b.img\"\n")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--config", syntax}, []string{syntax + ":2: not valid TOML"}},
		{[]string{"--config", keys}, []string{
			keys + `:2: tftp: unknown key \"prot\"`,
			keys + ":3: tftp: max-block-size 4",
			`board \"pi\": no image`,
		}},
		{[]string{"--config", dup}, []string{`serial 1234abcd: already used by board \"a\"`}},
		{[]string{"--config", filepath.Join(dir, "missing.toml")}, []string{"missing.toml: cannot read: no such file or directory"}},
		{[]string{"--config", dup, "--port", "0"}, []string{"--port \\\"0\\\": out of range"}},
		{[]string{"--config", dup, "--listen", "localhost"}, []string{"--listen \\\"localhost\\\": not an IP address"}},
	} {
		code, _, stderr := runMain(t, c.args...)
		if code != cli.ExitFailure {
			t.Errorf("%q: exit status %d, want %d\n%s", c.args, code, cli.ExitFailure, stderr)
		}
		for _, w := range c.want {
			if len(tftptest.Lines(stderr, "level=ERROR", "configuration error", w)) != 1 {
				t.Errorf("%q: no error line with %q:\n%s", c.args, w, stderr)
			}
		}
		if len(tftptest.Lines(stderr, "not starting")) != 1 {
			t.Errorf("%q: no 'not starting' line:\n%s", c.args, stderr)
		}
	}
	// JSON logs for the same failure.
	code, _, stderr := runMain(t, "--config", syntax, "--log-format", "json")
	if code != cli.ExitFailure || !strings.Contains(stderr, `"level":"ERROR"`) || !strings.Contains(stderr, fmt.Sprintf(`%s:2: not valid TOML`, syntax)) {
		t.Errorf("json: exit %d, stderr %s", code, stderr)
	}
	// --writable without a root is a usage error; so is writable = true
	// in a file without a root.
	empty := file("empty.toml", "")
	if code, _, stderr := runMain(t, "--config", empty, "--writable"); code != cli.ExitUsage || !strings.Contains(stderr, "needs a root directory") {
		t.Errorf("--writable without root: exit %d, %s", code, stderr)
	}
	writable := file("writable.toml", "[tftp]\nwritable = true\n")
	if code, _, stderr := runMain(t, "--config", writable); code != cli.ExitUsage || !strings.Contains(stderr, "needs a root directory") {
		t.Errorf("writable = true without root: exit %d, %s", code, stderr)
	}
	// A bad shutdown-timeout is a configuration error naming the flag.
	if code, _, stderr := runMain(t, "--config", empty, "--shutdown-timeout", "-1s"); code != cli.ExitFailure || !strings.Contains(stderr, `--shutdown-timeout \"-1s\": not positive`) {
		t.Errorf("--shutdown-timeout -1s: exit %d, %s", code, stderr)
	}
}
