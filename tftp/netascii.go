package tftp

import (
	"io"
	"strings"
)

// Transfer modes. Mode names are compared without regard to case; "mail" is
// obsolete and refused.
const (
	ModeOctet    = "octet"
	ModeNetASCII = "netascii"
)

// normalizeMode returns ModeOctet or ModeNetASCII for a mode name in any case,
// or "" for anything else.
func normalizeMode(m string) string {
	switch {
	case strings.EqualFold(m, ModeOctet):
		return ModeOctet
	case strings.EqualFold(m, ModeNetASCII):
		return ModeNetASCII
	}
	return ""
}

// NetASCIIReader translates local text read from R into netascii: LF becomes
// CR LF and CR becomes CR NUL. The translation is streaming: a pair split
// across two Read calls is carried over.
type NetASCIIReader struct {
	r       io.Reader
	buf     [4096]byte
	in      []byte // untranslated input
	pending byte   // second byte of a pair that did not fit in p
	has     bool   // pending is valid
	err     error
}

// NewNetASCIIReader returns a reader yielding the netascii form of r.
func NewNetASCIIReader(r io.Reader) *NetASCIIReader {
	return &NetASCIIReader{r: r}
}

// Read fills p with translated bytes.
func (a *NetASCIIReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if a.has {
			p[n] = a.pending
			n++
			a.has = false
			continue
		}
		if len(a.in) == 0 {
			if a.err != nil {
				break
			}
			if n > 0 {
				// Return what we have rather than block on more input.
				break
			}
			m, err := a.r.Read(a.buf[:])
			a.in = a.buf[:m]
			a.err = err
			continue
		}
		c := a.in[0]
		a.in = a.in[1:]
		switch c {
		case '\n':
			p[n] = '\r'
			a.pending, a.has = '\n', true
		case '\r':
			p[n] = '\r'
			a.pending, a.has = 0, true
		default:
			p[n] = c
		}
		n++
	}
	if n == 0 && a.err != nil {
		return 0, a.err
	}
	return n, nil
}

// NetASCIIWriter translates netascii written to it into local text for W:
// CR LF becomes LF and CR NUL becomes CR; a CR followed by anything else is
// kept as it is. A CR at the end of one Write is held until the next one, so
// Flush must be called after the last Write.
type NetASCIIWriter struct {
	w      io.Writer
	cr     bool // a CR is pending
	out    []byte
	failed error
}

// NewNetASCIIWriter returns a writer that translates netascii into local text
// and writes it to w.
func NewNetASCIIWriter(w io.Writer) *NetASCIIWriter {
	return &NetASCIIWriter{w: w}
}

// Write translates p and writes the result. It reports len(p) on success.
func (a *NetASCIIWriter) Write(p []byte) (int, error) {
	if a.failed != nil {
		return 0, a.failed
	}
	out := a.out[:0]
	for _, c := range p {
		if a.cr {
			a.cr = false
			switch c {
			case '\n':
				out = append(out, '\n')
				continue
			case 0:
				out = append(out, '\r')
				continue
			default:
				out = append(out, '\r')
			}
		}
		if c == '\r' {
			a.cr = true
			continue
		}
		out = append(out, c)
	}
	a.out = out
	if len(out) > 0 {
		if _, err := a.w.Write(out); err != nil {
			a.failed = err
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes a CR still held from the last Write.
func (a *NetASCIIWriter) Flush() error {
	if a.failed != nil {
		return a.failed
	}
	if a.cr {
		a.cr = false
		if _, err := a.w.Write([]byte{'\r'}); err != nil {
			a.failed = err
			return err
		}
	}
	return nil
}
