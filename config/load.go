package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Default configuration file locations, before $XDG_CONFIG_HOME's.
const (
	SystemPath = "/etc/nobodd-go/nobodd-go.toml"
	LocalPath  = "/usr/local/etc/nobodd-go/nobodd-go.toml"
)

// DefaultPaths returns the files Load reads when no --config is given, in
// order: SystemPath, LocalPath, then nobodd-go/nobodd-go.toml under
// $XDG_CONFIG_HOME, or under $HOME/.config when XDG_CONFIG_HOME is unset,
// empty or relative (as the XDG base directory specification says). When
// neither is usable the per-user file is left out. lookupEnv is os.LookupEnv
// or a stand-in; nil means os.LookupEnv.
func DefaultPaths(lookupEnv func(key string) (string, bool)) []string {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	paths := []string{SystemPath, LocalPath}
	dir, _ := lookupEnv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(dir) {
		home, _ := lookupEnv("HOME")
		if !filepath.IsAbs(home) {
			return paths
		}
		dir = filepath.Join(home, ".config")
	}
	return append(paths, filepath.Join(dir, "nobodd-go", "nobodd-go.toml"))
}

// Loader reads configuration files and command-line settings into a Config.
// Its zero value reads the default files (see DefaultPaths). A Loader can be
// used again, for instance on SIGHUP, and gives a fresh Config each time;
// its Overlay is applied every time, so flags keep winning after a reload.
type Loader struct {
	// Paths are the main configuration files, read in order; later files
	// win key by key. Nil means DefaultPaths(LookupEnv). The daemon's
	// --config flags replace the default search: they become Paths, with
	// Required set.
	Paths []string
	// Required makes a missing file in Paths an error. Without it missing
	// files are skipped silently (any other read error is still an error).
	Required bool
	// LookupEnv reads environment variables for DefaultPaths; nil means
	// os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// LookupPort resolves a service name given as port; nil means
	// net.LookupPort.
	LookupPort func(network, service string) (int, error)
	// Overlay holds command-line settings. They are applied after every file
	// and win over them.
	Overlay Overlay
}

