package prep

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/cli/sh"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

// mdirNames lists a directory of partition 1 with mtools.
func mdirNames(t *testing.T, img, dir string) []string {
	t.Helper()
	return fixture.Mdir(t, img, 1<<20, dir)
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestPrepRaspiOS: a Raspberry Pi OS shaped image (MBR) is grown, files
// are removed and copied (merging into overlays), the command line is
// rewritten exactly; a second run leaves the image byte-identical.
func TestPrepRaspiOS(t *testing.T) {
	img := piImage(t, "dos", "raspios-lite.img", raspiosTree(raspiosCmdline))
	src := t.TempDir()
	hostTree(t, src, map[string]string{
		"overlays/extra.dtbo":      "extra overlay",
		"overlays/dwc2.dtbo":       "replaced dwc2",
		"overlays/sub/nested.dtbo": "nested",
		"userconf.txt":             "pi:$6$hash\n",
	})
	args := []string{"-s", "64M", "--nbd-host", "srv.example", "-R", "ssh", "-R", "/initrd.img", "-R", "not-there",
		"-C", filepath.Join(src, "overlays"), "-C", filepath.Join(src, "userconf.txt"), img}
	code, _, errs := prep(t, args...)
	if code != 0 {
		t.Fatalf("prep = %d %s", code, errs)
	}
	want := "ip=dhcp nbdroot=srv.example/raspios-lite root=/dev/nbd0p2 console=serial0,115200 console=tty1 rootfstype=ext4 fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n"
	if got := mtype(t, img, 1, "cmdline.txt"); got != want {
		t.Errorf("cmdline.txt =\n%q\nwant\n%q", got, want)
	}
	if !strings.Contains(errs, "warning: ") || !strings.Contains(errs, "not-there") {
		t.Errorf("no warning for -R not-there: %q", errs)
	}
	root := mdirNames(t, img, "")
	if has(root, "ssh") || has(root, "initrd.img") || !has(root, "userconf.txt") || !has(root, "kernel8.img") {
		t.Errorf("root directory: %q", root)
	}
	ov := mdirNames(t, img, "overlays")
	for _, n := range []string{"extra.dtbo", "dwc2.dtbo", "sub", "vc4-kms-v3d.dtbo", "README"} {
		if !has(ov, n) {
			t.Errorf("overlays lacks %s: %q", n, ov)
		}
	}
	for name, data := range map[string]string{"overlays/dwc2.dtbo": "replaced dwc2", "overlays/sub/nested.dtbo": "nested", "userconf.txt": "pi:$6$hash\n"} {
		if got := mtype(t, img, 1, name); got != data {
			t.Errorf("%s = %q", name, got)
		}
	}
	checkTable(t, img)
	fsckPart(t, img, 1)

	h := fixture.HashFile(t, img)
	code, _, errs = prep(t, args...)
	if code != 0 {
		t.Fatalf("second prep = %d %s", code, errs)
	}
	if fixture.HashFile(t, img) != h {
		t.Error("a second run changed the image")
	}
	if !strings.Contains(errs, "nothing to change") {
		t.Errorf("second run messages: %q", errs)
	}
}

// TestPrepUbuntu: Ubuntu's A/B layout keeps the command line in
// current/cmdline.txt (no newline at its end); on an MBR and a GPT image.
func TestPrepUbuntu(t *testing.T) {
	for _, label := range []string{"dos", "gpt"} {
		t.Run(label, func(t *testing.T) {
			img := piImage(t, label, "ubuntu.img", ubuntuTree(ubuntuCmdline))
			code, _, errs := prep(t, "-v", "-s", "48M", "--nbd-host", "10.0.0.1", "--nbd-name", "lab-pi", img)
			if code != 0 {
				t.Fatalf("prep = %d %s", code, errs)
			}
			for _, want := range []string{"ubuntu.img: boot partition 1, root partition 2\n", "rewrite current/cmdline.txt: \"zswap.enabled=1 "} {
				if !strings.Contains(errs, want) {
					t.Errorf("-v output lacks %q:\n%s", want, errs)
				}
			}
			want := "ip=dhcp nbdroot=10.0.0.1/lab-pi root=/dev/nbd0p2 zswap.enabled=1 zswap.zpool=z3fold zswap.compressor=zstd multipath=off dwc_otg.lpm_enable=0 console=serial0,115200 console=tty1 rootfstype=ext4 rootwait fixrtc quiet splash"
			if got := mtype(t, img, 1, "current/cmdline.txt"); got != want {
				t.Errorf("current/cmdline.txt =\n%q\nwant\n%q", got, want)
			}
			if names := mdirNames(t, img, ""); has(names, "cmdline.txt") {
				t.Errorf("a top-level cmdline.txt appeared: %q", names)
			}
			checkTable(t, img)
			fsckPart(t, img, 1)
			h := fixture.HashFile(t, img)
			if code, _, errs := prep(t, "-s", "48M", "--nbd-host", "10.0.0.1", "--nbd-name", "lab-pi", img); code != 0 || fixture.HashFile(t, img) != h {
				t.Errorf("second run = %d %s; image changed: %v", code, errs, fixture.HashFile(t, img) != h)
			}
		})
	}
}

// TestPrepWhileShWrites: prep fails at once while sh holds the image, and
// the image is fine afterwards.
func TestPrepWhileShWrites(t *testing.T) {
	img := piImage(t, "dos", "pi.img", raspiosTree(raspiosCmdline))
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- sh.Main(t.Context(), []string{"cat", "-o", img + ":1/note.txt", "-"}, pr, io.Discard, io.Discard)
	}()
	if _, err := pw.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	code, _, errs := prep(t, "-s", "64M", "--nbd-host", "h", img)
	if code != 1 || errs != "nobodd-go prep: "+img+" is being written by another process\n" {
		t.Errorf("prep while sh writes = %d %q", code, errs)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 0 {
		t.Fatalf("sh cat -o = %d", code)
	}
	st, err := os.Stat(img)
	if err != nil || st.Size() == 64<<20 {
		t.Errorf("the refused prep grew the image: %v", err)
	}
	if got := mtype(t, img, 1, "note.txt"); got != "held\n" {
		t.Errorf("note.txt = %q", got)
	}
	fsckPart(t, img, 1)
	// Now prep runs.
	if code, _, errs := prep(t, "-q", "-s", "64M", "--nbd-host", "h", img); code != 0 || errs != "" {
		t.Errorf("prep after = %d %q", code, errs)
	}
	fsckPart(t, img, 1)
}

// TestPrepNoSpace: a copy larger than the free space is refused before the
// image is grown or written.
func TestPrepNoSpace(t *testing.T) {
	img := piImage(t, "dos", "pi.img", raspiosTree(raspiosCmdline))
	before := fixture.HashFile(t, img)
	code, _, errs := prep(t, "-s", "64M", "--nbd-host", "h", "-C", bigFile(t, 40<<20), img)
	if code != 1 || !strings.Contains(errs, "pi.img partition 1: not enough space") {
		t.Errorf("prep = %d %q", code, errs)
	}
	if fixture.HashFile(t, img) != before {
		t.Error("the image changed")
	}
}
