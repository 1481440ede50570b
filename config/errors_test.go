package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestBadValues checks the exact message for each kind of bad value. Each
// case is one file, c.toml; the error names it as D/c.toml.
func TestBadValues(t *testing.T) {
	tests := []struct{ toml, want string }{
		{"[tftp]\nlisten = \"localhost\"",
			`D/c.toml:2: tftp: listen "localhost": not an IP address; want an IP address (such as "::" or "0.0.0.0"), "systemd" or "stdin"`},
		{"[tftp]\nlisten = 0",
			`D/c.toml:2: tftp: listen 0: not a string; want an IP address (such as "::" or "0.0.0.0"), "systemd" or "stdin"`},
		{"[tftp]\nport = 0",
			`D/c.toml:2: tftp: port 0: out of range; want a port number 1-65535 or a UDP service name such as "tftp"`},
		{"[tftp]\nport = 65536",
			`D/c.toml:2: tftp: port 65536: out of range; want a port number 1-65535 or a UDP service name such as "tftp"`},
		{"[tftp]\nport = \"nosuch\"",
			`D/c.toml:2: tftp: port "nosuch": unknown service; want a port number 1-65535 or a UDP service name such as "tftp"`},
		{"[tftp]\nport = \"\"", `D/c.toml:2: tftp: port "": empty; want a port number`},
		{"[tftp]\nport = true", `D/c.toml:2: tftp: port true: not a number or a string; want a port number`},
		{"[tftp]\nroot = 1", `D/c.toml:2: tftp: root 1: not a string; want a path, or "" for none`},
		{"[tftp]\ntimeout = \"soon\"",
			`D/c.toml:2: tftp: timeout "soon": not a duration; want a positive duration such as "1s" or "250ms", or a number of seconds`},
		{"[tftp]\ntimeout = 0", `D/c.toml:2: tftp: timeout 0: out of range; want a positive duration`},
		{"[tftp]\ntimeout = \"-1s\"", `D/c.toml:2: tftp: timeout "-1s": not positive; want a positive duration`},
		{"[tftp]\nmin-timeout = -0.5", `D/c.toml:2: tftp: min-timeout -0.5: out of range; want a positive duration`},
		{"[tftp]\ntimeout = true", `D/c.toml:2: tftp: timeout true: not a string or a number; want a positive duration`},
		{"[tftp]\nmin-timeout = \"2s\"",
			`D/c.toml:2: tftp: min-timeout 2s: longer than timeout 1s; want min-timeout <= timeout`},
		{"[tftp]\nretries = 0", `D/c.toml:2: tftp: retries 0: out of range; want an integer from 1 to 1000`},
		{"[tftp]\nretries = \"5\"", `D/c.toml:2: tftp: retries "5": not an integer; want an integer from 1 to 1000`},
		{"[tftp]\nmax-block-size = 7", `D/c.toml:2: tftp: max-block-size 7: out of range; want an integer from 8 to 65464`},
		{"[tftp]\nmax-block-size = 65465", `D/c.toml:2: tftp: max-block-size 65465: out of range; want an integer from 8 to 65464`},
		{"[tftp]\nmax-window-size = 0", `D/c.toml:2: tftp: max-window-size 0: out of range; want an integer from 1 to 65535`},
		{"[tftp]\nmax-window-size = 65536", `D/c.toml:2: tftp: max-window-size 65536: out of range; want an integer from 1 to 65535`},
		{"[tftp]\nmax-transfers = -1", `D/c.toml:2: tftp: max-transfers -1: out of range; want an integer >= 0`},
		{"[tftp]\nrollover = 2", `D/c.toml:2: tftp: rollover 2: not a rollover mode; want 0 (roll over to block 0), 1 (to block 1) or "off"`},
		{"[tftp]\nrollover = false", `D/c.toml:2: tftp: rollover false: not a rollover mode; want 0`},
		{"[tftp]\nsingle-port = \"yes\"", `D/c.toml:2: tftp: single-port "yes": not a boolean; want true or false`},
		{"[tftp]\nport-range = \"2000-1000\"",
			`D/c.toml:2: tftp: port-range "2000-1000": out of range; want "MIN-MAX" or [MIN, MAX] with 1 <= MIN <= MAX <= 65535, or "" for any port`},
		{"[tftp]\nport-range = \"1000\"", `D/c.toml:2: tftp: port-range "1000": not a range; want "MIN-MAX"`},
		{"[tftp]\nport-range = [0, 10]", `D/c.toml:2: tftp: port-range [0, 10]: out of range; want "MIN-MAX"`},
		{"[tftp]\nport-range = [1, 2, 3]", `D/c.toml:2: tftp: port-range [1, 2, 3]: not two numbers; want "MIN-MAX"`},
		{"[tftp]\nport-range = [\"1\", \"2\"]", `D/c.toml:2: tftp: port-range ["1", "2"]: not two integers; want "MIN-MAX"`},
		{"[tftp]\nport-range = 5", `D/c.toml:2: tftp: port-range 5: not a string or an array; want "MIN-MAX"`},
		{"[log]\nformat = \"xml\"", `D/c.toml:2: log: format "xml": unknown format; want "text" or "json"`},
		{"[log]\nverbose = 1", `D/c.toml:2: log: verbose 1: not a boolean; want true or false`},
		{"tftp = 1", `D/c.toml:1: tftp: not a table; want [tftp]`},
		{"\n# comment\n[board.pi4]\nserial = \"xyz\"\nimage = \"x\"",
			`D/c.toml:4: board "pi4": serial "xyz": not hex; want 8 hex digits (or 16 with prefix 10000000)`},
		{"[board.pi4]\nserial = 12345678\nimage = \"x\"",
			`D/c.toml:2: board "pi4": serial 12345678: not a string; write it in quotes, serial = "1234abcd"; want 8 hex digits (or 16 with prefix 10000000)`},
		{"[board.pi4]\nserial = \"1\"\nimage = \"\"", `D/c.toml:3: board "pi4": image "": empty; want the path of a disk image`},
		{"[board.pi4]\nserial = \"1\"\nimage = \"x\"\npartition = -1",
			`D/c.toml:4: board "pi4": partition -1: out of range; want an integer >= 0`},
		{"[board.pi4]\nserial = \"1\"\nimage = \"x\"\nip = \"10.0.0.300\"",
			`D/c.toml:4: board "pi4": ip "10.0.0.300": not an IP address; want an IPv4 or IPv6 address, or "" for any client`},
		{"[board.pi4]\nserial = \"1\"\nimage = \"x\"\nmac = \"dc:a6\"",
			`D/c.toml:4: board "pi4": mac "dc:a6": not a MAC address; want a 6-byte MAC such as dc:a6:32:01:36:c2 or dc-a6-32-01-36-c2`},
		{"[board.pi4]\nserial = \"1\"\nimage = \"x\"\nprefix = \"a/b\"",
			`D/c.toml:4: board "pi4": prefix "a/b": contains '/'; want 1 to 32 printable ASCII characters, no '/' or '\', not "." or ".."`},
		{"[board.pi4]\nimage = \"x\"",
			`D/c.toml:1: board "pi4": no serial, mac or prefix; want at least one to match the board's requests`},
		{"[board.pi4]\nserial = \"1\"",
			`D/c.toml:1: board "pi4": no image; want image = "path/to/disk.img"`},
		{"[board]\npi4 = \"x\"",
			`D/c.toml:2: board "pi4": not a table; want [board.pi4] with serial, image and other keys`},
		{"board = 1", `D/c.toml:1: board: not a table; want one [board.NAME] table per board`},
		{"[[board]]\nserial = \"1\"", `D/c.toml:1: board: [[board]] is not supported; want one [board.NAME] table per board`},
		// Unknown keys, at every level.
		{"\n\nfoo = 1", `D/c.toml:3: unknown key "foo"; want [tftp], [log] and [board.NAME] tables`},
		{"[tftp]\nport = 69\nprot = 69",
			`D/c.toml:3: tftp: unknown key "prot"; want one of listen, port, root, timeout, min-timeout, retries, max-block-size, max-window-size, rollover, max-transfers, single-port, port-range, includedir, writable, shutdown-timeout, cache-size, batch-scheduling`},
		{"[log]\nlevel = \"debug\"", `D/c.toml:2: log: unknown key "level"; want one of format, verbose`},
		{"[board.pi4]\nserial = \"1\"\nimage = \"x\"\n\"part ition\" = 1",
			`D/c.toml:4: board "pi4": unknown key "part ition"; want one of serial, image, partition, ip, mac, prefix`},
		// Syntax errors carry the parser's line.
		{"[tftp]\nport = 69\nretries = \n", `D/c.toml:3: not valid TOML: expected value but found '\n' instead`},
		{"[tftp]\nport = 69\nport = 70\n", `D/c.toml:3: not valid TOML: Key 'tftp.port' has already been defined.`},
	}
	for _, tt := range tests {
		dir := writeFiles(t, map[string]string{"c.toml": tt.toml})
		_, err := load(t, dir, "c.toml")
		got := errLines(err, dir)
		if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
			t.Errorf("Load(%q):\n got %q\nwant %q", tt.toml, got, tt.want)
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("Load(%q) = %v; want an *Error", tt.toml, err)
		}
	}
}

