package config

import (
	"flag"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseBoardFlag(t *testing.T) {
	tests := []struct {
		in   string
		want Board
		err  string
	}{
		{in: "1234ABCD,pi4.img", want: Board{Name: "1234abcd", Serial: 0x1234abcd, HasSerial: true, Image: "pi4.img", Partition: 1}},
		{in: "100000001234abcd,/img/pi.img,2", want: Board{Name: "1234abcd", Serial: 0x1234abcd, HasSerial: true, Image: "/img/pi.img", Partition: 2}},
		{in: "abc,x.img,0,192.0.2.9", want: Board{Name: "00000abc", Serial: 0xabc, HasSerial: true, Image: "x.img", Partition: 0,
			IP: netip.MustParseAddr("192.0.2.9")}},
		{in: "abc,x.img,,2001:db8::1", want: Board{Name: "00000abc", Serial: 0xabc, HasSerial: true, Image: "x.img", Partition: 1,
			IP: netip.MustParseAddr("2001:db8::1")}},
		{in: "abc,x.img,3,::ffff:10.0.0.1", want: Board{Name: "00000abc", Serial: 0xabc, HasSerial: true, Image: "x.img", Partition: 3,
			IP: netip.MustParseAddr("10.0.0.1")}},
		{in: "1234abcd", err: `--board "1234abcd": 1 fields; want SERIAL,IMAGE[,PARTITION[,IP]]`},
		{in: "a,b,1,::1,extra", err: `--board "a,b,1,::1,extra": 5 fields; want SERIAL,IMAGE[,PARTITION[,IP]]`},
		{in: "xyz,pi.img", err: `--board "xyz,pi.img": serial "xyz": not hex; want 8 hex digits (or 16 with prefix 10000000)`},
		{in: ",pi.img", err: `--board ",pi.img": serial "": empty; want 8 hex digits`},
		{in: "1234abcd,", err: `--board "1234abcd,": empty image; want SERIAL,IMAGE[,PARTITION[,IP]]`},
		{in: "1234abcd,x.img,-1", err: `--board "1234abcd,x.img,-1": partition "-1": not a partition number; want an integer >= 0 (0 for an image without partitions)`},
		{in: "1234abcd,x.img,one", err: `--board "1234abcd,x.img,one": partition "one": not a partition number`},
		{in: "1234abcd,x.img,1,pi4.lan", err: `--board "1234abcd,x.img,1,pi4.lan": ip "pi4.lan": not an IP address; want an IPv4 or IPv6 address`},
	}
	for _, tt := range tests {
		got, err := ParseBoardFlag(tt.in)
		if tt.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
				t.Errorf("ParseBoardFlag(%q) error = %v; want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseBoardFlag(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if want := `--board "` + tt.in + `"`; got.Source != want {
			t.Errorf("Source = %q; want %q", got.Source, want)
		}
	}
}

func TestOverlayWins(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.toml": `
[tftp]
port = 1000
retries = 3
timeout = "5s"
single-port = true
includedir = "conf.d"

[log]
verbose = false

[board.pi4]
serial = "1234abcd"
image = "file.img"

[board.other]
serial = "0badcafe"
mac = "dc:a6:32:01:36:c2"
image = "other.img"
`,
		"conf.d/a.toml":  "[tftp]\nretries = 4\n",
		"flagdir/b.toml": "[tftp]\nretries = 9\n[board.fromflagdir]\nserial = \"f\"\nimage = \"f.img\"\n",
	})
	pi, err := ParseBoardFlag("1234ABCD,flag.img,2")
	if err != nil {
		t.Fatal(err)
	}
	l := Loader{
		Paths:      []string{filepath.Join(dir, "main.toml")},
		LookupEnv:  noEnv,
		LookupPort: fakePorts,
		Overlay: Overlay{
			Settings: map[string]string{
				"port":        "tftp",
				"timeout":     "250ms",
				"single-port": "false",
				"verbose":     "true",
				"log-format":  "json",
				"rollover":    "1",
				"includedir":  filepath.Join(dir, "flagdir"),
			},
			Boards: []Board{pi},
		},
	}
	cfg, err := l.Load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TFTP.Port != 69 || cfg.TFTP.Timeout != 250*time.Millisecond || cfg.TFTP.SinglePort ||
		cfg.TFTP.Rollover != RolloverOne || !cfg.Log.Verbose || cfg.Log.Format != "json" {
		t.Errorf("flags did not win: %+v %+v", cfg.TFTP, cfg.Log)
	}
	if cfg.TFTP.Retries != 9 {
		t.Errorf("retries = %d; want 9 from the --includedir directory, not conf.d", cfg.TFTP.Retries)
	}
	var names []string
	for _, b := range cfg.Boards {
		names = append(names, b.Name)
	}
	if want := []string{"1234abcd", "fromflagdir", "other"}; !slices.Equal(names, want) {
		t.Errorf("boards = %q; want %q (--board replaces the file's pi4)", names, want)
	}
	if b, _ := cfg.Board("1234abcd"); b.Image != "flag.img" || b.Partition != 2 {
		t.Errorf("flag board = %+v", b)
	}

	// A flag board replaces the file board with the same serial, whatever
	// its name; two flag boards with one serial are an error.
	dup, err := ParseBoardFlag("0badcafe,y.img")
	if err != nil {
		t.Fatal(err)
	}
	l.Overlay = Overlay{Boards: []Board{dup}}
	cfg, err = l.Load()
	if err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, b := range cfg.Boards {
		names = append(names, b.Name)
	}
	if want := []string{"0badcafe", "pi4"}; !slices.Equal(names, want) {
		t.Errorf("boards = %q; want %q (--board replaces the file's board with its serial)", names, want)
	}
	l.Overlay = Overlay{Boards: []Board{dup, dup}}
	_, err = l.Load()
	want := []string{`command line: --board "0badcafe,y.img": serial 0badcafe: already used by --board "0badcafe,y.img"`}
	if got := errLines(err, dir); !slices.Equal(got, want) {
		t.Errorf("errors = %q; want %q", got, want)
	}
}

func TestOverlayErrors(t *testing.T) {
	l := Loader{
		Paths:      []string{},
		LookupPort: fakePorts,
		Overlay: Overlay{
			Settings: map[string]string{
				"port":           "nosuch",
				"retries":        "many",
				"max-block-size": "4",
				"verbose":        "loud",
				"colour":         "yes",
			},
			Boards: []Board{{Name: "hand-made", Image: "x"}},
		},
	}
	_, err := l.Load()
	want := []string{
		`command line: --board hand-made: no serial, mac or prefix; want at least one to match the board's requests`,
		`command line: --colour: not a configuration flag; want one of listen, port, root, timeout, min-timeout, retries, max-block-size, max-window-size, rollover, max-transfers, single-port, port-range, includedir, writable, shutdown-timeout, cache-size, batch-scheduling, log-format, verbose`,
		`command line: --max-block-size "4": out of range; want an integer from 8 to 65464`,
		`command line: --port "nosuch": unknown service; want a port number 1-65535 or a UDP service name such as "tftp"`,
		`command line: --retries "many": not an integer; want an integer from 1 to 1000`,
		`command line: --verbose "loud": not a boolean; want true or false`,
	}
	got := errLines(err, "")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOverlayKeys(t *testing.T) {
	keys := OverlayKeys()
	for _, k := range []string{"listen", "port", "max-block-size", "log-format", "verbose", "includedir"} {
		if !slices.Contains(keys, k) {
			t.Errorf("OverlayKeys() = %q; missing %q", keys, k)
		}
	}
	if slices.Contains(keys, "format") {
		t.Errorf("OverlayKeys() = %q; [log] format must be log-format", keys)
	}
}

func TestOverlayFromFlags(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.String("port", "69", "")
	fs.Duration("timeout", time.Second, "")
	fs.Int("retries", 5, "")
	fs.Bool("verbose", false, "")
	fs.String("log-format", "text", "")
	fs.String("config", "", "")
	fs.Func("board", "", func(string) error { return nil })
	args := []string{"--timeout", "1500ms", "--verbose", "--config", "x.toml", "--board", "1,x", "--log-format=json"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	o := OverlayFromFlags(fs)
	want := map[string]string{"timeout": "1.5s", "verbose": "true", "log-format": "json"}
	if !maps.Equal(o.Settings, want) {
		t.Errorf("Settings = %v; want %v (only set flags that are settings)", o.Settings, want)
	}
	cfg, err := (&Loader{Paths: []string{}, LookupPort: fakePorts, Overlay: o}).Load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TFTP.Timeout != 1500*time.Millisecond || !cfg.Log.Verbose || cfg.Log.Format != "json" || cfg.TFTP.Retries != 5 {
		t.Errorf("config from flags = %+v %+v", cfg.TFTP, cfg.Log)
	}
}
