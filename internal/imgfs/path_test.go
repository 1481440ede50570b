package imgfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestParsePath(t *testing.T) {
	images := map[string]bool{"img.img": true, "/abs/pi.img": true, "we:ird.img": true}
	isImage := func(s string) bool { return images[s] }
	tests := []struct {
		arg  string
		want Path
	}{
		{"img.img:1/boot/cmdline.txt", Path{Image: "img.img", Part: 1, HasPart: true, Name: "boot/cmdline.txt"}},
		{"img.img:/cmdline.txt", Path{Image: "img.img", Name: "cmdline.txt"}},
		{"img.img:", Path{Image: "img.img", Name: "."}},
		{"img.img:/", Path{Image: "img.img", Name: ".", Slash: true}},
		{"img.img:2", Path{Image: "img.img", Part: 2, HasPart: true, Name: "."}},
		{"img.img:0/x", Path{Image: "img.img", Part: 0, HasPart: true, Name: "x"}},
		{"img.img:1/a/../../b/", Path{Image: "img.img", Part: 1, HasPart: true, Name: "b", Slash: true}},
		{"img.img:1//a//b", Path{Image: "img.img", Part: 1, HasPart: true, Name: "a/b"}},
		{"/abs/pi.img:1/x", Path{Image: "/abs/pi.img", Part: 1, HasPart: true, Name: "x"}},
		{"we:ird.img:3/y", Path{Image: "we:ird.img", Part: 3, HasPart: true, Name: "y"}},
		{"missing.img:1/x", Path{Image: "missing.img", Part: 1, HasPart: true, Name: "x"}},
		{"missing.img:/x", Path{Image: "missing.img", Name: "x"}},
		{"host/file", Path{Name: "host/file"}},
		{"host/dir/", Path{Name: "host/dir/", Slash: true}},
		{"/", Path{Name: "/"}},
		{"a:b", Path{Name: "a:b"}},
		{":1/x", Path{Name: ":1/x"}},
		{"-", Path{Name: "-"}},
	}
	for _, tt := range tests {
		got, err := ParsePath(tt.arg, isImage)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tt.arg, err)
			continue
		}
		tt.want.Arg = tt.arg
		if got != tt.want {
			t.Errorf("ParsePath(%q) = %+v, want %+v", tt.arg, got, tt.want)
		}
	}
	for _, arg := range []string{"img.img:x/foo", "img.img:1x/foo", "img.img:-1/a", "img.img:99999999999999999999/a", "img.img:boot"} {
		_, err := ParsePath(arg, isImage)
		var se *SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, fs.ErrInvalid) || se.Arg != arg {
			t.Errorf("ParsePath(%q) error = %v, want a *SyntaxError", arg, err)
		}
	}
}

func TestParsePathStat(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "a.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := ParsePath(img+":2/x", nil)
	if err != nil || p.Image != img || p.Part != 2 {
		t.Fatalf("ParsePath = %+v, %v", p, err)
	}
	// A directory before the colon is not an image.
	p, err = ParsePath(dir+":b", nil)
	if err != nil || p.InImage() {
		t.Fatalf("ParsePath(dir:b) = %+v, %v", p, err)
	}
}

func TestJoin(t *testing.T) {
	p := Path{Arg: "i.img:1/d", Image: "i.img", Part: 1, HasPart: true, Name: "d"}
	if q := p.Join("f"); q.Arg != "i.img:1/d/f" || q.Name != "d/f" {
		t.Errorf("Join = %+v", q)
	}
	r := Path{Arg: "i.img:", Image: "i.img", Name: "."}
	if q := r.Join("f"); q.Arg != "i.img:/f" && q.Name != "f" {
		t.Errorf("Join root = %+v", q)
	}
	h := Path{Arg: "dir/", Name: "dir/", Slash: true}
	if q := h.Join("f"); q.Arg != "dir/f" || q.Name != "dir/f" {
		t.Errorf("Join host = %+v", q)
	}
}

func TestDir(t *testing.T) {
	d := Dir(t.TempDir())
	if err := d.Mkdir("sub"); err != nil {
		t.Fatal(err)
	}
	w, err := d.Create("sub/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove("sub"); err == nil {
		t.Error("Remove of a non-empty directory succeeded")
	} else if pe := new(fs.PathError); !errors.As(err, &pe) || pe.Path != "sub" {
		t.Errorf("Remove error %v does not name sub", err)
	}
	if err := d.Rename("sub/f", "g"); err != nil {
		t.Fatal(err)
	}
	if b, err := fs.ReadFile(d, "g"); err != nil || string(b) != "hi" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if _, err := d.Stat("../x"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Stat(../x) = %v, want fs.ErrInvalid", err)
	}
	if _, err := d.Stat("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(nope) = %v", err)
	}
}
