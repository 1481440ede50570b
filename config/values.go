package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// parseEnv is what value parsers need besides the value.
type parseEnv struct {
	dir        string // directory relative paths resolve against; "" leaves them as they are
	lookupPort func(network, service string) (int, error)
}

func (e parseEnv) path(p string) string {
	if p == "" || e.dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.dir, p)
}

// setting describes one key of the [tftp] or [log] table.
type setting struct {
	table, key string
	flag       string                               // command-line flag name, for Overlay
	kind       kind                                 // how a flag's string becomes a value
	parse      func(v any, e parseEnv) (any, error) // checks one value, returns its typed form
	set        func(c *Config, v any)
	get        func(c Config) any
}

func (s setting) path() string { return s.table + "." + s.key }

type kind int

const (
	kindString kind = iota
	kindInt
	kindBool
)

// allSettings lists every [tftp] and [log] key, in the order of the
// documentation. It is a function so that the table cannot be modified.
func allSettings() []setting {
	return []setting{
		{table: "tftp", key: "listen", parse: parseListen,
			set: func(c *Config, v any) { c.TFTP.Listen = v.(string) },
			get: func(c Config) any { return c.TFTP.Listen }},
		{table: "tftp", key: "port", parse: parsePort,
			set: func(c *Config, v any) { c.TFTP.Port = v.(int) },
			get: func(c Config) any { return c.TFTP.Port }},
		{table: "tftp", key: "root", parse: parsePath,
			set: func(c *Config, v any) { c.TFTP.Root = v.(string) },
			get: func(c Config) any { return c.TFTP.Root }},
		{table: "tftp", key: "timeout", parse: parseDuration,
			set: func(c *Config, v any) { c.TFTP.Timeout = v.(time.Duration) },
			get: func(c Config) any { return c.TFTP.Timeout }},
		{table: "tftp", key: "min-timeout", parse: parseDuration,
			set: func(c *Config, v any) { c.TFTP.MinTimeout = v.(time.Duration) },
			get: func(c Config) any { return c.TFTP.MinTimeout }},
		{table: "tftp", key: "retries", kind: kindInt, parse: intRange(1, 1000),
			set: func(c *Config, v any) { c.TFTP.Retries = v.(int) },
			get: func(c Config) any { return c.TFTP.Retries }},
		{table: "tftp", key: "max-block-size", kind: kindInt, parse: intRange(MinBlockSize, MaxBlockSize),
			set: func(c *Config, v any) { c.TFTP.MaxBlockSize = v.(int) },
			get: func(c Config) any { return c.TFTP.MaxBlockSize }},
		{table: "tftp", key: "max-window-size", kind: kindInt, parse: intRange(1, MaxWindowSize),
			set: func(c *Config, v any) { c.TFTP.MaxWindowSize = v.(int) },
			get: func(c Config) any { return c.TFTP.MaxWindowSize }},
		{table: "tftp", key: "rollover", parse: parseRollover,
			set: func(c *Config, v any) { c.TFTP.Rollover = v.(Rollover) },
			get: func(c Config) any { return c.TFTP.Rollover }},
		{table: "tftp", key: "max-transfers", kind: kindInt, parse: intRange(0, math.MaxInt32),
			set: func(c *Config, v any) { c.TFTP.MaxTransfers = v.(int) },
			get: func(c Config) any { return c.TFTP.MaxTransfers }},
		{table: "tftp", key: "single-port", kind: kindBool, parse: parseBool,
			set: func(c *Config, v any) { c.TFTP.SinglePort = v.(bool) },
			get: func(c Config) any { return c.TFTP.SinglePort }},
		{table: "tftp", key: "port-range", parse: parsePortRange,
			set: func(c *Config, v any) { r := v.([2]int); c.TFTP.PortMin, c.TFTP.PortMax = r[0], r[1] },
			get: func(c Config) any { return [2]int{c.TFTP.PortMin, c.TFTP.PortMax} }},
		{table: "tftp", key: "includedir", parse: parsePath,
			set: func(c *Config, v any) { c.TFTP.IncludeDir = v.(string) },
			get: func(c Config) any { return c.TFTP.IncludeDir }},
		{table: "tftp", key: "writable", kind: kindBool, parse: parseBool,
			set: func(c *Config, v any) { c.TFTP.Writable = v.(bool) },
			get: func(c Config) any { return c.TFTP.Writable }},
		{table: "tftp", key: "shutdown-timeout", parse: parseDuration,
			set: func(c *Config, v any) { c.TFTP.ShutdownTimeout = v.(time.Duration) },
			get: func(c Config) any { return c.TFTP.ShutdownTimeout }},
		{table: "tftp", key: "cache-size", parse: parseSize,
			set: func(c *Config, v any) { c.TFTP.CacheSize = v.(int64) },
			get: func(c Config) any { return c.TFTP.CacheSize }},
		{table: "tftp", key: "batch-scheduling", kind: kindBool, parse: parseBool,
			set: func(c *Config, v any) { c.TFTP.BatchScheduling = v.(bool) },
			get: func(c Config) any { return c.TFTP.BatchScheduling }},
		{table: "log", key: "format", flag: "log-format", parse: parseLogFormat,
			set: func(c *Config, v any) { c.Log.Format = v.(string) },
			get: func(c Config) any { return c.Log.Format }},
		{table: "log", key: "verbose", flag: "verbose", kind: kindBool, parse: parseBool,
			set: func(c *Config, v any) { c.Log.Verbose = v.(bool) },
			get: func(c Config) any { return c.Log.Verbose }},
	}
}

