package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Defaults. These are the values Load starts from; a key that no file and no
// flag sets keeps its default. They match the defaults of tftp.Server, so a
// zero field handed to the server means the same thing.
const (
	DefaultListen        = "::" // all addresses, IPv4 and IPv6 (dual-stack)
	DefaultPort          = 69   // the "tftp" service
	DefaultTimeout       = time.Second
	DefaultMinTimeout    = 100 * time.Millisecond
	DefaultRetries       = 5
	DefaultMaxBlockSize  = 65464 // RFC 2348 maximum
	DefaultMaxWindowSize = 64
	// DefaultShutdownTimeout is how long transfers in flight may finish
	// after SIGTERM or SIGINT.
	DefaultShutdownTimeout = 30 * time.Second
	// DefaultCacheSize is the budget of the cache of boot-file chunks
	// shared by every image: 16 MiB holds a Pi 4's boot set.
	DefaultCacheSize = 16 << 20
	DefaultPartition = 1 // the first partition: the Pi OS boot partition
	DefaultLogFormat = "text"
)

// Special values of TFTP.Listen.
const (
	ListenSystemd = "systemd" // take the socket from systemd socket activation (LISTEN_FDS)
	ListenStdin   = "stdin"   // take the socket on fd 0, as inetd passes it
)

// Limits on numeric settings.
const (
	MinBlockSize  = 8     // RFC 2348
	MaxBlockSize  = 65464 // RFC 2348
	MaxWindowSize = 65535 // RFC 7440
)

// Config is the whole configuration of the daemon: a plain value that can be
// loaded again (on SIGHUP) and compared with Equal or Diff.
type Config struct {
	TFTP TFTP
	Log  Log
	// Boards, sorted by Name.
	Boards []Board
	// Files lists the configuration files that were read, in order. It is
	// for logging and is not compared by Equal or Diff.
	Files []string
}

// TFTP holds the [tftp] table: how the server listens and how it transfers.
type TFTP struct {
	// Listen is an IP address to bind ("::" for every IPv4 and IPv6
	// address, "0.0.0.0" for IPv4 only), or ListenSystemd, or ListenStdin.
	// Empty means DefaultListen.
	Listen string
	// Port is the UDP port; 0 means DefaultPort. Ignored for "systemd" and
	// "stdin", which hand over a bound socket.
	Port int
	// Root is a directory served to requests that no board matches; "" serves
	// nothing but the boards. Relative paths in files are made absolute
	// against the file's directory. The directory need not exist at load time.
	Root string
	// Timeout is the ceiling of the retransmit timeout.
	Timeout time.Duration
	// MinTimeout is the floor of the adaptive retransmit timer.
	MinTimeout time.Duration
	// Retries is how often a packet is sent again before a transfer fails.
	Retries int
	// MaxBlockSize caps the blksize option; larger requests are clamped.
	MaxBlockSize int
	// MaxWindowSize caps the windowsize option.
	MaxWindowSize int
	// Rollover is the block number after 65535.
	Rollover Rollover
	// MaxTransfers limits concurrent transfers; 0 means unlimited.
	MaxTransfers int
	// SinglePort runs every transfer through the listening socket.
	SinglePort bool
	// PortMin and PortMax bound the ports of transfer sockets; both 0 means
	// any port the kernel picks.
	PortMin, PortMax int
	// IncludeDir is a directory whose *.toml files are read, in sorted
	// order, after the main configuration files; "" means none.
	IncludeDir string
	// Writable accepts uploads (WRQ) into Root: create-only, never
	// overwriting, never creating directories.
	Writable bool
	// ShutdownTimeout is how long transfers in flight may finish after
	// SIGTERM or SIGINT before they are cancelled.
	ShutdownTimeout time.Duration
	// CacheSize is the byte budget of the cache of boot-file chunks read
	// from images, shared by every board; 0 turns the cache off.
	CacheSize int64
	// BatchScheduling runs the daemon's threads under SCHED_BATCH (Linux):
	// a thread woken by a packet waits for the task running on its CPU to
	// block or use up its slice instead of preempting it, and then takes
	// every packet that arrived meanwhile. Threads under a policy other
	// than SCHED_OTHER are left alone.
	BatchScheduling bool
}

// Log holds the [log] table.
type Log struct {
	// Format is "text" or "json"; empty means DefaultLogFormat.
	Format string
	// Verbose logs at debug level (every request, the Pi's early-terminate
	// probes) instead of info.
	Verbose bool
}

// Rollover says what block number follows 65535 in a long transfer. The zero
// value rolls over to 0, which is what the Raspberry Pi firmware expects.
type Rollover int

// Rollover values. In TOML: rollover = 0, 1 or "off" (also "0" and "1").
const (
	RolloverZero Rollover = iota // 65535 is followed by 0
	RolloverOne                  // 65535 is followed by 1
	RolloverOff                  // no rollover: files over 65535 blocks fail
)

// String returns the TOML spelling of r: "0", "1" or "off".
func (r Rollover) String() string {
	switch r {
	case RolloverZero:
		return "0"
	case RolloverOne:
		return "1"
	case RolloverOff:
		return "off"
	}
	return fmt.Sprintf("Rollover(%d)", int(r))
}

