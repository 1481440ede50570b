package config

import (
	"strconv"
	"strings"
)

// keyLines maps every key path of a TOML document to the line (1-based)
// where it first appears: table headers, keys, dotted keys and keys inside
// inline tables. Paths are joined with keySep. It is only a locator for error
// messages and assumes src has already been parsed successfully; on anything
// it does not understand it moves on rather than failing.
func keyLines(src string) map[string]int {
	s := &lineScanner{src: src, line: 1, lines: make(map[string]int)}
	s.document()
	return s.lines
}

// keySep joins the pieces of a key path in keyLines' map.
const keySep = "\x00"

func joinKey(path ...string) string { return strings.Join(path, keySep) }

type lineScanner struct {
	src   string
	i     int
	line  int
	depth int // nesting of arrays and inline tables
	lines map[string]int
}

// Bounds that keep the scanner linear on hostile input: no configuration key
// is deeper than a few levels.
const (
	maxKeyDepth   = 16 // longer key paths are not recorded
	maxValueDepth = 32 // deeper arrays and inline tables are skipped flat
)

// record notes the current line for path and each of its parents, keeping
// the first occurrence.
func (s *lineScanner) record(path []string, line int) {
	for n := 1; n <= min(len(path), maxKeyDepth); n++ {
		k := joinKey(path[:n]...)
		if _, ok := s.lines[k]; !ok {
			s.lines[k] = line
		}
	}
}

func (s *lineScanner) more() bool { return s.i < len(s.src) }

func (s *lineScanner) at(prefix string) bool {
	return s.i < len(s.src) && strings.HasPrefix(s.src[s.i:], prefix)
}

// blank skips spaces and tabs, and also newlines and comments when lines is set.
func (s *lineScanner) blank(lines bool) {
	for s.more() {
		switch c := s.src[s.i]; {
		case c == ' ' || c == '\t' || c == '\r':
			s.i++
		case lines && c == '\n':
			s.line++
			s.i++
		case lines && c == '#':
			s.toEOL()
		default:
			return
		}
	}
}

// toEOL moves to the next newline without consuming it.
func (s *lineScanner) toEOL() {
	if n := strings.IndexByte(s.src[s.i:], '\n'); n >= 0 {
		s.i += n
	} else {
		s.i = len(s.src)
	}
}

func (s *lineScanner) document() {
	var table []string
	for s.more() {
		s.blank(true)
		if !s.more() {
			return
		}
		start := s.i
		line := s.line
		if s.src[s.i] == '[' {
			s.i++
			if s.at("[") {
				s.i++
			}
			table = s.key()
			s.record(table, line)
			s.toEOL()
			continue
		}
		path := append(append([]string(nil), table...), s.key()...)
		s.record(path, line)
		s.blank(false)
		if s.at("=") {
			s.i++
			s.blank(false)
			s.value(path)
		}
		if s.i == start { // not understood: skip a byte
			s.i++
		}
	}
}

// key reads a possibly dotted key of bare, "basic" and 'literal' pieces.
func (s *lineScanner) key() []string {
	var path []string
	for {
		s.blank(false)
		if !s.more() {
			return path
		}
		switch s.src[s.i] {
		case '"':
			raw := s.str('"')
			if u, err := strconv.Unquote(raw); err == nil {
				path = append(path, u)
			} else {
				path = append(path, strings.Trim(raw, `"`))
			}
		case '\'':
			path = append(path, strings.Trim(s.str('\''), "'"))
		default:
			j := s.i
			for j < len(s.src) && !strings.ContainsRune(" \t\r\n=.[]#\"',{}", rune(s.src[j])) {
				j++
			}
			if j == s.i {
				return path
			}
			path = append(path, s.src[s.i:j])
			s.i = j
		}
		s.blank(false)
		if !s.at(".") {
			return path
		}
		s.i++
	}
}

// str reads a single-line string quoted by q and returns it with its quotes.
func (s *lineScanner) str(q byte) string {
	start := s.i
	s.i++
	for s.more() && s.src[s.i] != q && s.src[s.i] != '\n' {
		if q == '"' && s.src[s.i] == '\\' {
			s.i++
		}
		s.i++
	}
	s.i = min(s.i, len(s.src))
	if s.more() && s.src[s.i] == q {
		s.i++
	}
	return s.src[start:s.i]
}

// multi skips a multi-line string opened by three q's, counting lines.
func (s *lineScanner) multi(q byte) {
	delim := strings.Repeat(string(q), 3)
	s.i += 3
	for s.more() {
		switch {
		case s.at(delim):
			s.i += 3
			for k := 0; k < 2 && s.more() && s.src[s.i] == q; k++ {
				s.i++
			}
			return
		case s.src[s.i] == '\n':
			s.line++
		case q == '"' && s.src[s.i] == '\\':
			s.i++
			if s.more() && s.src[s.i] == '\n' {
				s.line++
			}
		}
		s.i++
	}
	s.i = min(s.i, len(s.src))
}

// value skips one value, recording keys of inline tables under path.
func (s *lineScanner) value(path []string) {
	if !s.more() {
		return
	}
	switch c := s.src[s.i]; {
	case s.at(`"""`) || s.at(`'''`):
		s.multi(c)
	case c == '"' || c == '\'':
		s.str(c)
	case (c == '[' || c == '{') && s.depth >= maxValueDepth:
		s.flat()
	case c == '[' || c == '{':
		closing := byte(']')
		if c == '{' {
			closing = '}'
		}
		s.depth++
		defer func() { s.depth-- }()
		s.i++
		for s.more() {
			s.blank(true)
			if !s.more() {
				return
			}
			switch s.src[s.i] {
			case closing:
				s.i++
				return
			case ',':
				s.i++
			default:
				before := s.i
				if c == '[' {
					s.value(path)
				} else {
					s.inlineKey(path)
				}
				if s.i == before {
					s.i++
				}
			}
		}
	default: // number, boolean, date: up to a delimiter
		for s.more() && !strings.ContainsRune(",]}\n#", rune(s.src[s.i])) {
			s.i++
		}
	}
}

// inlineKey scans one "key = value" of an inline table at path.
func (s *lineScanner) inlineKey(path []string) {
	line := s.line
	full := s.key()
	if len(path) < maxKeyDepth {
		full = append(append([]string(nil), path...), full...)
	} else {
		full = nil
	}
	s.record(full, line)
	s.blank(false)
	if s.at("=") {
		s.i++
		s.blank(false)
		s.value(full)
	}
}

// flat skips a deeply nested array or inline table without recursion,
// counting lines; keys inside it are not recorded.
func (s *lineScanner) flat() {
	open := 0
	for s.more() {
		switch c := s.src[s.i]; {
		case s.at(`"""`) || s.at(`'''`):
			s.multi(c)
			continue
		case c == '"' || c == '\'':
			s.str(c)
			continue
		case c == '[' || c == '{':
			open++
		case c == ']' || c == '}':
			open--
		case c == '\n':
			s.line++
		case c == '#':
			s.toEOL()
			continue
		}
		s.i++
		if open == 0 {
			return
		}
	}
}