// Load reads the configuration files in order, then the *.toml files of the
// include directory in sorted order, applies the Overlay, fills in defaults
// and checks the result. On error it returns the zero Config and every
// problem found, each an *Error, joined with errors.Join.
//
// Load reads no files other than configuration files: images and the root
// directory are opened by the daemon when requests arrive, so they need not
// exist when the configuration is loaded.
func (l *Loader) Load() (Config, error) {
	st := &loadState{
		env:      parseEnv{lookupPort: l.LookupPort},
		settings: make(map[string]valueAt),
		boards:   make(map[string]*boardDef),
	}
	if st.env.lookupPort == nil {
		st.env.lookupPort = net.LookupPort
	}
	paths := l.Paths
	if paths == nil {
		paths = DefaultPaths(l.LookupEnv)
	}
	for _, p := range paths {
		st.readFile(p, l.Required, false)
	}
	flags := st.parseOverlay(l.Overlay)
	include, ok := flags["tftp.includedir"]
	if !ok {
		include, ok = st.settings["tftp.includedir"]
	}
	if ok && include.v.(string) != "" {
		st.readDir(include)
	}
	for k, v := range flags {
		st.settings[k] = v
	}
	cfg := st.build(l.Overlay.Boards)
	if err := joinErrors(st.errs); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// where is a place in the configuration.
type where struct {
	file  string
	order int // reading order of file; command line last
	line  int
	flag  string // the flag, for command-line settings
}

func (w where) String() string {
	switch {
	case w.flag != "":
		return w.flag
	case w.line > 0:
		return fmt.Sprintf("%s:%d", w.file, w.line)
	}
	return w.file
}

// flagAt is the place of a command-line flag: after every file.
func flagAt(flag string) where {
	return where{file: CommandLine, order: math.MaxInt, flag: flag}
}

type valueAt struct {
	v  any
	at where
}

// boardDef is a board as the files define it, key by key.
type boardDef struct {
	name string
	at   where // first definition
	keys map[string]valueAt
	bad  bool // a key failed to parse: already reported, check no further
}

type loadState struct {
	env      parseEnv
	order    int
	files    []string
	settings map[string]valueAt // by "table.key"
	boards   map[string]*boardDef
	errs     []*Error
}

func (st *loadState) fail(at where, key string, err error, format string, args ...any) {
	st.errs = append(st.errs, &Error{
		File: at.file, Line: at.line, Key: key,
		Msg: fmt.Sprintf(format, args...), Err: err, order: at.order,
	})
}

// file is one configuration file being read.
type file struct {
	path     string
	order    int
	lines    map[string]int
	included bool
}

func (f *file) at(path ...string) where {
	return where{file: f.path, order: f.order, line: f.lines[joinKey(path...)]}
}

func (st *loadState) readFile(path string, required, included bool) {
	st.order++
	f := &file{path: path, order: st.order, included: included}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !required {
			return
		}
		msg := err.Error()
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			msg = pe.Err.Error()
		}
		st.fail(f.at(), "", err, "cannot read: %s", msg)
		return
	}
	st.files = append(st.files, path)
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		at := f.at()
		msg := err.Error()
		if pe, ok := errors.AsType[toml.ParseError](err); ok {
			at.line = pe.Position.Line
			msg = pe.Message
		}
		st.fail(at, "", err, "not valid TOML: %s", msg)
		return
	}
	f.lines = keyLines(string(data))
	env := st.env
	env.dir = filepath.Dir(path)
	if abs, err := filepath.Abs(env.dir); err == nil {
		env.dir = abs // paths stay right if the daemon changes directory
	}
	for _, k := range sortedKeys(doc) {
		v := doc[k]
		switch k {
		case "tftp", "log":
			t, ok := v.(map[string]any)
			if !ok {
				st.fail(f.at(k), k, nil, "%s: not a table; want [%s]", k, k)
				continue
			}
			st.readSettings(f, env, k, t)
		case "board":
			st.readBoards(f, env, v)
		default:
			st.fail(f.at(k), k, nil, "unknown key %q; want [tftp], [log] and [board.NAME] tables", k)
		}
	}
}

func (st *loadState) readSettings(f *file, env parseEnv, table string, t map[string]any) {
	for _, k := range sortedKeys(t) {
		v := t[k]
		at := f.at(table, k)
		s, ok := findSetting(table, k)
		if !ok {
			st.fail(at, table+"."+k, nil, "%s: unknown key %q; want one of %s", table, k, keysOf(table))
			continue
		}
		if f.included && k == "includedir" {
			st.fail(at, s.path(), nil, "%s: %s %s: not allowed in an included file; want it in a main configuration file",
				table, k, formatValue(v))
			continue
		}
		pv, err := s.parse(v, env)
		if err != nil {
			st.fail(at, s.path(), err, "%s: %s %s: %v", table, k, formatValue(v), err)
			continue
		}
		st.settings[s.path()] = valueAt{pv, at}
	}
}

func (st *loadState) readBoards(f *file, env parseEnv, v any) {
	t, ok := v.(map[string]any)
	if !ok {
		msg := "not a table"
		if _, arr := v.([]map[string]any); arr {
			msg = "[[board]] is not supported"
		}
		st.fail(f.at("board"), "board", nil, "board: %s; want one [board.NAME] table per board", msg)
		return
	}
	for _, name := range sortedKeys(t) {
		bt, ok := t[name].(map[string]any)
		if !ok {
			st.fail(f.at("board", name), "board."+name, nil,
				"board %q: not a table; want [board.%s] with serial, image and other keys", name, name)
			continue
		}
		if name == "" {
			st.fail(f.at("board", name), "board.", nil, "board \"\": empty name; want [board.NAME]")
			continue
		}
		def := st.boards[name]
		if def == nil {
			def = &boardDef{name: name, at: f.at("board", name), keys: make(map[string]valueAt)}
			st.boards[name] = def
		}
		for _, k := range sortedKeys(bt) {
			v := bt[k]
			at := f.at("board", name, k)
			key := "board." + name + "." + k
			bk, ok := findBoardKey(k)
			if !ok {
				st.fail(at, key, nil, "board %q: unknown key %q; want one of %s", name, k, boardKeyNames())
				continue
			}
			pv, err := bk.parse(v, env)
			if err != nil {
				st.fail(at, key, err, "board %q: %s %s: %v", name, k, formatValue(v), err)
				def.bad = true
				continue
			}
			def.keys[k] = valueAt{pv, at}
		}
	}
}