// Board is one Raspberry Pi (or anything that boots like one): which requests
// it owns and the image that answers them.
//
// A board owns the TFTP paths under each of its prefixes: its serial number
// (when HasSerial), its MAC (when not zero) and its custom Prefix (when not
// empty). At least one is set.
type Board struct {
	// Name is the board's table name, NAME in [board.NAME].
	Name string
	// Serial is the board's serial number, valid when HasSerial.
	Serial    Serial
	HasSerial bool
	// Image is the path of the disk image (or block device). It is opened
	// by the daemon when a request arrives, so it need not exist at load time.
	Image string
	// Partition is the partition number holding the boot files, 1-based; 0
	// means the image is a bare FAT file system with no partition table.
	Partition int
	// IP, when valid, limits the board to requests from that client address.
	// IPv4-mapped IPv6 addresses are stored unmapped.
	IP netip.Addr
	// MAC is the prefix the Pi uses with TFTP_PREFIX=2; zero means none.
	MAC MAC
	// Prefix is the custom prefix the Pi uses with TFTP_PREFIX=1
	// (TFTP_PREFIX_STR); "" means none.
	Prefix string
	// Source is where the board is defined, for messages: "file:line" of
	// its first [board.NAME] header, or `--board "VALUE"` for a board from
	// the command line. It is not compared by Equal.
	Source string
}

// Prefixes returns the first path elements the board answers to: its serial
// number, its MAC in dash form and its custom prefix, each when set.
func (b Board) Prefixes() []string {
	var p []string
	if b.HasSerial {
		p = append(p, b.Serial.String())
	}
	if !b.MAC.IsZero() {
		p = append(p, b.MAC.String())
	}
	if b.Prefix != "" {
		p = append(p, b.Prefix)
	}
	return p
}

// Equal reports whether b and o configure the same board; Source is ignored.
func (b Board) Equal(o Board) bool {
	b.Source, o.Source = "", ""
	return b == o
}

// String describes the board in one line for logs.
func (b Board) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s:", b.Name)
	if b.HasSerial {
		fmt.Fprintf(&s, " serial=%s", b.Serial)
	}
	if !b.MAC.IsZero() {
		fmt.Fprintf(&s, " mac=%s", b.MAC)
	}
	if b.Prefix != "" {
		fmt.Fprintf(&s, " prefix=%q", b.Prefix)
	}
	fmt.Fprintf(&s, " image=%q partition=%d", b.Image, b.Partition)
	if b.IP.IsValid() {
		fmt.Fprintf(&s, " ip=%s", b.IP)
	}
	return s.String()
}

// Default returns the configuration used when nothing is configured: every
// default filled in and no boards.
func Default() Config {
	return Config{
		TFTP: TFTP{
			Listen:          DefaultListen,
			Port:            DefaultPort,
			Timeout:         DefaultTimeout,
			MinTimeout:      DefaultMinTimeout,
			Retries:         DefaultRetries,
			MaxBlockSize:    DefaultMaxBlockSize,
			MaxWindowSize:   DefaultMaxWindowSize,
			ShutdownTimeout: DefaultShutdownTimeout,
			CacheSize:       DefaultCacheSize,
			BatchScheduling: true,
		},
		Log: Log{Format: DefaultLogFormat},
	}
}

// Board returns the board called name.
func (c Config) Board(name string) (Board, bool) {
	i, ok := slices.BinarySearchFunc(c.Boards, name, func(b Board, n string) int {
		return strings.Compare(b.Name, n)
	})
	if !ok {
		return Board{}, false
	}
	return c.Boards[i], true
}

// Equal reports whether c and o configure the daemon identically. Files and
// each board's Source are ignored.
func (c Config) Equal(o Config) bool {
	return c.TFTP == o.TFTP && c.Log == o.Log &&
		slices.EqualFunc(c.Boards, o.Boards, Board.Equal)
}

// Changes is what a reload changed: see Diff.
type Changes struct {
	// Settings lists the [tftp] and [log] keys whose values differ, as
	// "tftp.port", "log.verbose" and so on, in a fixed order.
	Settings []string
	// Added and Removed boards, and boards whose definition changed, by name.
	Added, Removed []Board
	Changed        []BoardChange
}

// BoardChange is one board defined both before and after a reload, differently.
type BoardChange struct {
	Old, New Board
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool {
	return len(c.Settings) == 0 && len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Changed) == 0
}

// Diff compares an old configuration with the current one, for a reload's
// log. Boards are matched by name.
func Diff(old, cur Config) Changes {
	var ch Changes
	for _, s := range allSettings() {
		if s.get(old) != s.get(cur) {
			ch.Settings = append(ch.Settings, s.path())
		}
	}
	i, j := 0, 0
	for i < len(old.Boards) || j < len(cur.Boards) {
		switch {
		case j == len(cur.Boards) || i < len(old.Boards) && old.Boards[i].Name < cur.Boards[j].Name:
			ch.Removed = append(ch.Removed, old.Boards[i])
			i++
		case i == len(old.Boards) || cur.Boards[j].Name < old.Boards[i].Name:
			ch.Added = append(ch.Added, cur.Boards[j])
			j++
		default:
			if !old.Boards[i].Equal(cur.Boards[j]) {
				ch.Changed = append(ch.Changed, BoardChange{old.Boards[i], cur.Boards[j]})
			}
			i++
			j++
		}
	}
	return ch
}
