package config

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestKeyLines(t *testing.T) {
	src := `# comment with key = "value" and [fake.table]
top = 1

[tftp] # comment [x]
listen = "::"   # trailing
port = 69
root = """
not.a.key = 1
[not.a.table]
"""
timeout = '''
x = y
'''
retries = [
  1, # comment ]
  "a]b",
  [2, 3],
]
"quoted key" = "v\" = still value"
'lit.key' = 'x'
dotted.inner = 5

[ board . "pi 4" ]
serial = "1"
image = "x"

[board.inline]
x = { a = 1, b = { c = "}" } }
after = true
"escaped\"key" = 1
date = 1979-05-27 07:32:00Z

[[arr]]
k = 1
[[arr]]
k = 2
j = 3
`
	var doc map[string]any
	if _, err := toml.Decode(src, &doc); err != nil {
		t.Fatalf("test document is not valid TOML: %v", err)
	}
	want := map[string]int{
		"top":                       2,
		"tftp":                      4,
		"tftp.listen":               5,
		"tftp.port":                 6,
		"tftp.root":                 7,
		"tftp.timeout":              11,
		"tftp.retries":              14,
		"tftp.quoted key":           19,
		"tftp.lit.key":              20,
		"tftp.dotted":               21,
		"tftp.dotted.inner":         21,
		"board":                     23,
		"board.pi 4":                23,
		"board.pi 4.serial":         24,
		"board.pi 4.image":          25,
		"board.inline":              27,
		"board.inline.x":            28,
		"board.inline.x.a":          28,
		"board.inline.x.b.c":        28,
		"board.inline.after":        29,
		"board.inline.escaped\"key": 30,
		"board.inline.date":         31,
		"arr":                       33,
		"arr.k":                     34,
		"arr.j":                     37,
	}
	got := keyLines(src)
	for k, line := range want {
		key := strings.ReplaceAll(k, ".", keySep)
		if k == "tftp.lit.key" {
			key = joinKey("tftp", "lit.key")
		}
		if got[key] != line {
			t.Errorf("line of %q = %d; want %d", k, got[key], line)
		}
	}
	for _, bogus := range []string{"not", "fake", "x", "tftp" + keySep + "not", "tftp" + keySep + "x"} {
		if l, ok := got[bogus]; ok {
			t.Errorf("keyLines found key %q at line %d inside a string or comment", bogus, l)
		}
	}
}

// TestKeyLinesNoPanic feeds the scanner malformed input: it must end and
// not panic, whatever it finds.
func TestKeyLinesNoPanic(t *testing.T) {
	for _, src := range []string{"", "[", "[[", "a", "a =", `a = "`, `a = """`, "a = [", "a = {", "a = {b", `"`, "'", "=", "]]]", "a.=1", "\"\\"} {
		keyLines(src)
	}
}

func FuzzKeyLines(f *testing.F) {
	f.Add("[tftp]\nport = 69\n")
	f.Add("a = { b = [1, {c = '''x'''}] }\n")
	f.Fuzz(func(t *testing.T, src string) {
		lines := keyLines(src)
		max := strings.Count(src, "\n") + 1
		for k, l := range lines {
			if l < 1 || l > max {
				t.Fatalf("key %q at line %d of %d", k, l, max)
			}
		}
	})
}

// TestKeyLinesDeep checks that line counting survives values nested deeper
// than the scanner follows, and multi-line strings with escapes.
func TestKeyLinesDeep(t *testing.T) {
	deep := strings.Repeat("[", 40) + "\n\"]#\",\n# ]]]\n" + strings.Repeat("]", 40)
	src := "a = " + deep + "\nb = \"\"\"\nq \\\"\"\" r\n\"\"\"\nc = 1\n"
	var doc map[string]any
	if _, err := toml.Decode(src, &doc); err != nil {
		t.Fatalf("test document is not valid TOML: %v", err)
	}
	got := keyLines(src)
	if got["a"] != 1 || got["b"] != 5 || got["c"] != 8 {
		t.Errorf("lines a, b, c = %d, %d, %d; want 1, 5, 8", got["a"], got["b"], got["c"])
	}
}
