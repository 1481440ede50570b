package sh

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/internal/imgfs"
	"github.com/nobodd-go/nobodd-go/internal/testpeer"
)

// disk builds an image with a FAT32 partition 1 (a Pi boot tree), a FAT16
// partition 2 and a Linux partition 3, in a fresh directory that is made
// the working directory; the image is called "disk.img" there.
func disk(t *testing.T) *fixture.DiskImage {
	t.Helper()
	d := fixture.NewDisk(t, fixture.Disk{Label: "dos", Partitions: []fixture.Partition{
		{Type: "c", Size: 34 << 20, FAT: &fixture.FAT{Type: 32, Size: 34 << 20, Tree: fixture.PiBoot()}},
		{Type: "e", Size: 4 << 20, FAT: &fixture.FAT{Type: 16, Size: 4 << 20, SectorsPerCluster: 1, Tree: fixture.Tree{
			"docs/readme.txt":             {Data: []byte("read me\n")},
			"docs/Long Name Document.txt": {Data: []byte("long\n")},
			"empty":                       {Dir: true},
		}}},
		{Type: "83", Size: 1 << 20},
	}})
	dir := filepath.Dir(d.Path)
	t.Chdir(dir)
	return d
}

// mdir lists a directory of partition n with mtools: names, sorted.
func mdir(t *testing.T, d *fixture.DiskImage, n int, dir string) []string {
	t.Helper()
	return fixture.Mdir(t, d.Path, d.Part(t, n).Offset, dir)
}

func mtype(t *testing.T, d *fixture.DiskImage, n int, name string) string {
	t.Helper()
	return fixture.Mtype(t, d.Path, d.Part(t, n).Offset, name)
}

// mexists reports whether mtools finds name in partition n.
func mexists(t *testing.T, d *fixture.DiskImage, n int, name string) bool {
	t.Helper()
	p := d.Part(t, n)
	cmd := exec.Command(testpeer.Require(t, "mdir"), "-b", "-i", fmt.Sprintf("%s@@%d", d.Path, p.Offset), "::/"+name)
	cmd.Env = fixture.Env()
	return cmd.Run() == nil
}

// fsckAll runs fsck.fat -n on both FAT partitions.
func fsckAll(t *testing.T, d *fixture.DiskImage) {
	t.Helper()
	for _, n := range []int{1, 2} {
		fixture.Fsck(t, d.Part(t, n).Volume)
	}
}

func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestImageRead(t *testing.T) {
	d := disk(t)
	before := fixture.HashFile(t, "disk.img")

	code, out, errs := run(t, "", "ls", "disk.img:/")
	if want := mdir(t, d, 1, ""); code != 0 || !slices.Equal(lines(out), want) {
		t.Errorf("ls disk.img:/ = %d %q %s\nmdir: %q", code, out, errs, want)
	}
	code, out, _ = run(t, "", "ls", "disk.img:1/overlays")
	if want := mdir(t, d, 1, "overlays"); code != 0 || !slices.Equal(lines(out), want) {
		t.Errorf("ls overlays = %q, mdir %q", out, want)
	}
	code, out, _ = run(t, "", "ls", "disk.img:2/DOCS")
	if want := mdir(t, d, 2, "docs"); code != 0 || !slices.Equal(lines(out), want) {
		t.Errorf("ls disk.img:2/DOCS = %q, mdir %q", out, want)
	}
	code, out, _ = run(t, "", "ls", "-S", "disk.img:1")
	if l := lines(out); code != 0 || len(l) < 2 || l[0] != "kernel8.img" {
		t.Errorf("ls -S = %q", out)
	}
	code, out, _ = run(t, "", "ls", "-l", "disk.img:1/config.txt")
	if want := fmt.Sprintf("-r--r--r-- %d 2023-05-03 12:00 disk.img:1/config.txt\n", len(fixture.PiBoot()["config.txt"].Data)); code != 0 || out != want {
		t.Errorf("ls -l = %q", out)
	}
	code, out, _ = run(t, "", "ls", "-t", "disk.img:1")
	// Newest first: config.txt (2023) and kernel8.img (January 2024) are
	// older than everything else (February 2024).
	if l := lines(out); code != 0 || len(l) < 2 || l[len(l)-1] != "config.txt" || l[len(l)-2] != "kernel8.img" {
		t.Errorf("ls -t = %q", out)
	}

	for _, name := range []string{"config.txt", "kernel8.img", "overlays/README"} {
		code, out, _ = run(t, "", "cat", "disk.img:1/"+name)
		if code != 0 || out != mtype(t, d, 1, name) {
			t.Errorf("cat %s differs from mtype", name)
		}
	}
	if code, _, errs = run(t, "", "cp", "-r", "disk.img:/overlays", "host"); code != 0 {
		t.Fatalf("cp -r out = %d %q", code, errs)
	}
	want := mdir(t, d, 1, "overlays")
	got, err := os.ReadDir("host")
	if err != nil || len(got) != len(want) {
		t.Fatalf("host copy: %v %v", got, err)
	}
	for _, e := range got {
		if b, err := os.ReadFile(filepath.Join("host", e.Name())); err != nil || string(b) != mtype(t, d, 1, "overlays/"+e.Name()) {
			t.Errorf("host/%s differs", e.Name())
		}
	}
	if fixture.HashFile(t, "disk.img") != before {
		t.Error("reading changed the image")
	}
}

