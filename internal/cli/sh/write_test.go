package sh

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

// TestImageWrite runs every writing command against the image and checks
// the result with mtools and fsck.fat -n after each.
func TestImageWrite(t *testing.T) {
	d := disk(t)
	write(t, "host/one.txt", "one\n")
	write(t, "host/tree/a.txt", "a\n")
	write(t, "host/tree/deeper/b.bin", strings.Repeat("b", 70000))
	write(t, "host/tree/A Long Name With Spaces.txt", "long\n")

	steps := []struct {
		args  []string
		stdin string
		check func(t *testing.T)
	}{
		{[]string{"cp", "host/one.txt", "disk.img:1/"}, "", func(t *testing.T) {
			if got := mtype(t, d, 1, "one.txt"); got != "one\n" {
				t.Errorf("one.txt = %q", got)
			}
		}},
		{[]string{"cp", "-r", "host/tree", "disk.img:2/"}, "", func(t *testing.T) {
			if got, want := mdir(t, d, 2, "tree"), []string{"A Long Name With Spaces.txt", "a.txt", "deeper"}; !slices.Equal(got, want) {
				t.Errorf("tree = %q, want %q", got, want)
			}
			if got := mtype(t, d, 2, "tree/deeper/b.bin"); got != strings.Repeat("b", 70000) {
				t.Errorf("b.bin: %d bytes", len(got))
			}
		}},
		{[]string{"cp", "-r", "host/tree", "disk.img:2/"}, "", func(t *testing.T) { // merge over itself
			if got := mdir(t, d, 2, "tree"); len(got) != 3 {
				t.Errorf("tree after second copy = %q", got)
			}
		}},
		{[]string{"cp", "disk.img:1/config.txt", "disk.img:2/docs/"}, "", func(t *testing.T) {
			if mtype(t, d, 2, "docs/config.txt") != mtype(t, d, 1, "config.txt") {
				t.Error("image to image copy differs")
			}
		}},
		{[]string{"mv", "disk.img:2/docs/readme.txt", "disk.img:2/docs/Renamed Read Me.txt"}, "", func(t *testing.T) {
			if got := mtype(t, d, 2, "docs/Renamed Read Me.txt"); got != "read me\n" || mexists(t, d, 2, "docs/readme.txt") {
				t.Errorf("rename: %q, old still there: %v", got, mexists(t, d, 2, "docs/readme.txt"))
			}
		}},
		{[]string{"mv", "disk.img:1/one.txt", "disk.img:2/empty"}, "", func(t *testing.T) {
			if got := mtype(t, d, 2, "empty/one.txt"); got != "one\n" || mexists(t, d, 1, "one.txt") {
				t.Errorf("move across partitions: %q", got)
			}
		}},
		{[]string{"mkdir", "-p", "disk.img:1/a/b/c"}, "", func(t *testing.T) {
			if got := mdir(t, d, 1, "a/b"); !slices.Equal(got, []string{"c"}) {
				t.Errorf("mkdir -p: %q", got)
			}
		}},
		{[]string{"mkdir", "disk.img:1/a/b/d"}, "", func(t *testing.T) {
			if got := mdir(t, d, 1, "a/b"); !slices.Equal(got, []string{"c", "d"}) {
				t.Errorf("mkdir: %q", got)
			}
		}},
		{[]string{"rmdir", "disk.img:1/a/b/d"}, "", func(t *testing.T) {
			if got := mdir(t, d, 1, "a/b"); !slices.Equal(got, []string{"c"}) {
				t.Errorf("rmdir: %q", got)
			}
		}},
		{[]string{"touch", "disk.img:1/a/new", "disk.img:1/ssh"}, "", func(t *testing.T) {
			if !mexists(t, d, 1, "a/new") || mtype(t, d, 1, "a/new") != "" {
				t.Error("touch did not make a/new")
			}
			// mdir shows the time in the volume's (UTC) clock: today's date.
			p := d.Part(t, 1)
			out := string(fixture.Run(t, "mdir", "-i", fmt.Sprintf("%s@@%d", d.Path, p.Offset), "::/ssh"))
			if today := time.Now().UTC().Format(time.DateOnly); !strings.Contains(out, today) && !strings.Contains(out, time.Now().UTC().Add(-time.Minute).Format(time.DateOnly)) {
				t.Errorf("touch left the time of ssh: %s", out)
			}
		}},
		{[]string{"cat", "-o", "disk.img:1/a/from-stdin.txt", "-"}, "piped in\n", func(t *testing.T) {
			if got := mtype(t, d, 1, "a/from-stdin.txt"); got != "piped in\n" {
				t.Errorf("cat -o = %q", got)
			}
		}},
		{[]string{"cat", "-o", "disk.img:1/cmdline.txt", "disk.img:2/docs/config.txt"}, "", func(t *testing.T) {
			if mtype(t, d, 1, "cmdline.txt") != mtype(t, d, 1, "config.txt") {
				t.Error("cat -o over an existing file")
			}
		}},
		{[]string{"rm", "disk.img:1/ssh", "disk.img:1/a/new"}, "", func(t *testing.T) {
			if mexists(t, d, 1, "ssh") || mexists(t, d, 1, "a/new") {
				t.Error("rm left files")
			}
		}},
		{[]string{"rm", "-r", "disk.img:1/overlays", "disk.img:1/a"}, "", func(t *testing.T) {
			if mexists(t, d, 1, "overlays") || mexists(t, d, 1, "a") {
				t.Error("rm -r left directories")
			}
		}},
		{[]string{"mv", "disk.img:2/tree", "host/back"}, "", func(t *testing.T) {
			if b, err := os.ReadFile("host/back/deeper/b.bin"); err != nil || len(b) != 70000 || mexists(t, d, 2, "tree") {
				t.Errorf("move out: %d bytes, %v", len(b), err)
			}
		}},
	}
	for _, st := range steps {
		code, _, errs := run(t, st.stdin, st.args...)
		if code != 0 {
			t.Fatalf("%q = %d %q", st.args, code, errs)
		}
		st.check(t)
		fsckAll(t, d)
	}
	code, out, _ := run(t, "", "ls", "disk.img:2/docs")
	if want := mdir(t, d, 2, "docs"); code != 0 || !slices.Equal(lines(out), want) {
		t.Errorf("ls after writes = %q, mdir %q", out, want)
	}
}

