package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakePorts stands in for /etc/services so tests do not depend on the host.
func fakePorts(network, service string) (int, error) {
	if network == "udp" && service == "tftp" {
		return 69, nil
	}
	if network == "udp" && service == "tftp-alt" {
		return 6969, nil
	}
	return 0, fmt.Errorf("unknown port %s/%s", network, service)
}

// noEnv is an empty environment.
func noEnv(string) (string, bool) { return "", false }

// writeFiles creates files (path relative to dir → content) and returns dir.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// load runs a Loader over the named files of dir.
func load(t *testing.T, dir string, names ...string) (Config, error) {
	t.Helper()
	l := Loader{LookupEnv: noEnv, LookupPort: fakePorts, Paths: []string{}}
	for _, n := range names {
		l.Paths = append(l.Paths, filepath.Join(dir, n))
	}
	return l.Load()
}

// errLines splits a joined error into its messages, with dir replaced by "D".
func errLines(err error, dir string) []string {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if dir != "" {
		msg = strings.ReplaceAll(msg, dir, "D")
	}
	return strings.Split(msg, "\n")
}

func mustLoad(t *testing.T, files map[string]string, names ...string) (Config, string) {
	t.Helper()
	dir := writeFiles(t, files)
	cfg, err := load(t, dir, names...)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg, dir
}

func TestLoadNothingGivesDefaults(t *testing.T) {
	dir := t.TempDir()
	cfg, err := load(t, dir, "missing.toml", "also-missing.toml")
	if err != nil {
		t.Fatalf("Load with missing default files: %v", err)
	}
	if !cfg.Equal(Default()) {
		t.Errorf("Load = %+v; want Default() %+v", cfg, Default())
	}
	if len(cfg.Files) != 0 {
		t.Errorf("Files = %q; want none read", cfg.Files)
	}
	d := Default().TFTP
	if d.Listen != "::" || d.Port != 69 || d.Timeout != time.Second || d.MinTimeout != 100*time.Millisecond ||
		d.Retries != 5 || d.MaxBlockSize != 65464 || d.MaxWindowSize != 64 || d.Rollover != RolloverZero ||
		d.MaxTransfers != 0 || d.SinglePort || d.PortMin != 0 || d.PortMax != 0 || d.Root != "" || d.IncludeDir != "" {
		t.Errorf("Default().TFTP = %+v; not the documented defaults", d)
	}
	if Default().Log != (Log{Format: "text"}) {
		t.Errorf("Default().Log = %+v", Default().Log)
	}
}

func TestLoadEveryKey(t *testing.T) {
	cfg, dir := mustLoad(t, map[string]string{"main.toml": `
[tftp]
listen = "127.0.0.1"
port = "tftp-alt"
root = "/srv/tftp"
timeout = "2s"
min-timeout = 0.25
retries = 7
max-block-size = 1468
max-window-size = 16
rollover = "off"
max-transfers = 100
single-port = true
port-range = "40000-40100"
writable = true
shutdown-timeout = "5s"
cache-size = "64MiB"
batch-scheduling = false

[log]
format = "json"
verbose = true

[board.pi4]
serial = "100000001234ABCD"
image = "/images/pi4.img"
partition = 2
ip = "::ffff:192.0.2.4"
mac = "DC:A6:32:01:36:C2"
prefix = "rack-1"
`}, "main.toml")
	want := Config{
		TFTP: TFTP{
			Listen: "127.0.0.1", Port: 6969, Root: "/srv/tftp",
			Timeout: 2 * time.Second, MinTimeout: 250 * time.Millisecond, Retries: 7,
			MaxBlockSize: 1468, MaxWindowSize: 16, Rollover: RolloverOff, MaxTransfers: 100,
			SinglePort: true, PortMin: 40000, PortMax: 40100,
			Writable: true, ShutdownTimeout: 5 * time.Second, CacheSize: 64 << 20,
		},
		Log: Log{Format: "json", Verbose: true},
		Boards: []Board{{
			Name: "pi4", Serial: 0x1234abcd, HasSerial: true, Image: "/images/pi4.img", Partition: 2,
			IP:  netip.MustParseAddr("192.0.2.4"),
			MAC: MAC{0xdc, 0xa6, 0x32, 0x01, 0x36, 0xc2}, Prefix: "rack-1",
		}},
	}
	if !cfg.Equal(want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", cfg, want)
	}
	if got := cfg.Boards[0].Source; got != filepath.Join(dir, "main.toml")+":24" {
		t.Errorf("board Source = %q; want main.toml:24", got)
	}
	if got := cfg.Boards[0].Prefixes(); !slices.Equal(got, []string{"1234abcd", "dc-a6-32-01-36-c2", "rack-1"}) {
		t.Errorf("Prefixes() = %q", got)
	}
	if got := cfg.Files; !slices.Equal(got, []string{filepath.Join(dir, "main.toml")}) {
		t.Errorf("Files = %q", got)
	}
}

