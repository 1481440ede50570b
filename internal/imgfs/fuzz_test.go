package imgfs

import (
	"io/fs"
	"strings"
	"testing"
)

// FuzzParsePath: any argument parses to a host path equal to it, or to an
// image path whose name is clean (no "..", no empty or "." elements but
// the root "."), or to a *SyntaxError.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"img.img:1/a", "img.img:", "a:b", "img.img:x/../..", ":", "img.img:1//./", "x"} {
		f.Add(s)
	}
	isImage := func(s string) bool { return strings.HasSuffix(s, ".img") }
	f.Fuzz(func(t *testing.T, arg string) {
		p, err := ParsePath(arg, isImage)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("ParsePath(%q): %T %v", arg, err, err)
			}
			return
		}
		if p.Arg != arg {
			t.Fatalf("Arg %q != %q", p.Arg, arg)
		}
		if !p.InImage() {
			if p.Name != arg {
				t.Fatalf("host path %q became %q", arg, p.Name)
			}
			return
		}
		clean := Clean(p.Name) == p.Name && !strings.Contains("/"+p.Name+"/", "/../") && !strings.HasPrefix(p.Name, "/")
		if !clean || (p.Name != "." && !fs.ValidPath(strings.ToValidUTF8(p.Name, "x"))) || !strings.HasPrefix(arg, p.Image+":") {
			t.Fatalf("ParsePath(%q) = %+v", arg, p)
		}
	})
}