func TestImageErrors(t *testing.T) {
	disk(t)
	before := fixture.HashFile(t, "disk.img")
	tests := []struct {
		args []string
		code int
		errs string
	}{
		{[]string{"ls", "disk.img:1/nope"}, 2, "ls: cannot access 'disk.img:1/nope': No such file or directory\n"},
		{[]string{"ls", "disk.img:7/"}, 2, "ls: disk.img: partition 7 not found; image has 1, 2, 3\n"},
		{[]string{"ls", "disk.img:3/"}, 2, "ls: disk.img: partition 3 is not a FAT file system: "},
		{[]string{"ls", "disk.img:x/foo"}, 2, "ls: invalid image path 'disk.img:x/foo': partition \"x\" is not a number; want IMAGE:N/PATH or IMAGE:/PATH\n"},
		{[]string{"ls", "nope.img:1/x"}, 2, "ls: cannot access 'nope.img': No such file or directory\n"},
		{[]string{"cat", "disk.img:1/nope"}, 1, "cat: disk.img:1/nope: No such file or directory\n"},
		{[]string{"cat", "disk.img:1x/a"}, 1, "cat: invalid image path 'disk.img:1x/a'"},
		{[]string{"cat", "disk.img:1/overlays"}, 1, "cat: disk.img:1/overlays: Is a directory\n"},
		{[]string{"cat", "-o", "disk.img:1/CONFIG.txt", "disk.img:1/config.txt"}, 1, "cat: disk.img:1/config.txt: input file is output file\n"},
		{[]string{"cp", "disk.img:9/a", "x"}, 1, "cp: disk.img: partition 9 not found; image has 1, 2, 3\n"},
		{[]string{"cp", "disk.img:1/overlays", "x"}, 1, "cp: -r not specified; omitting directory 'disk.img:1/overlays'\n"},
		{[]string{"cp", "disk.img:1/nope", "x"}, 1, "cp: cannot stat 'disk.img:1/nope': No such file or directory\n"},
		{[]string{"rm", "disk.img:1/nope"}, 1, "rm: cannot remove 'disk.img:1/nope': No such file or directory\n"},
		{[]string{"rm", "disk.img:1/overlays"}, 1, "rm: cannot remove 'disk.img:1/overlays': Is a directory\n"},
		{[]string{"rm", "-r", "disk.img:1/"}, 1, "rm: refusing to remove"},
		{[]string{"rmdir", "disk.img:1/overlays"}, 1, "rmdir: failed to remove 'disk.img:1/overlays': Directory not empty\n"},
		{[]string{"rmdir", "disk.img:1/nope"}, 1, "rmdir: failed to remove 'disk.img:1/nope': No such file or directory\n"},
		{[]string{"rmdir", "disk.img:1/ssh"}, 1, "rmdir: failed to remove 'disk.img:1/ssh': Not a directory\n"},
		{[]string{"rmdir", "disk.img:9/x"}, 1, "rmdir: disk.img: partition 9 not found; image has 1, 2, 3\n"},
		{[]string{"mkdir", "disk.img:q/a"}, 1, "mkdir: invalid image path 'disk.img:q/a'"},
		{[]string{"mv", "disk.img:1/nope", "disk.img:1/x"}, 1, "mv: cannot stat 'disk.img:1/nope': No such file or directory\n"},
		{[]string{"mv", "disk.img:1/overlays", "disk.img:1/overlays/x"}, 1, "mv: cannot move 'disk.img:1/overlays' to a subdirectory of itself, 'disk.img:1/overlays/x'\n"},
		{[]string{"cp", "-r", "disk.img:1/overlays", "disk.img:1/overlays/x"}, 1, "cp: cannot copy a directory, 'disk.img:1/overlays', into itself, 'disk.img:1/overlays/x'\n"},
		{[]string{"cp", "disk.img:1/config.txt", "disk.img:1/CONFIG.TXT"}, 1, "cp: 'disk.img:1/config.txt' and 'disk.img:1/CONFIG.TXT' are the same file\n"},
	}
	for _, tt := range tests {
		code, _, errs := run(t, "", tt.args...)
		if code != tt.code || !strings.HasPrefix(errs, tt.errs) {
			t.Errorf("%q = %d %q, want %d %q", tt.args, code, errs, tt.code, tt.errs)
		}
		if fixture.HashFile(t, "disk.img") != before {
			t.Fatalf("%q changed the image", tt.args)
		}
	}
}

// TestLockedWriter: a second writer fails at once, with the lock message;
// readers are not blocked.
func TestLockedWriter(t *testing.T) {
	disk(t)
	before := fixture.HashFile(t, "disk.img")
	holder, err := imgfs.OpenImage("disk.img", true)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	for _, args := range [][]string{
		{"rm", "disk.img:1/ssh"},
		{"mkdir", "disk.img:2/new"},
		{"cp", "/etc/hostname", "disk.img:1/"},
		{"touch", "disk.img:1/ssh"},
	} {
		code, _, errs := run(t, "", args...)
		if code != 1 || errs != args[0]+": disk.img is being written by another process\n" {
			t.Errorf("%q while locked = %d %q", args, code, errs)
		}
	}
	if code, _, errs := run(t, "", "ls", "disk.img:1/ssh"); code != 0 {
		t.Errorf("ls while locked = %d %q", code, errs)
	}
	if fixture.HashFile(t, "disk.img") != before {
		t.Error("image changed")
	}
}