// TestImageToImage copies between two image files.
func TestImageToImage(t *testing.T) {
	d := disk(t)
	v := fixture.NewFAT(t, fixture.FAT{Type: 12, Size: 1 << 20, Tree: fixture.Tree{"hello.txt": {Data: []byte("hello\n")}}})
	if err := os.Rename(v.Image, "floppy.img"); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "", "cp", "floppy.img:/hello.txt", "disk.img:1/"); code != 0 {
		t.Fatalf("cp = %d %q", code, errs)
	}
	if got := mtype(t, d, 1, "hello.txt"); got != "hello\n" {
		t.Errorf("hello.txt = %q", got)
	}
	if code, _, errs := run(t, "", "cp", "disk.img:1/config.txt", "floppy.img:/"); code != 0 {
		t.Fatalf("cp back = %d %q", code, errs)
	}
	out := fixture.Run(t, "mtype", "-i", "floppy.img", "::/config.txt")
	if string(out) != mtype(t, d, 1, "config.txt") {
		t.Error("config.txt differs")
	}
	fsckAll(t, d)
	fixture.Run(t, "fsck.fat", "-n", "floppy.img")
}

// TestFullVolume: a copy that cannot fit is refused before anything is
// written.
func TestFullVolume(t *testing.T) {
	disk(t)
	if err := os.WriteFile("big.bin", fixture.Pseudo(1, 5<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	write(t, "dir/small", "small")
	if err := os.WriteFile("dir/big", fixture.Pseudo(2, 5<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	before := fixture.HashFile(t, "disk.img")
	for _, tt := range []struct {
		args []string
		errs string
	}{
		{[]string{"cp", "big.bin", "disk.img:2/"}, "cp: error writing 'disk.img:2/big.bin': No space left on device\n"},
		{[]string{"cp", "-r", "dir", "disk.img:2/"}, "cp: error writing 'disk.img:2/dir': No space left on device\n"},
		{[]string{"mv", "big.bin", "disk.img:2/x"}, "mv: error writing 'disk.img:2/x': No space left on device\n"},
	} {
		code, _, errs := run(t, "", tt.args...)
		if code != 1 || errs != tt.errs {
			t.Errorf("%q = %d %q, want 1 %q", tt.args, code, errs, tt.errs)
		}
		if fixture.HashFile(t, "disk.img") != before {
			t.Fatalf("%q changed the image", tt.args)
		}
	}
	if _, err := os.Stat("big.bin"); err != nil {
		t.Errorf("failed mv lost its source: %v", err)
	}
}

// TestTwoWriters: while "cat -o" holds the image (it waits for standard
// input), a second writer, sh or prep, fails at once with the lock
// message; the first one then finishes and the volume is clean.
func TestTwoWriters(t *testing.T) {
	d := disk(t)
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		done <- Main(t.Context(), []string{"cat", "-o", "disk.img:1/held.txt", "-"}, pr, io.Discard, &stderr)
	}()
	// Once the first write is taken, cat has the lock and the file open.
	if _, err := pw.Write([]byte("first part\n")); err != nil {
		t.Fatal(err)
	}
	code, _, errs := run(t, "", "mkdir", "disk.img:2/x")
	if code != 1 || errs != "mkdir: disk.img is being written by another process\n" {
		t.Errorf("second writer = %d %q", code, errs)
	}
	if _, err := pw.Write([]byte("second part\n")); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 0 {
		t.Fatalf("cat -o = %d %s", code, stderr.String())
	}
	if got := mtype(t, d, 1, "held.txt"); got != "first part\nsecond part\n" {
		t.Errorf("held.txt = %q", got)
	}
	if mexists(t, d, 2, "x") {
		t.Error("the refused mkdir made x")
	}
	fsckAll(t, d)
}

// TestImageWriteErrors: writing commands that fail leave the image as it
// was.
func TestImageWriteErrors(t *testing.T) {
	disk(t)
	before := fixture.HashFile(t, "disk.img")
	for _, tt := range []struct {
		args []string
		errs string
	}{
		{[]string{"mkdir", "disk.img:1/overlays"}, "mkdir: cannot create directory 'disk.img:1/overlays': File exists\n"},
		{[]string{"mkdir", "disk.img:1/a/b"}, "mkdir: cannot create directory 'disk.img:1/a/b': No such file or directory\n"},
		{[]string{"touch", "disk.img:1/a/b"}, "touch: cannot touch 'disk.img:1/a/b': No such file or directory\n"},
		{[]string{"rmdir", "disk.img:2/docs"}, "rmdir: failed to remove 'disk.img:2/docs': Directory not empty\n"},
	} {
		code, _, errs := run(t, "", tt.args...)
		if code != 1 || errs != tt.errs {
			t.Errorf("%q = %d %q, want 1 %q", tt.args, code, errs, tt.errs)
		}
		if fixture.HashFile(t, "disk.img") != before {
			t.Fatalf("%q changed the image", tt.args)
		}
	}
}
