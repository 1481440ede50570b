package serve

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadmeDnsmasq checks the README's dnsmasq example with dnsmasq --test.
func TestReadmeDnsmasq(t *testing.T) {
	text := readme(t)
	_, after, ok := strings.Cut(text, "<!-- dnsmasq-example -->\n```\n")
	block, _, ok2 := strings.Cut(after, "```\n<!-- /dnsmasq-example -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no dnsmasq example between the markers")
	}
	if !strings.Contains(block, `pxe-service=0,"Raspberry Pi Boot   "`) {
		t.Errorf("dnsmasq example lacks the pxe-service line with three trailing spaces:\n%s", block)
	}
	if strings.Contains(block, "enable-tftp") {
		t.Error("dnsmasq example enables dnsmasq's own TFTP server")
	}
	dnsmasq := testpeer.Require(t, "dnsmasq")
	conf := filepath.Join(t.TempDir(), "nobodd-go.conf")
	writeFile(t, conf, block)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, dnsmasq, "--test", "--conf-file="+conf).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "syntax check OK") {
		t.Errorf("dnsmasq --test: %v\n%s", err, out)
	}
}

// TestReadmeFlags checks that every --flag the README's "Serving boards"
// section names is a flag of the daemon.
func TestReadmeFlags(t *testing.T) {
	text := readme(t)
	_, sec, ok := strings.Cut(text, "## Serving boards")
	if !ok {
		t.Fatal("README.md has no Serving boards section")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	var own []string // lines about nobodd-go, not systemctl's flags
	for l := range strings.SplitSeq(sec, "\n") {
		if !strings.Contains(l, "systemctl") {
			own = append(own, l)
		}
	}
	sec = strings.Join(own, "\n")
	fs, _ := newFlags(io.Discard)
	seen := 0
	for _, m := range regexp.MustCompile("--([a-z][a-z-]+)").FindAllStringSubmatch(sec, -1) {
		if fs.Lookup(m[1]) == nil {
			t.Errorf("README names --%s, which the daemon does not have", m[1])
		}
		seen++
	}
	if seen < 15 {
		t.Errorf("only %d flags named in the README section", seen)
	}
}
