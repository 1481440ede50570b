package prep

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/config"
	"github.com/nobodd-go/nobodd-go/internal/imgfs"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"16GB", 16 << 30}, {"16G", 16 << 30}, {"16GiB", 16 << 30}, {"16gb", 16 << 30}, {"16 GB", 16 << 30},
		{"512M", 512 << 20}, {"512MB", 512 << 20}, {"512MiB", 512 << 20},
		{"1K", 1024}, {"1kib", 1024}, {"2T", 2 << 40}, {"123456789", 123456789}, {"100B", 100}, {"0", 0},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "G", "-1G", "1.5G", "16XB", "abc", "9999999999999T", "0x10"} {
		if n, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", bad, n)
		}
	}
}

func TestRewriteCmdline(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"raspios", "console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootfstype=ext4 fsck.repair=yes rootwait\n",
			"ip=dhcp nbdroot=srv.example/pi root=/dev/nbd0p2 console=serial0,115200 console=tty1 rootfstype=ext4 fsck.repair=yes rootwait\n"},
		{"ubuntu", "zswap.enabled=1 zswap.zpool=z3fold multipath=off dwc_otg.lpm_enable=0 console=serial0,115200 console=tty1 root=LABEL=writable rootfstype=ext4 rootwait fixrtc quiet splash",
			"ip=dhcp nbdroot=srv.example/pi root=/dev/nbd0p2 zswap.enabled=1 zswap.zpool=z3fold multipath=off dwc_otg.lpm_enable=0 console=serial0,115200 console=tty1 rootfstype=ext4 rootwait fixrtc quiet splash"},
		{"replaces", "ip=10.0.0.2::10.0.0.1:255.255.255.0 nbdroot=old/x quiet root=/dev/nbd0p3\n",
			"ip=dhcp nbdroot=srv.example/pi root=/dev/nbd0p2 quiet\n"},
		{"keeps lookalikes", "rootwait rootfstype=ext4 nbdroot2=x noip=1\n",
			"ip=dhcp nbdroot=srv.example/pi root=/dev/nbd0p2 rootwait rootfstype=ext4 nbdroot2=x noip=1\n"},
		{"empty", "", "ip=dhcp nbdroot=srv.example/pi root=/dev/nbd0p2"},
		{"blank lines kept", "  a   b \t c\n\nsecond line root=x\n", "ip=dhcp nbdroot=srv.example/pi root=/dev/nbd0p2 a b c\n\nsecond line root=x\n"},
		{"crlf", "a root=x\r\n", "ip=dhcp nbdroot=srv.example/pi root=/dev/nbd0p2 a\r\n"},
	}
	for _, tt := range tests {
		got := RewriteCmdline(tt.in, "srv.example", "pi", 2)
		if got != tt.want {
			t.Errorf("%s: got\n%q\nwant\n%q", tt.name, got, tt.want)
		}
		if again := RewriteCmdline(got, "srv.example", "pi", 2); again != got {
			t.Errorf("%s: not idempotent:\n%q\n%q", tt.name, got, again)
		}
	}
	if got := RewriteCmdline("a\n", "h", "n", 5); got != "ip=dhcp nbdroot=h/n root=/dev/nbd0p5 a\n" {
		t.Errorf("partition 5: %q", got)
	}
}

func TestTFTPDConfLoads(t *testing.T) {
	dir := t.TempDir()
	s, err := config.ParseSerial("1234ABCD")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"raspios-lite", "ubuntu 24.04", `we"ird\name`} {
		img := filepath.Join(dir, "images", "x y.img")
		conf := TFTPDConf(name, s, img, 3)
		path := filepath.Join(dir, "nobodd-go.toml")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		l := config.Loader{Paths: []string{path}, Required: true}
		cfg, err := l.Load()
		if err != nil {
			t.Fatalf("%s:\n%s\n%v", name, conf, err)
		}
		b, ok := cfg.Board(name)
		if !ok {
			t.Fatalf("board %q missing from %+v", name, cfg)
		}
		if !b.HasSerial || b.Serial != s || b.Image != img || b.Partition != 3 {
			t.Errorf("board = %+v", b)
		}
	}
}

