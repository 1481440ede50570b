package getput

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/cli"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"host":           "host:69",
		"host:6969":      "host:6969",
		"127.0.0.1":      "127.0.0.1:69",
		"127.0.0.1:70":   "127.0.0.1:70",
		"[::1]":          "[::1]:69",
		"[::1]:6969":     "[::1]:6969",
		"::1":            "[::1]:69",
		"[fe80::1%lo]":   "[fe80::1%lo]:69",
		"pi.local:tftp":  "pi.local:tftp",
		"[2001:db8::2]:": "[2001:db8::2]:",
	} {
		got, err := hostPort(in)
		if err != nil || got != want {
			t.Errorf("hostPort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ":69", "a:b:c"} {
		if got, err := hostPort(bad); err == nil {
			t.Errorf("hostPort(%q) = %q, want an error", bad, got)
		}
	}
}

func TestGetPut(t *testing.T) {
	srv := t.TempDir()
	body := fixture.Pseudo(1, 100000)
	if err := os.WriteFile(filepath.Join(srv, "kernel8.img"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, network := range []string{"udp4", "udp6"} {
		t.Run(network, func(t *testing.T) {
			addr := testpeer.InTFTPD(t, network, srv)
			t.Run("default-local", func(t *testing.T) {
				t.Chdir(t.TempDir())
				var stdout, stderr bytes.Buffer
				if code := Get(tftptest.Context(t, time.Minute), []string{"--blksize", "1024", addr, "kernel8.img"}, &stdout, &stderr); code != 0 {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				got, err := os.ReadFile("kernel8.img")
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("local file: %d bytes, %v; want %d bytes", len(got), err, len(body))
				}
				if stdout.Len() != 0 || stderr.Len() != 0 {
					t.Errorf("not a terminal, yet output: stdout %q stderr %q", stdout.String(), stderr.String())
				}
			})
			t.Run("into-directory", func(t *testing.T) {
				dir := t.TempDir()
				var stdout, stderr bytes.Buffer
				if code := Get(tftptest.Context(t, time.Minute), []string{addr, "kernel8.img", dir}, &stdout, &stderr); code != 0 {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				got, err := os.ReadFile(filepath.Join(dir, "kernel8.img"))
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("file in directory: %d bytes, %v; want %d bytes", len(got), err, len(body))
				}
			})
			t.Run("stdout", func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				if code := Get(tftptest.Context(t, time.Minute), []string{addr, "kernel8.img", "-", "--windowsize", "4"}, &stdout, &stderr); code != 0 {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				if !bytes.Equal(stdout.Bytes(), body) {
					t.Fatalf("stdout has %d bytes, want %d", stdout.Len(), len(body))
				}
			})
			t.Run("missing-leaves-nothing", func(t *testing.T) {
				dir := t.TempDir()
				var stdout, stderr bytes.Buffer
				code := Get(tftptest.Context(t, time.Minute), []string{addr, "no/such/file", filepath.Join(dir, "out")}, &stdout, &stderr)
				if code != 1 {
					t.Fatalf("exit %d, want 1", code)
				}
				if !strings.Contains(stderr.String(), "no/such/file") {
					t.Errorf("stderr %q does not name the file", stderr.String())
				}
				if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
					t.Fatalf("directory after a failed get: %v, %v; want empty", ents, err)
				}
			})
			t.Run("put", func(t *testing.T) {
				local := filepath.Join(t.TempDir(), "upload.bin")
				if err := os.WriteFile(local, body[:7777], 0o644); err != nil {
					t.Fatal(err)
				}
				remote := "put-" + network
				var stdout, stderr bytes.Buffer
				if code := Put(tftptest.Context(t, time.Minute), []string{"--blksize=512", "--timeout", "2s", "--retries", "3", addr, local, remote}, nil, &stdout, &stderr); code != 0 {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				got, err := os.ReadFile(filepath.Join(srv, remote))
				if err != nil || !bytes.Equal(got, body[:7777]) {
					t.Fatalf("server file: %d bytes, %v; want 7777", len(got), err)
				}
			})
			t.Run("put-stdin", func(t *testing.T) {
				remote := "stdin-" + network
				var stdout, stderr bytes.Buffer
				in := bytes.NewReader(body[:5000])
				if code := Put(tftptest.Context(t, time.Minute), []string{"--timeout", "2s", addr, "-", remote}, in, &stdout, &stderr); code != 0 {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				got, err := os.ReadFile(filepath.Join(srv, remote))
				if err != nil || !bytes.Equal(got, body[:5000]) {
					t.Fatalf("server file: %d bytes, %v; want the 5000 bytes of standard input", len(got), err)
				}
				// Without REMOTE, "-" has no name to store under.
				stderr.Reset()
				if code := Put(tftptest.Context(t, time.Minute), []string{addr, "-"}, in, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "needs REMOTE") {
					t.Errorf("put - without REMOTE: exit %d, %q; want 2 and a message", code, stderr.String())
				}
			})
		})
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		run  func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) int
	}{
		{"get-no-args", nil, nil},
		{"get-one-arg", []string{"host"}, nil},
		{"get-bad-blksize", []string{"--blksize", "4", "host", "f"}, nil},
		{"get-bad-mode", []string{"--mode", "mail", "host", "f"}, nil},
		{"get-bad-host", []string{"a:b:c", "f"}, nil},
		{"get-too-many", []string{"h", "a", "b", "c"}, nil},
		{"put-no-args", nil, func(c context.Context, a []string, o, e *bytes.Buffer) int { return Put(c, a, nil, o, e) }},
		{"put-bad-windowsize", []string{"--windowsize", "70000", "h", "f"}, func(c context.Context, a []string, o, e *bytes.Buffer) int { return Put(c, a, nil, o, e) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			run := tc.run
			if run == nil {
				run = func(c context.Context, a []string, o, e *bytes.Buffer) int { return Get(c, a, o, e) }
			}
			if code := run(t.Context(), tc.args, &stdout, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, stderr.String())
			}
			if stderr.Len() == 0 {
				t.Error("nothing said on stderr")
			}
		})
	}
}

func TestBar(t *testing.T) {
	if got := bytesString(1536); got != "1.5 KiB" {
		t.Errorf("bytesString(1536) = %q", got)
	}
	if got := bytesString(3 << 20); got != "3.0 MiB" {
		t.Errorf("bytesString(3 MiB) = %q", got)
	}
	var buf bytes.Buffer
	if cli.IsTerminal(&buf) {
		t.Error("a buffer is a terminal")
	}
}

func TestBarDraw(t *testing.T) {
	var buf bytes.Buffer
	b := &bar{w: &buf, name: "initrd.img", start: time.Now().Add(-time.Second)}
	b.update(tftp.Progress{Bytes: 512 << 10, Total: 1 << 20})
	b.finish(nil)
	out := buf.String()
	for _, want := range []string{"initrd.img", "512.0 KiB", "1.0 MiB", "50%", "/s", "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output %q lacks %q", out, want)
		}
	}
}

// TestParseDoubleDash: after "--" every argument is an operand, even two
// that look like flags (the second used to be parsed as a flag).
func TestParseDoubleDash(t *testing.T) {
	var o options
	fs := newFlagSet("get", io.Discard, &o)
	pos, err := parse(fs, []string{"host", "--blksize", "512", "--", "-a", "-b"}, &o)
	if err != nil || strings.Join(pos, " ") != "host -a -b" || o.client.BlockSize != 512 {
		t.Errorf("operands %q, blksize %d, err %v; want host -a -b, 512", pos, o.client.BlockSize, err)
	}
}
