package cli

import (
	"bytes"
	"flag"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseInterleaved(t *testing.T) {
	for _, c := range []struct {
		args     []string
		operands []string
		n        int
		v        bool
	}{
		{nil, nil, 0, false},
		{[]string{"a", "-n", "3", "b"}, []string{"a", "b"}, 3, false},
		{[]string{"-v", "a", "--n=4"}, []string{"a"}, 4, true},
		{[]string{"a", "--", "-n", "5"}, []string{"a", "-n", "5"}, 0, false},
		{[]string{"--", "--"}, []string{"--"}, 0, false},
		{[]string{"a", "--", "-v", "-n"}, []string{"a", "-v", "-n"}, 0, false},
		{[]string{"-v", "--", "-n", "6"}, []string{"-n", "6"}, 0, true},
		{[]string{"a", "-s", "--", "-v"}, []string{"a"}, 0, true},
		{[]string{"a", "--s", "--", "b", "-v"}, []string{"a", "b"}, 0, true},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		n := fs.Int("n", 0, "")
		v := fs.Bool("v", false, "")
		fs.String("s", "", "")
		got, err := ParseInterleaved(fs, c.args)
		if err != nil || !slices.Equal(got, c.operands) || *n != c.n || *v != c.v {
			t.Errorf("%q: operands %q, -n %d, -v %v, err %v; want %q, %d, %v", c.args, got, *n, *v, err, c.operands, c.n, c.v)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := ParseInterleaved(fs, []string{"a", "-bogus"}); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown flag after an operand: %v", err)
	}
	if _, err := ParseInterleaved(fs, []string{"a", "-h"}); err != flag.ErrHelp {
		t.Errorf("-h after an operand: %v, want flag.ErrHelp", err)
	}
}

func TestUsage(t *testing.T) {
	var b bytes.Buffer
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(&b)
	fs.Int("n", 1, "a number")
	Usage(&b, fs, "t [flags] X", "")()
	if want := "usage: nobodd-go t [flags] X\n  -n int\n    \ta number (default 1)\n"; b.String() != want {
		t.Errorf("usage %q, want %q", b.String(), want)
	}
	b.Reset()
	Usage(&b, fs, "t X", "Does t.")()
	if want := "usage: nobodd-go t X\n\nDoes t.\n\n  -n int"; !strings.HasPrefix(b.String(), want) {
		t.Errorf("usage %q, want it to start %q", b.String(), want)
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) || IsTerminal(&bytes.Buffer{}) || IsTerminal(nil) {
		t.Error("a plain file, a buffer or nil taken for a terminal")
	}
	if tty, err := os.OpenFile("/dev/null", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if !IsTerminal(tty) { // /dev/null is a character device
			t.Error("/dev/null is a character device")
		}
	}
}