func TestValueForms(t *testing.T) {
	tests := []struct {
		toml  string
		check func(c Config) bool
	}{
		{`[tftp]` + "\n" + `port = 6969`, func(c Config) bool { return c.TFTP.Port == 6969 }},
		{`[tftp]` + "\n" + `port = "6969"`, func(c Config) bool { return c.TFTP.Port == 6969 }},
		{`[tftp]` + "\n" + `port = "tftp"`, func(c Config) bool { return c.TFTP.Port == 69 }},
		{`[tftp]` + "\n" + `timeout = 3`, func(c Config) bool { return c.TFTP.Timeout == 3*time.Second }},
		{`[tftp]` + "\n" + `timeout = "3"`, func(c Config) bool { return c.TFTP.Timeout == 3*time.Second }},
		{`[tftp]` + "\n" + `timeout = "1m30s"`, func(c Config) bool { return c.TFTP.Timeout == 90*time.Second }},
		{`[tftp]` + "\n" + `min-timeout = "100ms"`, func(c Config) bool { return c.TFTP.MinTimeout == 100*time.Millisecond }},
		{`[tftp]` + "\n" + `rollover = 0`, func(c Config) bool { return c.TFTP.Rollover == RolloverZero }},
		{`[tftp]` + "\n" + `rollover = 1`, func(c Config) bool { return c.TFTP.Rollover == RolloverOne }},
		{`[tftp]` + "\n" + `rollover = "1"`, func(c Config) bool { return c.TFTP.Rollover == RolloverOne }},
		{`[tftp]` + "\n" + `rollover = "off"`, func(c Config) bool { return c.TFTP.Rollover == RolloverOff }},
		{`[tftp]` + "\n" + `port-range = [1024, 2048]`, func(c Config) bool { return c.TFTP.PortMin == 1024 && c.TFTP.PortMax == 2048 }},
		{`[tftp]` + "\n" + `port-range = "5000 - 5000"`, func(c Config) bool { return c.TFTP.PortMin == 5000 && c.TFTP.PortMax == 5000 }},
		{`[tftp]` + "\n" + `port-range = ""`, func(c Config) bool { return c.TFTP.PortMin == 0 && c.TFTP.PortMax == 0 }},
		{`[tftp]` + "\n" + `listen = "systemd"`, func(c Config) bool { return c.TFTP.Listen == "systemd" }},
		{`[tftp]` + "\n" + `listen = "stdin"`, func(c Config) bool { return c.TFTP.Listen == "stdin" }},
		{`[tftp]` + "\n" + `listen = "0:0::0"`, func(c Config) bool { return c.TFTP.Listen == "::" }},
		{`[tftp]` + "\n" + `listen = "fe80::1%eth0"`, func(c Config) bool { return c.TFTP.Listen == "fe80::1%eth0" }},
		{`[tftp]` + "\n" + `max-block-size = 8`, func(c Config) bool { return c.TFTP.MaxBlockSize == 8 }},
		{`[tftp]` + "\n" + `max-window-size = 65535`, func(c Config) bool { return c.TFTP.MaxWindowSize == 65535 }},
		{"[board.a]\nserial = \"1\"\nimage = \"/x\"\npartition = 0",
			func(c Config) bool { return c.Boards[0].Partition == 0 && c.Boards[0].Serial == 1 }},
		{"[board.a]\nmac = \"dc:a6:32:01:36:c2\"\nimage = \"/x\"",
			func(c Config) bool { return !c.Boards[0].HasSerial && c.Boards[0].MAC.String() == "dc-a6-32-01-36-c2" }},
		{"[board.a]\nprefix = \"lab\"\nimage = \"/x\"\nip = \"2001:db8::7\"",
			func(c Config) bool {
				return c.Boards[0].Prefix == "lab" && c.Boards[0].IP == netip.MustParseAddr("2001:db8::7")
			}},
		// Inline tables and dotted keys are ordinary TOML and work too.
		{"board.a = { serial = \"1\", image = \"/x\" }",
			func(c Config) bool { return c.Boards[0].Name == "a" && c.Boards[0].Partition == 1 }},
		{"[board]\nb.serial = \"2\"\nb.image = \"/y\"",
			func(c Config) bool { return c.Boards[0].Name == "b" && c.Boards[0].Serial == 2 }},
	}
	for _, tt := range tests {
		cfg, _ := mustLoad(t, map[string]string{"c.toml": tt.toml}, "c.toml")
		if !tt.check(cfg) {
			t.Errorf("Load(%q) = %+v: check failed", tt.toml, cfg)
		}
	}
}