// flagName is the command-line flag for s: the key itself for [tftp] keys.
func (s setting) flagName() string {
	if s.flag != "" {
		return s.flag
	}
	return s.key
}

func findSetting(table, key string) (setting, bool) {
	for _, s := range allSettings() {
		if s.table == table && s.key == key {
			return s, true
		}
	}
	return setting{}, false
}

func keysOf(table string) string {
	var k []string
	for _, s := range allSettings() {
		if s.table == table {
			k = append(k, s.key)
		}
	}
	return strings.Join(k, ", ")
}

// boardKey describes one key of a [board.NAME] table.
type boardKey struct {
	key   string
	parse func(v any, e parseEnv) (any, error)
	set   func(b *Board, v any)
}

// allBoardKeys lists every [board.NAME] key.
func allBoardKeys() []boardKey {
	return []boardKey{
		{"serial", parseSerialValue, func(b *Board, v any) { b.Serial, b.HasSerial = v.(Serial), true }},
		{"image", parseImage, func(b *Board, v any) { b.Image = v.(string) }},
		{"partition", intRange(0, math.MaxInt32), func(b *Board, v any) { b.Partition = v.(int) }},
		{"ip", parseIP, func(b *Board, v any) { b.IP = v.(netip.Addr) }},
		{"mac", parseMACValue, func(b *Board, v any) { b.MAC = v.(MAC) }},
		{"prefix", parsePrefix, func(b *Board, v any) { b.Prefix = v.(string) }},
	}
}

func findBoardKey(key string) (boardKey, bool) {
	for _, k := range allBoardKeys() {
		if k.key == key {
			return k, true
		}
	}
	return boardKey{}, false
}

func boardKeyNames() string {
	var k []string
	for _, b := range allBoardKeys() {
		k = append(k, b.key)
	}
	return strings.Join(k, ", ")
}

// formatValue shows a TOML value in an error message.
func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = formatValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return "(a table)"
	case []map[string]any:
		return "(an array of tables)"
	}
	return fmt.Sprint(v)
}

func wantString(v any, want string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("not a string; %s", want)
	}
	return s, nil
}

const listenWant = `want an IP address (such as "::" or "0.0.0.0"), "systemd" or "stdin"`

func parseListen(v any, _ parseEnv) (any, error) {
	s, err := wantString(v, listenWant)
	if err != nil {
		return nil, err
	}
	if s == ListenSystemd || s == ListenStdin {
		return s, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return nil, errors.New("not an IP address; " + listenWant)
	}
	return a.String(), nil
}

const portWant = `want a port number 1-65535 or a UDP service name such as "tftp"`

func parsePort(v any, e parseEnv) (any, error) {
	switch p := v.(type) {
	case int64:
		if p < 1 || p > 65535 {
			return nil, errors.New("out of range; " + portWant)
		}
		return int(p), nil
	case string:
		if p == "" {
			return nil, errors.New("empty; " + portWant)
		}
		if n, err := strconv.Atoi(p); err == nil {
			return parsePort(int64(n), e)
		}
		n, err := e.lookupPort("udp", p)
		if err != nil && p == "tftp" {
			// Minimal systems (containers) may lack /etc/services, and Go
			// knows no built-in port for tftp.
			n, err = DefaultPort, nil
		}
		if err != nil || n < 1 || n > 65535 {
			return nil, errors.New("unknown service; " + portWant)
		}
		return n, nil
	}
	return nil, errors.New("not a number or a string; " + portWant)
}

func parsePath(v any, e parseEnv) (any, error) {
	s, err := wantString(v, `want a path, or "" for none`)
	if err != nil {
		return nil, err
	}
	return e.path(s), nil
}

func parseImage(v any, e parseEnv) (any, error) {
	s, err := wantString(v, "want the path of a disk image")
	if err != nil {
		return nil, err
	}
	if s == "" {
		return nil, errors.New("empty; want the path of a disk image")
	}
	return e.path(s), nil
}

const sizeWant = `want a size such as "16MiB", "512KiB" or "1GiB", or a number of bytes; 0 turns it off`

// parseSize reads a byte count: a number of bytes, or a string with a
// binary (KiB, MiB, GiB) or decimal (kB, MB, GB) unit.
func parseSize(v any, _ parseEnv) (any, error) {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return nil, errors.New("negative; " + sizeWant)
		}
		return x, nil
	case string:
		t := strings.TrimSpace(x)
		num := strings.TrimRightFunc(t, func(r rune) bool { return r < '0' || r > '9' })
		unit := strings.TrimSpace(t[len(num):])
		mult := map[string]int64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
			"kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9}[unit]
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || mult == 0 || n < 0 || n > math.MaxInt64/mult {
			return nil, errors.New("not a size; " + sizeWant)
		}
		return n * mult, nil
	}
	return nil, errors.New("not a string or a number; " + sizeWant)
}

