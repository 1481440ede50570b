package activation

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/nobodd-go/nobodd-go/internal/testpeer"
)

// The unit files and sample configuration live in systemd/ at the top of
// the module; they are tested here because that directory holds no Go.
const unitDir = "../../systemd"

// unitKeys returns the Key=value assignments of section in a unit file, in
// order, ignoring comments.
func unitKeys(t *testing.T, path, section string) [][2]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[':
			cur = strings.Trim(l, "[]")
		case cur == section:
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("%s: line %q in [%s] is not Key=value", path, l, section)
			}
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

func values(kv [][2]string, key string) []string {
	var vs []string
	for _, p := range kv {
		if p[0] == key {
			vs = append(vs, p[1])
		}
	}
	return vs
}

// TestSocketUnitOneDatagram checks the socket unit against what Systemd
// accepts: exactly one listening socket, a datagram one.
func TestSocketUnitOneDatagram(t *testing.T) {
	kv := unitKeys(t, filepath.Join(unitDir, "nobodd-go.socket"), "Socket")
	var listens []string
	for _, p := range kv {
		if strings.HasPrefix(p[0], "Listen") {
			listens = append(listens, p[0]+"="+p[1])
		}
	}
	if len(listens) != 1 || listens[0] != "ListenDatagram=69" {
		t.Errorf("socket unit listens on %q, want exactly [ListenDatagram=69]", listens)
	}
	if a := values(kv, "Accept"); len(a) != 0 && a[len(a)-1] != "no" {
		t.Errorf("Accept=%s: nobodd-go serves the listening socket itself", a[len(a)-1])
	}
}

// TestServiceUnit checks the service unit's contract with the daemon and
// the hardening the lead asked for.
func TestServiceUnit(t *testing.T) {
	kv := unitKeys(t, filepath.Join(unitDir, "nobodd-go.service"), "Service")
	want := map[string]string{
		"Type":                    "notify",
		"WatchdogSec":             "30",
		"Restart":                 "on-failure",
		"DynamicUser":             "yes",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "read-only",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectControlGroups":    "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"RestrictNamespaces":      "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"CapabilityBoundingSet":   "",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"SystemCallArchitectures": "native",
		"AmbientCapabilities":     "",
		"RestrictSUIDSGID":        "yes",
		"ProtectKernelModules":    "yes",
	}
	for k, v := range want {
		got := values(kv, k)
		if len(got) == 0 || got[len(got)-1] != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if f := values(kv, "SystemCallFilter"); len(f) == 0 || f[0] != "@system-service" {
		t.Errorf("SystemCallFilter=%q, want @system-service first", f)
	}
	exec := values(kv, "ExecStart")
	if len(exec) != 1 || !strings.HasPrefix(exec[0], "/usr/bin/nobodd-go ") ||
		!strings.Contains(exec[0], " --listen systemd") ||
		!strings.Contains(exec[0], " --config /etc/nobodd-go/nobodd-go.toml") {
		t.Errorf("ExecStart=%q, want /usr/bin/nobodd-go with --listen systemd and --config /etc/nobodd-go/nobodd-go.toml", exec)
	}
}

// TestSampleConfig decodes systemd/nobodd-go.toml and checks it selects
// socket activation.
func TestSampleConfig(t *testing.T) {
	var cfg map[string]any
	md, err := toml.DecodeFile(filepath.Join(unitDir, "nobodd-go.toml"), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	tftp, ok := cfg["tftp"].(map[string]any)
	if !ok || tftp["listen"] != "systemd" {
		t.Errorf("[tftp] = %v, want listen = \"systemd\"", cfg["tftp"])
	}
	for _, k := range md.Keys() {
		if s := k.String(); s != "tftp" && s != "tftp.listen" {
			t.Errorf("sample configuration sets %s; keep it to [tftp] listen (the rest is commented)", s)
		}
	}
}

// TestUnitsVerify runs systemd-analyze verify on the units. As installed they
// name /usr/bin/nobodd-go, which need not exist here, so a copy with the
// executable rewritten to this test binary must verify silently; the
// original may fail only for the missing executable.
func TestUnitsVerify(t *testing.T) {
	analyze := testpeer.Require(t, "systemd-analyze")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var copies, originals []string
	for _, name := range []string{"nobodd-go.socket", "nobodd-go.service"} {
		src := filepath.Join(unitDir, name)
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		data = regexp.MustCompile(`(?m)^ExecStart=/usr/bin/nobodd-go`).ReplaceAll(data, []byte("ExecStart="+exe))
		dst := filepath.Join(dir, name)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, dst)
		abs, err := filepath.Abs(src)
		if err != nil {
			t.Fatal(err)
		}
		originals = append(originals, abs)
	}

	verify := func(units []string) (string, error) {
		cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, units...)...)
		cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0", "SYSTEMD_PAGER=")
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := verify(copies); err != nil || out != "" {
		t.Errorf("systemd-analyze verify on the units (ExecStart rewritten to %s): %v\n%s", exe, err, out)
	}
	out, _ := verify(originals)
	for l := range strings.SplitSeq(out, "\n") {
		if l != "" && !strings.Contains(l, "Command /usr/bin/nobodd-go is not executable") {
			t.Errorf("systemd-analyze verify on the installed units: unexpected %q", l)
		}
	}
}