func TestNBDConf(t *testing.T) {
	if got, want := NBDConf("pi", "/srv/pi.img"), "[pi]\nexportname = /srv/pi.img\n"; got != want {
		t.Errorf("NBDConf = %q, want %q", got, want)
	}
	for _, bad := range []string{"", "a b", "a/b", "[x]", "a\nb", "generic"} {
		if checkNBDName("--nbd-name", bad) == nil {
			t.Errorf("checkNBDName(%q) accepted it", bad)
		}
	}
}

// hostTree writes files under dir.
func hostTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot lists every file under a file system with its content ("/" for
// directories).
func snapshot(t *testing.T, fsys fs.FS) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if d.IsDir() {
			out[p] = "/"
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPlanHost runs remove, copy (with a merge) and the command line
// rewrite on a host directory standing in for the boot partition.
func TestPlanHost(t *testing.T) {
	boot := t.TempDir()
	hostTree(t, boot, map[string]string{
		"cmdline.txt":          "console=tty1 root=/dev/mmcblk0p2 rootwait\n",
		"config.txt":           "[all]\n",
		"overlays/a.dtbo":      "A",
		"overlays/b.dtbo":      "B",
		"overlays/deep/c.dtbo": "C",
		"old/x":                "x",
		"old/y/z":              "z",
		"keep/":                "",
	})
	src := t.TempDir()
	hostTree(t, src, map[string]string{
		"overlays/b.dtbo":      "B2",
		"overlays/new.dtbo":    "N",
		"overlays/deep/d.dtbo": "D",
		"overlays/empty/":      "",
		"ssh":                  "",
	})
	fsys := imgfs.Dir(boot)
	pl := newPlanner(fsys, "boot")
	for _, r := range []string{"old", "/config.txt", "missing"} {
		if err := pl.remove(r); err != nil {
			t.Fatal(err)
		}
	}
	if len(pl.warn) != 1 || !strings.Contains(pl.warn[0], "missing") {
		t.Errorf("warnings = %q", pl.warn)
	}
	for _, c := range []string{filepath.Join(src, "overlays"), filepath.Join(src, "ssh")} {
		if err := pl.copy(c); err != nil {
			t.Fatal(err)
		}
	}
	name, err := findCmdline(pl, "")
	if err != nil || name != "cmdline.txt" {
		t.Fatalf("findCmdline = %q, %v", name, err)
	}
	rw := func(s string) string { return RewriteCmdline(s, "h", "n", 2) }
	if err := pl.cmdline(name, rw); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	a := &applier{fsys: fsys, where: "boot", log: func(f string, args ...any) { log.WriteString(f + "\n") }}
	if err := a.apply(pl.ops); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"cmdline.txt":          "ip=dhcp nbdroot=h/n root=/dev/nbd0p2 console=tty1 rootwait\n",
		"overlays":             "/",
		"overlays/a.dtbo":      "A",
		"overlays/b.dtbo":      "B2",
		"overlays/new.dtbo":    "N",
		"overlays/deep":        "/",
		"overlays/deep/c.dtbo": "C",
		"overlays/deep/d.dtbo": "D",
		"overlays/empty":       "/",
		"ssh":                  "",
		"keep":                 "/",
	}
	got := snapshot(t, os.DirFS(boot))
	if len(got) != len(want) {
		t.Errorf("tree = %q\nwant %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// Copied files keep their host times.
	st, err := os.Stat(filepath.Join(src, "overlays/new.dtbo"))
	if err != nil {
		t.Fatal(err)
	}
	if st2, err := os.Stat(filepath.Join(boot, "overlays/new.dtbo")); err != nil || !st2.ModTime().Equal(st.ModTime()) {
		t.Errorf("mtime %v, want %v (%v)", st2.ModTime(), st.ModTime(), err)
	}

	// A second plan with the same arguments changes nothing.
	pl2 := newPlanner(fsys, "boot")
	for _, r := range []string{"old", "/config.txt", "missing"} {
		if err := pl2.remove(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{filepath.Join(src, "overlays"), filepath.Join(src, "ssh")} {
		if err := pl2.copy(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := pl2.cmdline(name, rw); err != nil {
		t.Fatal(err)
	}
	if len(pl2.ops) != 0 {
		t.Errorf("second plan is not empty: %v", pl2.ops)
	}
}

func TestPlanConflicts(t *testing.T) {
	boot := t.TempDir()
	hostTree(t, boot, map[string]string{"cmdline.txt": "x", "dir/f": "f", "file": "data"})
	src := t.TempDir()
	hostTree(t, src, map[string]string{"dir": "a file now", "file/inner": "dir now"})
	pl := newPlanner(imgfs.Dir(boot), "boot")
	if err := pl.copy(filepath.Join(src, "dir")); err == nil || !strings.Contains(err.Error(), "cannot overwrite directory") {
		t.Errorf("file over directory: %v", err)
	}
	if err := pl.copy(filepath.Join(src, "file")); err == nil || !strings.Contains(err.Error(), "cannot overwrite non-directory") {
		t.Errorf("directory over file: %v", err)
	}
	if err := pl.copy(filepath.Join(src, "nope")); err == nil {
		t.Error("copy of a missing file planned")
	}
	if err := pl.remove("/"); err == nil {
		t.Error("removal of the root planned")
	}
	// After -R dir, a file may take its name.
	pl = newPlanner(imgfs.Dir(boot), "boot")
	if err := pl.remove("dir"); err != nil {
		t.Fatal(err)
	}
	if err := pl.copy(filepath.Join(src, "dir")); err != nil {
		t.Errorf("copy after remove: %v", err)
	}
	if _, err := findCmdline(newPlanner(imgfs.Dir(t.TempDir()), "empty"), ""); err == nil {
		t.Error("findCmdline found a command line in an empty directory")
	}
}

func TestFindCmdlineCurrent(t *testing.T) {
	boot := t.TempDir()
	hostTree(t, boot, map[string]string{"current/cmdline.txt": "x", "config.txt": "os_prefix=current/\n"})
	name, err := findCmdline(newPlanner(imgfs.Dir(boot), "boot"), "")
	if err != nil || name != "current/cmdline.txt" {
		t.Errorf("findCmdline = %q, %v", name, err)
	}
}

func TestProgress(t *testing.T) {
	var out bytes.Buffer
	r := &progressReader{r: bytes.NewReader(make([]byte, 100<<20)), total: 100 << 20, name: "big", w: &out}
	n, err := io.CopyBuffer(io.Discard, r, make([]byte, 1<<20))
	if err != nil || n != 100<<20 {
		t.Fatal(n, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 10 || lines[9] != "copying big: 100% (100 of 100 MiB)" {
		t.Errorf("progress lines: %q", lines)
	}
}

func TestSameTime(t *testing.T) {
	host := time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC)
	if !sameTime(time.Date(2024, 1, 2, 3, 4, 4, 0, time.UTC), host) {
		t.Error("FAT time rounded down to 2 s not matched")
	}
	if sameTime(time.Date(2024, 1, 2, 3, 4, 2, 0, time.UTC), host) {
		t.Error("time 3 s earlier matched")
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"a.img", "b.img"}, {"--tftpd-conf", "-", "a.img"}, {"-s", "12XB", "a.img"}, {"-v", "-q", "a.img"}, {"--bogus", "a.img"}} {
		var stdout, stderr bytes.Buffer
		if code := Main(t.Context(), args, &stdout, &stderr); code != 2 {
			t.Errorf("Main(%q) = %d, want 2; stderr %s", args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := Main(t.Context(), []string{"--nbd-host", "h", filepath.Join(t.TempDir(), "nope.img")}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "nope.img") {
		t.Errorf("missing image: %d %s", code, stderr.String())
	}
}