const durationWant = `want a positive duration such as "1s" or "250ms", or a number of seconds`

func parseDuration(v any, _ parseEnv) (any, error) {
	var d time.Duration
	switch x := v.(type) {
	case int64:
		if x <= 0 || x > math.MaxInt64/int64(time.Second) {
			return nil, errors.New("out of range; " + durationWant)
		}
		d = time.Duration(x) * time.Second
	case float64:
		if !(x > 0) || x > float64(math.MaxInt64/int64(time.Second)) {
			return nil, errors.New("out of range; " + durationWant)
		}
		d = time.Duration(x * float64(time.Second))
	case string:
		var err error
		d, err = time.ParseDuration(x)
		if err != nil {
			f, ferr := strconv.ParseFloat(x, 64)
			if ferr != nil {
				return nil, errors.New("not a duration; " + durationWant)
			}
			return parseDuration(f, parseEnv{})
		}
	default:
		return nil, errors.New("not a string or a number; " + durationWant)
	}
	if d <= 0 {
		return nil, errors.New("not positive; " + durationWant)
	}
	return d, nil
}

func intRange(lo, hi int64) func(v any, _ parseEnv) (any, error) {
	return func(v any, _ parseEnv) (any, error) {
		want := fmt.Sprintf("want an integer from %d to %d", lo, hi)
		if hi == math.MaxInt32 {
			want = fmt.Sprintf("want an integer >= %d", lo)
		}
		n, ok := v.(int64)
		if !ok {
			return nil, errors.New("not an integer; " + want)
		}
		if n < lo || n > hi {
			return nil, errors.New("out of range; " + want)
		}
		return int(n), nil
	}
}

func parseBool(v any, _ parseEnv) (any, error) {
	b, ok := v.(bool)
	if !ok {
		return nil, errors.New("not a boolean; want true or false")
	}
	return b, nil
}

const rolloverWant = `want 0 (roll over to block 0), 1 (to block 1) or "off"`

func parseRollover(v any, _ parseEnv) (any, error) {
	switch v {
	case int64(0), "0":
		return RolloverZero, nil
	case int64(1), "1":
		return RolloverOne, nil
	case "off":
		return RolloverOff, nil
	}
	return nil, errors.New("not a rollover mode; " + rolloverWant)
}

const portRangeWant = `want "MIN-MAX" or [MIN, MAX] with 1 <= MIN <= MAX <= 65535, or "" for any port`

func parsePortRange(v any, _ parseEnv) (any, error) {
	var lo, hi int64
	switch r := v.(type) {
	case string:
		if r == "" {
			return [2]int{}, nil
		}
		a, b, ok := strings.Cut(r, "-")
		var err1, err2 error
		lo, err1 = strconv.ParseInt(strings.TrimSpace(a), 10, 32)
		hi, err2 = strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return nil, errors.New("not a range; " + portRangeWant)
		}
	case []any:
		if len(r) != 2 {
			return nil, errors.New("not two numbers; " + portRangeWant)
		}
		var ok1, ok2 bool
		lo, ok1 = r[0].(int64)
		hi, ok2 = r[1].(int64)
		if !ok1 || !ok2 {
			return nil, errors.New("not two integers; " + portRangeWant)
		}
	default:
		return nil, errors.New("not a string or an array; " + portRangeWant)
	}
	if lo < 1 || hi > 65535 || lo > hi {
		return nil, errors.New("out of range; " + portRangeWant)
	}
	return [2]int{int(lo), int(hi)}, nil
}

func parseLogFormat(v any, _ parseEnv) (any, error) {
	const want = `want "text" or "json"`
	s, err := wantString(v, want)
	if err != nil {
		return nil, err
	}
	if s != "text" && s != "json" {
		return nil, errors.New("unknown format; " + want)
	}
	return s, nil
}

func parseSerialValue(v any, _ parseEnv) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errors.New(`not a string; write it in quotes, serial = "1234abcd"; ` + serialWant)
	}
	return parseSerial(s)
}

const ipWant = `want an IPv4 or IPv6 address, or "" for any client`

func parseIP(v any, _ parseEnv) (any, error) {
	s, err := wantString(v, ipWant)
	if err != nil {
		return nil, err
	}
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return nil, errors.New("not an IP address; " + ipWant)
	}
	return a.Unmap(), nil
}

func parseMACValue(v any, _ parseEnv) (any, error) {
	s, err := wantString(v, macWant+`, or "" for none`)
	if err != nil {
		return nil, err
	}
	if s == "" {
		return MAC{}, nil
	}
	return parseMAC(s)
}

func parsePrefix(v any, _ parseEnv) (any, error) {
	s, err := wantString(v, prefixWant+`, or "" for none`)
	if err != nil {
		return nil, err
	}
	if s == "" {
		return "", nil
	}
	if err := checkPrefix(s); err != nil {
		return nil, err
	}
	return s, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]any) []string {
	k := make([]string, 0, len(m))
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}