func TestFileOrderAndOverride(t *testing.T) {
	cfg, dir := mustLoad(t, map[string]string{
		"a.toml": `
[tftp]
port = 1000
timeout = "2s"

[board.pi4]
serial = "1234abcd"
image = "old.img"
ip = "192.0.2.1"

[board.pi3]
serial = "0badcafe"
image = "pi3.img"
`,
		"b.toml": `
[tftp]
port = 2000

[board.pi4]
image = "new.img"
partition = 2
`,
	}, "a.toml", "missing.toml", "b.toml")
	if cfg.TFTP.Port != 2000 || cfg.TFTP.Timeout != 2*time.Second {
		t.Errorf("port, timeout = %d, %v; want 2000 from b.toml, 2s from a.toml", cfg.TFTP.Port, cfg.TFTP.Timeout)
	}
	pi4, ok := cfg.Board("pi4")
	want := Board{Name: "pi4", Serial: 0x1234abcd, HasSerial: true, Image: filepath.Join(dir, "new.img"),
		Partition: 2, IP: netip.MustParseAddr("192.0.2.1")}
	if !ok || !pi4.Equal(want) {
		t.Errorf("pi4 = %+v; want merged %+v", pi4, want)
	}
	if pi4.Source != filepath.Join(dir, "a.toml")+":6" {
		t.Errorf("pi4.Source = %q; want first definition a.toml:6", pi4.Source)
	}
	if names := []string{cfg.Boards[0].Name, cfg.Boards[1].Name}; !slices.Equal(names, []string{"pi3", "pi4"}) {
		t.Errorf("boards = %q; want sorted by name", names)
	}
	if _, ok := cfg.Board("pi5"); ok {
		t.Error(`Board("pi5") found a board that does not exist`)
	}
	if !slices.Equal(cfg.Files, []string{filepath.Join(dir, "a.toml"), filepath.Join(dir, "b.toml")}) {
		t.Errorf("Files = %q; want a.toml and b.toml (missing one skipped)", cfg.Files)
	}
}

