package config

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestReloadDiff(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"v1.toml": `
[tftp]
port = 69
[board.kept]
serial = "1"
image = "/kept.img"
[board.changed]
serial = "2"
image = "/old.img"
[board.removed]
serial = "3"
image = "/removed.img"
`,
		// The same boards in a different order, one moved to another
		// file: not a change.
		"v2.toml": `
[tftp]
port = 6969
timeout = "1s"
[log]
verbose = true
[board.added]
serial = "4"
image = "/added.img"
[board.changed]
serial = "2"
image = "/new.img"
`,
		"v2-kept.toml": "\n\n[board.kept]\nimage = \"/kept.img\"\nserial = \"00000001\"\n",
	})
	old, err := load(t, dir, "v1.toml")
	if err != nil {
		t.Fatal(err)
	}
	again, err := load(t, dir, "v1.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !old.Equal(again) || !Diff(old, again).Empty() {
		t.Errorf("loading the same file twice: Equal false or Diff %+v", Diff(old, again))
	}
	cur, err := load(t, dir, "v2.toml", "v2-kept.toml")
	if err != nil {
		t.Fatal(err)
	}
	if old.Equal(cur) {
		t.Fatal("Equal reports different configurations equal")
	}
	d := Diff(old, cur)
	if want := []string{"tftp.port", "log.verbose"}; !slices.Equal(d.Settings, want) {
		t.Errorf("Settings = %q; want %q (timeout is set but unchanged)", d.Settings, want)
	}
	names := func(bs []Board) (n []string) {
		for _, b := range bs {
			n = append(n, b.Name)
		}
		return n
	}
	if got := names(d.Added); !slices.Equal(got, []string{"added"}) {
		t.Errorf("Added = %q", got)
	}
	if got := names(d.Removed); !slices.Equal(got, []string{"removed"}) {
		t.Errorf("Removed = %q", got)
	}
	if len(d.Changed) != 1 || d.Changed[0].Old.Image != "/old.img" || d.Changed[0].New.Image != "/new.img" {
		t.Errorf("Changed = %+v; want changed /old.img → /new.img", d.Changed)
	}
	if d.Empty() {
		t.Error("Empty() = true for a diff with changes")
	}
	// The reverse diff swaps added and removed.
	r := Diff(cur, old)
	if !slices.Equal(names(r.Added), []string{"removed"}) || !slices.Equal(names(r.Removed), []string{"added"}) {
		t.Errorf("reverse diff = %+v", r)
	}
}

func TestDiffEverySetting(t *testing.T) {
	a := Default()
	b := a
	b.TFTP = TFTP{Listen: "x", Port: 1, Root: "r", Timeout: time.Hour, MinTimeout: time.Minute, Retries: 9,
		MaxBlockSize: 9, MaxWindowSize: 9, Rollover: RolloverOff, MaxTransfers: 9, SinglePort: true,
		PortMin: 9, PortMax: 10, IncludeDir: "i", Writable: true, ShutdownTimeout: time.Second}
	b.Log = Log{Format: "json", Verbose: true}
	d := Diff(a, b)
	var want []string
	for _, s := range allSettings() {
		want = append(want, s.path())
	}
	if !slices.Equal(d.Settings, want) {
		t.Errorf("Settings = %q; want every setting %q", d.Settings, want)
	}
}

func TestBoardEqualIgnoresSource(t *testing.T) {
	a := Board{Name: "a", Serial: 1, HasSerial: true, Image: "x", Partition: 1, Source: "f:1"}
	b := a
	b.Source = "g:2"
	if !a.Equal(b) {
		t.Error("boards differing only in Source are not Equal")
	}
	b.Partition = 2
	if a.Equal(b) {
		t.Error("boards with different partitions are Equal")
	}
}

func TestStrings(t *testing.T) {
	for r, want := range map[Rollover]string{RolloverZero: "0", RolloverOne: "1", RolloverOff: "off", 7: "Rollover(7)"} {
		if got := r.String(); got != want {
			t.Errorf("Rollover(%d).String() = %q; want %q", int(r), got, want)
		}
	}
	b := Board{Name: "pi", Serial: 0xabc, HasSerial: true, MAC: MAC{1, 2, 3, 4, 5, 6}, Prefix: "p",
		Image: "/x.img", Partition: 2, IP: netip.MustParseAddr("::1")}
	want := `pi: serial=00000abc mac=01-02-03-04-05-06 prefix="p" image="/x.img" partition=2 ip=::1`
	if got := b.String(); got != want {
		t.Errorf("Board.String() = %q; want %q", got, want)
	}
}

// TestUnsetInLaterFile checks that "" removes an optional value set earlier.
func TestUnsetInLaterFile(t *testing.T) {
	cfg, _ := mustLoad(t, map[string]string{
		"a.toml": "[tftp]\nroot = \"/srv\"\nport-range = \"1-2\"\n[board.a]\nserial = \"1\"\nimage = \"x\"\nip = \"::1\"\nmac = \"dc:a6:32:01:36:c2\"\nprefix = \"p\"\n",
		"b.toml": "[tftp]\nroot = \"\"\nport-range = \"\"\n[board.a]\nip = \"\"\nmac = \"\"\nprefix = \"\"\n",
	}, "a.toml", "b.toml")
	want := Board{Name: "a", Serial: 1, HasSerial: true, Image: cfg.Boards[0].Image, Partition: 1}
	if !cfg.Boards[0].Equal(want) || cfg.TFTP.Root != "" || cfg.TFTP.PortMin != 0 {
		t.Errorf("after unsetting: %+v %+v", cfg.TFTP, cfg.Boards[0])
	}
}