func TestErrorKeys(t *testing.T) {
	dir := writeFiles(t, map[string]string{"c.toml": `
[tftp]
port = 0
[board.pi4]
serial = "xyz"
image = "x"
`})
	_, err := load(t, dir, "c.toml")
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("%v is not an *Error", e)
		}
		keys = append(keys, ce.Key)
	}
	if want := []string{"tftp.port", "board.pi4.serial"}; !slices.Equal(keys, want) {
		t.Errorf("keys = %q; want %q", keys, want)
	}
}

func TestAllErrorsSorted(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"b.toml": `
[board.pi4]
serial = "nothex"
image = "x"
[tftp]
retries = 0
timeout = "x"
`,
		"a.toml": `
[tftp]
zzz = 1
port = 0

[board.aaa]
ip = "192.0.2.1"

[board.bbb]
ip = "nope"
`,
	})
	// b.toml is read first, so its errors come first, each file by line.
	_, err := load(t, dir, "b.toml", "a.toml")
	want := []string{
		`D/b.toml:3: board "pi4": serial "nothex": not hex; want 8 hex digits (or 16 with prefix 10000000)`,
		`D/b.toml:6: tftp: retries 0: out of range; want an integer from 1 to 1000`,
		`D/b.toml:7: tftp: timeout "x": not a duration; want a positive duration such as "1s" or "250ms", or a number of seconds`,
		`D/a.toml:3: tftp: unknown key "zzz"; want one of listen, port, root, timeout, min-timeout, retries, max-block-size, max-window-size, rollover, max-transfers, single-port, port-range, includedir, writable, shutdown-timeout, cache-size, batch-scheduling`,
		`D/a.toml:4: tftp: port 0: out of range; want a port number 1-65535 or a UDP service name such as "tftp"`,
		`D/a.toml:6: board "aaa": no serial, mac or prefix; want at least one to match the board's requests`,
		`D/a.toml:6: board "aaa": no image; want image = "path/to/disk.img"`,
		`D/a.toml:10: board "bbb": ip "nope": not an IP address; want an IPv4 or IPv6 address, or "" for any client`,
	}
	if got := errLines(err, dir); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDuplicates(t *testing.T) {
	tests := []struct {
		files map[string]string
		want  []string
	}{
		{map[string]string{
			"a.toml": "[board.one]\nserial = \"100000001234ABCD\"\nimage = \"x\"\n",
			"b.toml": "\n[board.two]\nimage = \"y\"\nserial = \"1234abcd\"\n",
		}, []string{`D/b.toml:4: board "two": serial 1234abcd: already used by board "one" at D/a.toml:2`}},
		{map[string]string{
			"a.toml": "[board.one]\nmac = \"dc:a6:32:01:36:c2\"\nimage = \"x\"\n",
			"b.toml": "[board.two]\nmac = \"DC-A6-32-01-36-C2\"\nimage = \"y\"\n",
		}, []string{`D/b.toml:2: board "two": mac dc-a6-32-01-36-c2: already used by board "one" at D/a.toml:2`}},
		{map[string]string{
			"a.toml": "[board.one]\nprefix = \"Lab\"\nimage = \"x\"\n",
			"b.toml": "[board.two]\nprefix = \"lab\"\nimage = \"y\"\n",
		}, []string{`D/b.toml:2: board "two": prefix "lab": already used by board "one" at D/a.toml:2`}},
		{map[string]string{
			"a.toml": "[board.one]\nserial = \"1234abcd\"\nimage = \"x\"\n",
			"b.toml": "[board.two]\nprefix = \"1234ABCD\"\nimage = \"y\"\n",
		}, []string{`D/b.toml:2: board "two": prefix "1234ABCD": already used by board "one" at D/a.toml:2 as its serial`}},
	}
	for _, tt := range tests {
		dir := writeFiles(t, tt.files)
		_, err := load(t, dir, "a.toml", "b.toml")
		if got := errLines(err, dir); !slices.Equal(got, tt.want) {
			t.Errorf("errors = %q; want %q", got, tt.want)
		}
	}
	// The same board redefined by name is a merge, not a duplicate.
	dir := writeFiles(t, map[string]string{
		"a.toml": "[board.one]\nserial = \"1234abcd\"\nimage = \"x\"\n",
		"b.toml": "[board.one]\nserial = \"1234ABCD\"\nimage = \"y\"\n",
	})
	if _, err := load(t, dir, "a.toml", "b.toml"); err != nil {
		t.Errorf("redefining a board by name: %v", err)
	}
}

func TestIncludeErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.toml":          "[tftp]\nincludedir = \"conf.d\"\n",
		"conf.d/a.toml":      "[tftp]\nincludedir = \"more\"\n",
		"conf.d/b.toml":      "[board.x]\nserial = \"1\"\nimage = 5\n",
		"other.toml":         "[tftp]\nincludedir = \"/nonexistent/nobodd-go-test\"\n",
		"conf.d/more/c.toml": "",
	})
	_, err := load(t, dir, "main.toml")
	want := []string{
		`D/conf.d/a.toml:2: tftp: includedir "more": not allowed in an included file; want it in a main configuration file`,
		`D/conf.d/b.toml:3: board "x": image 5: not a string; want the path of a disk image`,
	}
	if got := errLines(err, dir); !slices.Equal(got, want) {
		t.Errorf("errors = %q; want %q", got, want)
	}
	_, err = load(t, dir, "other.toml")
	want = []string{`D/other.toml:2: tftp: includedir "/nonexistent/nobodd-go-test": cannot read: no such file or directory`}
	if got := errLines(err, dir); !slices.Equal(got, want) {
		t.Errorf("errors = %q; want %q", got, want)
	}
}

func TestSelfPrefixIsNoDuplicate(t *testing.T) {
	dir := writeFiles(t, map[string]string{"c.toml": "[board.a]\nserial = \"1234abcd\"\nprefix = \"1234ABCD\"\nimage = \"x\"\n"})
	if _, err := load(t, dir, "c.toml"); err != nil {
		t.Errorf("a board whose prefix equals its own serial: %v", err)
	}
}

func TestOverlayBoardChecked(t *testing.T) {
	l := Loader{Paths: []string{}, LookupPort: fakePorts,
		Overlay: Overlay{Boards: []Board{{Name: "x", Prefix: "a/b", Image: "i", Partition: -2}}}}
	_, err := l.Load()
	want := []string{
		`command line: --board x: prefix "a/b": contains '/'; want 1 to 32 printable ASCII characters, no '/' or '\', not "." or ".."`,
		`command line: --board x: partition -2: out of range; want an integer >= 0`,
	}
	if got := errLines(err, ""); !slices.Equal(got, want) {
		t.Errorf("errors = %q; want %q", got, want)
	}
}