// readDir reads the *.toml files of the include directory in sorted order.
// Hidden files (".name.toml") and directories are skipped.
func (st *loadState) readDir(dir valueAt) {
	path := dir.v.(string)
	entries, err := os.ReadDir(path)
	if err != nil {
		msg := err.Error()
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			msg = pe.Err.Error()
		}
		what := "tftp: includedir"
		if dir.at.flag != "" {
			what = dir.at.flag
		}
		st.fail(dir.at, "tftp.includedir", err, "%s %q: cannot read: %s", what, path, msg)
		return
	}
	for _, e := range entries { // sorted by name
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".toml") {
			continue
		}
		st.readFile(filepath.Join(path, name), true, true)
	}
}

// parseOverlay checks the command-line settings, keyed by setting path.
func (st *loadState) parseOverlay(o Overlay) map[string]valueAt {
	out := make(map[string]valueAt)
	names := make([]string, 0, len(o.Settings))
	for n := range o.Settings {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		val := o.Settings[name]
		at := flagAt("--" + name)
		s, ok := findFlag(name)
		if !ok {
			st.fail(at, at.flag, nil, "%s: not a configuration flag; want one of %s", at.flag,
				strings.Join(OverlayKeys(), ", "))
			continue
		}
		pv, err := s.parse(s.fromFlag(val), st.env)
		if err != nil {
			st.fail(at, at.flag, err, "%s %q: %v", at.flag, val, err)
			continue
		}
		out[s.path()] = valueAt{pv, at}
	}
	return out
}

// built is a board being checked, with where each key came from.
type built struct {
	Board
	at    where
	keyAt map[string]where
}

func (st *loadState) build(flagBoards []Board) Config {
	cfg := Default()
	cfg.Files = st.files
	for _, s := range allSettings() {
		if v, ok := st.settings[s.path()]; ok {
			s.set(&cfg, v.v)
		}
	}
	if cfg.TFTP.MinTimeout > cfg.TFTP.Timeout {
		at, ok := st.settings["tftp.min-timeout"]
		if !ok {
			at = st.settings["tftp.timeout"]
		}
		st.fail(at.at, "tftp.min-timeout", nil, "tftp: min-timeout %v: longer than timeout %v; want min-timeout <= timeout",
			cfg.TFTP.MinTimeout, cfg.TFTP.Timeout)
	}

	defs := make([]*boardDef, 0, len(st.boards))
	for _, d := range st.boards {
		defs = append(defs, d)
	}
	slices.SortFunc(defs, func(a, b *boardDef) int {
		if a.at.order != b.at.order {
			return a.at.order - b.at.order
		}
		return a.at.line - b.at.line
	})
	var boards []built
	for _, d := range defs {
		b := built{Board: Board{Name: d.name, Partition: DefaultPartition, Source: d.at.String()},
			at: d.at, keyAt: make(map[string]where)}
		for _, k := range allBoardKeys() {
			if v, ok := d.keys[k.key]; ok {
				k.set(&b.Board, v.v)
				b.keyAt[k.key] = v.at
			}
		}
		if !d.bad && st.checkBoard(b, fmt.Sprintf("board %q", d.name), "board."+d.name) {
			boards = append(boards, b)
		}
	}
	for _, fb := range flagBoards {
		at := flagAt(fb.Source)
		if fb.Source == "" {
			at = flagAt("--board " + fb.Name)
		}
		if !st.checkBoard(built{Board: fb, at: at}, at.flag, "--board") {
			continue
		}
		// Flags win: a --board replaces every file board it shares a name
		// or a prefix with.
		boards = slices.DeleteFunc(boards, func(b built) bool {
			return b.at.flag == "" && (b.Name == fb.Name || sharePrefix(b.Board, fb))
		})
		boards = append(boards, built{Board: fb, at: at})
	}
	st.checkUnique(boards)

	for _, b := range boards {
		cfg.Boards = append(cfg.Boards, b.Board)
	}
	slices.SortFunc(cfg.Boards, func(a, b Board) int { return strings.Compare(a.Name, b.Name) })
	return cfg
}

