package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/cli/demo"
	"github.com/nobodd-go/nobodd-go/internal/testpeer"
)

func TestDispatch(t *testing.T) {
	for _, c := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--version"}, 0, "nobodd-go ", ""},
		{[]string{"help"}, 0, "Commands:", ""},
		{[]string{"bogus"}, 2, "", `unknown command "bogus"`},
		{[]string{"get"}, 2, "", "usage: nobodd-go get"},
		{[]string{"put", "--bogus"}, 2, "", "-bogus"},
		{[]string{"demo", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"bench"}, 2, "", "bench"},
		{[]string{"--help"}, 0, "-board SERIAL,IMAGE", ""},
		{[]string{"serve", "--help"}, 0, "-listen", ""},
		{[]string{"--board", "nothex,x.img"}, 2, "", "not hex"},
		{[]string{"prep"}, 2, "", "prep"},
		{[]string{"sh", "help"}, 0, "rmdir", ""},
		{[]string{"sh", "ls", "/nonexistent-nobodd-go-test"}, 2, "", "No such file or directory"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), c.args, strings.NewReader(""), &out, &errb)
		if code != c.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", c.args, code, c.code, errb.String())
		}
		if !strings.Contains(out.String(), c.stdout) || !strings.Contains(errb.String(), c.stderr) {
			t.Errorf("%q: stdout %q, stderr %q; want %q and %q in them", c.args, out.String(), errb.String(), c.stdout, c.stderr)
		}
	}
	// Every command of the table is listed by help.
	var out bytes.Buffer
	run(context.Background(), []string{"help"}, strings.NewReader(""), &out, &out)
	for _, c := range commands() {
		if !strings.Contains(out.String(), "  "+c.name+" ") {
			t.Errorf("help does not list %q:\n%s", c.name, out.String())
		}
	}
}

// TestDemoBinary runs "nobodd-go demo" from the built binary and follows
// its printed instructions: the curl command and the nobodd-go get command.
func TestDemoBinary(t *testing.T) {
	dir := t.TempDir()
	bin := testpeer.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--duration", "2m")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill() // our own child, by pid
			_ = cmd.Wait()
		}
	}()
	var curlLine, getLine string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && (curlLine == "" || getLine == "") {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "curl -o config.txt "):
			curlLine = l
		case strings.HasPrefix(l, "nobodd-go get ") && strings.HasSuffix(l, " -"):
			getLine = l
		}
	}
	if curlLine == "" || getLine == "" {
		t.Fatalf("demo printed no curl or get command; stderr:\n%s", stderr.String())
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	want := demo.Files()

	curl := testpeer.Require(t, "curl")
	f := strings.Fields(curlLine)
	c := exec.CommandContext(ctx, curl, append([]string{"-sS"}, f[1:]...)...)
	c.Dir = dir
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", curlLine, err, out)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "config.txt")); err != nil || !bytes.Equal(got, want["config.txt"]) {
		t.Errorf("%s: got %q, %v", curlLine, got, err)
	}
	f = strings.Fields(getLine)
	out, err := exec.CommandContext(ctx, bin, f[1:]...).Output()
	if err != nil || !bytes.Equal(out, want["cmdline.txt"]) {
		t.Errorf("%s: got %q, %v", getLine, out, err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-drained: // the demo closed its standard output: it is exiting
	case <-time.After(40 * time.Second):
		t.Fatal("demo still running 40s after SIGINT")
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("demo after SIGINT: %v\n%s", err, stderr.String())
	}
}
