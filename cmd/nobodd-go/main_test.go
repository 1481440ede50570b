package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
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
		{[]string{"--help"}, 0, "-board SERIAL,IMAGE", ""},
		{[]string{"serve", "--help"}, 0, "-listen", ""},
		{[]string{"--board", "nothex,x.img"}, 2, "", "not hex"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), c.args, &out, &errb)
		if code != c.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", c.args, code, c.code, errb.String())
		}
		if !strings.Contains(out.String(), c.stdout) || !strings.Contains(errb.String(), c.stderr) {
			t.Errorf("%q: stdout %q, stderr %q; want %q and %q in them", c.args, out.String(), errb.String(), c.stdout, c.stderr)
		}
	}
	// Every command of the table is listed by help.
	var out bytes.Buffer
	run(context.Background(), []string{"help"}, &out, &out)
	for _, c := range commands() {
		if !strings.Contains(out.String(), "  "+c.name+" ") {
			t.Errorf("help does not list %q:\n%s", c.name, out.String())
		}
	}
}