// checkBoard reports a board without a prefix or an image, or with values
// that only a hand-made Board in an Overlay can hold.
func (st *loadState) checkBoard(b built, what, key string) bool {
	ok := true
	if len(b.Prefixes()) == 0 {
		st.fail(b.at, key, nil, "%s: no serial, mac or prefix; want at least one to match the board's requests", what)
		ok = false
	}
	if b.Image == "" {
		st.fail(b.at, key, nil, `%s: no image; want image = "path/to/disk.img"`, what)
		ok = false
	}
	if b.Prefix != "" {
		if err := checkPrefix(b.Prefix); err != nil {
			st.fail(b.at, key, err, "%s: prefix %q: %v", what, b.Prefix, err)
			ok = false
		}
	}
	if b.Partition < 0 {
		st.fail(b.at, key, nil, "%s: partition %d: out of range; want an integer >= 0", what, b.Partition)
		ok = false
	}
	return ok
}

func sharePrefix(a, b Board) bool {
	for _, p := range a.Prefixes() {
		for _, q := range b.Prefixes() {
			if strings.EqualFold(p, q) {
				return true
			}
		}
	}
	return false
}

// checkUnique reports prefixes claimed by two boards. Prefixes are compared
// without regard to case. The later definition is the one reported.
func (st *loadState) checkUnique(boards []built) {
	type owner struct {
		b    built
		i    int
		kind string
	}
	seen := make(map[string]owner)
	for i, b := range boards {
		for _, id := range identities(b.Board) {
			key := strings.ToLower(id.value)
			prev, dup := seen[key]
			if !dup {
				seen[key] = owner{b, i, id.kind}
				continue
			}
			if prev.i == i {
				continue // a board may name itself twice (prefix = its serial)
			}
			at, ok := b.keyAt[id.kind]
			if !ok {
				at = b.at
			}
			prevAt, ok := prev.b.keyAt[prev.kind]
			if !ok {
				prevAt = prev.b.at
			}
			its := ""
			if prev.kind != id.kind {
				its = " as its " + prev.kind
			}
			what := fmt.Sprintf("board %q", b.Name)
			if b.at.flag != "" {
				what = b.at.flag
			}
			prevWhat := fmt.Sprintf("board %q", prev.b.Name)
			if prev.b.at.flag != "" {
				prevWhat = prev.b.at.flag
			} else {
				prevWhat += " at " + prevAt.String()
			}
			st.fail(at, "board."+b.Name+"."+id.kind, nil, "%s: %s %s: already used by %s%s",
				what, id.kind, id.shown, prevWhat, its)
		}
	}
}

type identity struct{ kind, value, shown string }

func identities(b Board) []identity {
	var ids []identity
	if b.HasSerial {
		ids = append(ids, identity{"serial", b.Serial.String(), b.Serial.String()})
	}
	if !b.MAC.IsZero() {
		ids = append(ids, identity{"mac", b.MAC.String(), b.MAC.String()})
	}
	if b.Prefix != "" {
		ids = append(ids, identity{"prefix", b.Prefix, fmt.Sprintf("%q", b.Prefix)})
	}
	return ids
}