func TestIncludeDir(t *testing.T) {
	cfg, dir := mustLoad(t, map[string]string{
		"etc/main.toml": `
[tftp]
includedir = "conf.d"
retries = 1
root = "srv"
`,
		"etc/conf.d/20-b.toml":      "[tftp]\nretries = 20\n[board.b]\nserial = \"b\"\nimage = \"images/b.img\"\n",
		"etc/conf.d/10-a.toml":      "[tftp]\nretries = 10\n[board.a]\nserial = \"a\"\nimage = \"/abs/a.img\"\n",
		"etc/conf.d/15-c.toml":      "[board.a]\npartition = 3\n",
		"etc/conf.d/.hidden.toml":   "this is not toml",
		"etc/conf.d/README":         "this is not toml",
		"etc/conf.d/30.toml.dpkg":   "this is not toml",
		"etc/conf.d/sub.toml/x":     "this is not toml",
		"etc/conf.d/sub/inner.toml": "this is not toml",
	}, "etc/main.toml")
	if cfg.TFTP.Retries != 20 {
		t.Errorf("retries = %d; want 20 from the last included file", cfg.TFTP.Retries)
	}
	etc := filepath.Join(dir, "etc")
	if cfg.TFTP.IncludeDir != filepath.Join(etc, "conf.d") || cfg.TFTP.Root != filepath.Join(etc, "srv") {
		t.Errorf("includedir, root = %q, %q; want resolved against %s", cfg.TFTP.IncludeDir, cfg.TFTP.Root, etc)
	}
	a, _ := cfg.Board("a")
	b, _ := cfg.Board("b")
	if a.Image != "/abs/a.img" || a.Partition != 3 {
		t.Errorf("board a = %+v; want absolute image kept, partition 3 from 15-c.toml", a)
	}
	if b.Image != filepath.Join(etc, "conf.d", "images", "b.img") {
		t.Errorf("board b image = %q; want resolved against conf.d", b.Image)
	}
	wantFiles := []string{"etc/main.toml", "etc/conf.d/10-a.toml", "etc/conf.d/15-c.toml", "etc/conf.d/20-b.toml"}
	for i := range wantFiles {
		wantFiles[i] = filepath.Join(dir, wantFiles[i])
	}
	if !slices.Equal(cfg.Files, wantFiles) {
		t.Errorf("Files = %q; want %q", cfg.Files, wantFiles)
	}
}

func TestRequiredFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.toml": ""})
	l := Loader{Paths: []string{filepath.Join(dir, "a.toml"), filepath.Join(dir, "nope.toml")},
		Required: true, LookupEnv: noEnv, LookupPort: fakePorts}
	_, err := l.Load()
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load = %v; want fs.ErrNotExist", err)
	}
	if got := errLines(err, dir); !slices.Equal(got, []string{"D/nope.toml: cannot read: no such file or directory"}) {
		t.Errorf("error = %q", got)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.File != filepath.Join(dir, "nope.toml") {
		t.Errorf("error %v is not an *Error naming the file", err)
	}
}

func TestDefaultPaths(t *testing.T) {
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	sys := []string{"/etc/nobodd-go/nobodd-go.toml", "/usr/local/etc/nobodd-go/nobodd-go.toml"}
	tests := []struct {
		vars map[string]string
		last string
	}{
		{map[string]string{"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/u"}, "/x/cfg/nobodd-go/nobodd-go.toml"},
		{map[string]string{"HOME": "/home/u"}, "/home/u/.config/nobodd-go/nobodd-go.toml"},
		{map[string]string{"XDG_CONFIG_HOME": "", "HOME": "/home/u"}, "/home/u/.config/nobodd-go/nobodd-go.toml"},
		{map[string]string{"XDG_CONFIG_HOME": "rel", "HOME": "/home/u"}, "/home/u/.config/nobodd-go/nobodd-go.toml"},
		{map[string]string{}, ""},
	}
	for _, tt := range tests {
		got := DefaultPaths(env(tt.vars))
		want := sys
		if tt.last != "" {
			want = append(slices.Clone(sys), tt.last)
		}
		if !slices.Equal(got, want) {
			t.Errorf("DefaultPaths(%v) = %q; want %q", tt.vars, got, want)
		}
	}
}

func TestRelativeConfigPath(t *testing.T) {
	dir := writeFiles(t, map[string]string{"sub/c.toml": "[board.a]\nserial = \"1\"\nimage = \"a.img\"\n"})
	t.Chdir(dir)
	cfg, err := (&Loader{Paths: []string{"sub/c.toml"}, Required: true, LookupPort: fakePorts}).Load()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Boards[0].Image, filepath.Join(dir, "sub", "a.img"); got != want {
		t.Errorf("image = %q; want %q, absolute", got, want)
	}
}

// TestTFTPServiceWithoutServicesFile checks that port = "tftp" works on a
// system without /etc/services.
func TestTFTPServiceWithoutServicesFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{"c.toml": "[tftp]\nport = \"tftp\"\n"})
	noServices := func(network, service string) (int, error) { return 0, errors.New("no /etc/services") }
	cfg, err := (&Loader{Paths: []string{filepath.Join(dir, "c.toml")}, LookupPort: noServices}).Load()
	if err != nil || cfg.TFTP.Port != 69 {
		t.Errorf("port = %d, %v; want 69", cfg.TFTP.Port, err)
	}
}
