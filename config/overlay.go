package config

import (
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Overlay holds settings given on the command line. They win over every
// configuration file, key by key, and are applied again on every Load, so a
// reload keeps them.
//
// The command-line package records only the flags the user actually set
// (flag.FlagSet.Visit) and copies their text here; the values are checked
// by Load with the same rules as the files.
type Overlay struct {
	// Settings maps a flag name to its value as typed, for example
	// "port" → "6969" or "verbose" → "true". The flag names are the [tftp]
	// keys ("listen", "port", "max-block-size", ...) plus "log-format" and
	// "verbose" for the [log] table; OverlayKeys lists them. Relative paths
	// (root, includedir) are left relative to the working directory.
	Settings map[string]string
	// Boards come from --board flags (see ParseBoardFlag). A board given on
	// the command line replaces every file board with the same name or
	// with a serial, MAC or prefix in common.
	Boards []Board
}

// OverlayFromFlags returns an Overlay with the flags of fs that the user set
// (fs.Visit) and that name a setting (OverlayKeys), as their Value.String()
// text. Flags that are not settings, such as --config and --board, are left
// to the caller; --board values go into Boards through ParseBoardFlag. Call
// it after fs.Parse.
func OverlayFromFlags(fs *flag.FlagSet) Overlay {
	o := Overlay{Settings: make(map[string]string)}
	fs.Visit(func(f *flag.Flag) {
		if _, ok := findFlag(f.Name); ok {
			o.Settings[f.Name] = f.Value.String()
		}
	})
	return o
}

// OverlayKeys returns the flag names Overlay.Settings accepts.
func OverlayKeys() []string {
	var k []string
	for _, s := range allSettings() {
		k = append(k, s.flagName())
	}
	return k
}

func findFlag(name string) (setting, bool) {
	for _, s := range allSettings() {
		if s.flagName() == name {
			return s, true
		}
	}
	return setting{}, false
}

// fromFlag turns a flag's text into the value a TOML file would hold, so
// that one parser serves both. Text that does not convert is passed on as a
// string, and the parser reports it.
func (s setting) fromFlag(text string) any {
	switch s.kind {
	case kindInt:
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n
		}
	case kindBool:
		if b, err := strconv.ParseBool(text); err == nil {
			return b
		}
	}
	return text // port, rollover and durations accept numbers in strings
}

const boardFlagWant = "want SERIAL,IMAGE[,PARTITION[,IP]]"

// ParseBoardFlag parses the value of a --board flag,
// SERIAL,IMAGE[,PARTITION[,IP]]: a serial number as ParseSerial accepts it,
// the image path (relative to the working directory; it may not contain a
// comma), the partition (default 1; 0 for an image without a partition
// table) and a client address the board is limited to. The board is named
// after its serial number, e.g. "1234abcd". Errors quote the flag value.
func ParseBoardFlag(value string) (Board, error) {
	fail := func(format string, args ...any) (Board, error) {
		return Board{}, fmt.Errorf("--board %q: %s", value, fmt.Sprintf(format, args...))
	}
	f := strings.Split(value, ",")
	if len(f) < 2 || len(f) > 4 {
		return fail("%d fields; %s", len(f), boardFlagWant)
	}
	serial, err := parseSerial(f[0])
	if err != nil {
		return fail("serial %q: %v", f[0], err)
	}
	b := Board{
		Name:      serial.String(),
		Serial:    serial,
		HasSerial: true,
		Image:     f[1],
		Partition: DefaultPartition,
		Source:    fmt.Sprintf("--board %q", value),
	}
	if b.Image == "" {
		return fail("empty image; %s", boardFlagWant)
	}
	if len(f) > 2 && f[2] != "" {
		n, err := strconv.Atoi(f[2])
		if err != nil || n < 0 {
			return fail("partition %q: not a partition number; want an integer >= 0 (0 for an image without partitions)", f[2])
		}
		b.Partition = n
	}
	if len(f) > 3 && f[3] != "" {
		a, err := netip.ParseAddr(f[3])
		if err != nil {
			return fail("ip %q: not an IP address; want an IPv4 or IPv6 address", f[3])
		}
		b.IP = a.Unmap()
	}
	return b, nil
}
