package config

import (
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// examplesDir is the repository's examples directory.
const examplesDir = "../examples"

// loadExample loads one file of examples/ with includedir pointed at
// examples/conf.d, as the daemon would with --config FILE --includedir DIR.
// Image paths in the examples do not exist: loading must not need them.
func loadExample(t *testing.T, path string) Config {
	t.Helper()
	l := Loader{
		Paths:      []string{path},
		Required:   true,
		LookupEnv:  noEnv,
		LookupPort: fakePorts,
		Overlay:    Overlay{Settings: map[string]string{"includedir": filepath.Join(examplesDir, "conf.d")}},
	}
	cfg, err := l.Load()
	if err != nil {
		t.Fatalf("example %s does not load:\n%v", path, err)
	}
	return cfg
}

// TestExamplesLoad loads every TOML file under examples/, so the examples
// cannot rot.
func TestExamplesLoad(t *testing.T) {
	var n int
	err := filepath.WalkDir(examplesDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".toml") {
			return err
		}
		n++
		cfg := loadExample(t, path)
		if len(cfg.Boards) < 5 {
			t.Errorf("%s with conf.d: %d boards; want the 5 of conf.d", path, len(cfg.Boards))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 7 {
		t.Errorf("found %d example files; want at least 7", n)
	}
}

// TestExampleFullConfigShowsDefaults checks that examples/nobodd-go.toml,
// which documents every key with its default, really holds the defaults.
func TestExampleFullConfigShowsDefaults(t *testing.T) {
	cfg := loadExample(t, filepath.Join(examplesDir, "nobodd-go.toml"))
	want := Default()
	want.TFTP.IncludeDir = cfg.TFTP.IncludeDir // the one key set to a non-default
	if cfg.TFTP != want.TFTP || cfg.Log != want.Log {
		t.Errorf("nobodd-go.toml settings = %+v %+v; want the defaults %+v %+v", cfg.TFTP, cfg.Log, want.TFTP, want.Log)
	}
	for _, s := range allSettings() {
		if !strings.Contains(readExample(t, "nobodd-go.toml"), "\n"+s.key+" = ") {
			t.Errorf("nobodd-go.toml does not show key %s", s.path())
		}
	}
	for _, k := range allBoardKeys() {
		if !strings.Contains(readExample(t, "nobodd-go.toml"), "\n# "+k.key+" = ") {
			t.Errorf("nobodd-go.toml does not describe board key %s", k.key)
		}
	}
}

func TestExampleBoards(t *testing.T) {
	cfg := loadExample(t, filepath.Join(examplesDir, "systemd-socket.toml"))
	if cfg.TFTP.Listen != ListenSystemd || cfg.Log.Format != "json" {
		t.Errorf("systemd-socket.toml: listen %q, log format %q", cfg.TFTP.Listen, cfg.Log.Format)
	}
	conf, err := filepath.Abs(filepath.Join(examplesDir, "conf.d"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Board{
		"kiosk": {Name: "kiosk", Prefix: "kiosk-1", Image: "/srv/nobodd-go/images/kiosk-boot.vfat", Partition: 0},
		"pi3-desk": {Name: "pi3-desk", Serial: 0x0badcafe, HasSerial: true, Partition: 1,
			Image: "/srv/nobodd-go/images/raspios-lite-armhf.img", IP: netip.MustParseAddr("192.168.1.23")},
		"pi4-lab": {Name: "pi4-lab", Serial: 0x1234abcd, HasSerial: true, Partition: 1,
			Image: "/srv/nobodd-go/images/ubuntu-24.04-preinstalled-server-arm64+raspi.img"},
		"pi4-rack": {Name: "pi4-rack", Serial: 0x5eed1e55, HasSerial: true, Partition: 1,
			MAC: MAC{0xdc, 0xa6, 0x32, 0x01, 0x36, 0xc2}, Image: "/srv/nobodd-go/images/rack-node.img"},
		"pi5-lab": {Name: "pi5-lab", Serial: 0x9a2b3c4d, HasSerial: true, Partition: 1,
			Image: filepath.Join(conf, "images", "raspios-bookworm-arm64.img")},
	}
	if len(cfg.Boards) != len(want) {
		t.Errorf("%d boards; want %d", len(cfg.Boards), len(want))
	}
	for _, b := range cfg.Boards {
		if w, ok := want[b.Name]; !ok || !b.Equal(w) {
			t.Errorf("board %s =\n%+v\nwant\n%+v", b.Name, b, w)
		}
	}
}

func readExample(t *testing.T, name string) string {
	t.Helper()
	data, err := fs.ReadFile(os.DirFS(examplesDir), name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestSystemdSampleConfig loads the sample configuration that ships with the
// systemd units, so that it keeps matching this package's schema.
func TestSystemdSampleConfig(t *testing.T) {
	path := filepath.Join("..", "systemd", "nobodd-go.toml")
	cfg, err := (&Loader{Paths: []string{path}, Required: true, LookupPort: fakePorts}).Load()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if cfg.TFTP.Listen != ListenSystemd {
		t.Errorf("%s: listen = %q; want systemd", path, cfg.TFTP.Listen)
	}
}
