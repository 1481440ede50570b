package tftp

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Option names this package understands. Names are compared without regard
// to case.
const (
	OptBlockSize    = "blksize"    // RFC 2348
	OptTransferSize = "tsize"      // RFC 2349
	OptTimeout      = "timeout"    // RFC 2349, seconds
	OptUTimeout     = "utimeout"   // tftp-hpa extension, microseconds
	OptWindowSize   = "windowsize" // RFC 7440
)

// Limits of the option values.
const (
	DefaultBlockSize = 512       // block size without the blksize option
	MinBlockSize     = 8         // smallest valid blksize (RFC 2348)
	MaxBlockSize     = 65464     // largest valid blksize (RFC 2348)
	MaxWindowSize    = 65535     // largest valid windowsize (RFC 7440)
	MinTimeoutOption = 1         // smallest valid timeout, in seconds
	MaxTimeoutOption = 255       // largest valid timeout, in seconds
	MinUTimeout      = 10000     // smallest valid utimeout, in microseconds (as tftp-hpa)
	MaxUTimeout      = 255000000 // largest valid utimeout, in microseconds (as tftp-hpa)
)

// Rollover says what block number follows 65535.
type Rollover int

const (
	// RolloverZero wraps block numbers from 65535 to 0 (the default; what
	// the Raspberry Pi and most clients expect).
	RolloverZero Rollover = iota
	// RolloverOne wraps block numbers from 65535 to 1.
	RolloverOne
	// RolloverOff refuses transfers that would need more than 65535 blocks.
	RolloverOff
)

// String returns "zero", "one" or "off".
func (r Rollover) String() string {
	switch r {
	case RolloverZero:
		return "zero"
	case RolloverOne:
		return "one"
	case RolloverOff:
		return "off"
	}
	return fmt.Sprintf("rollover(%d)", int(r))
}

// ParseOption validates the value of a known option and returns it as a
// number: blksize in bytes (any value of at least MinBlockSize; a server
// clamps larger ones to its maximum), tsize in bytes (>= 0), timeout in
// seconds (1..255), utimeout in microseconds (10000..255000000), windowsize
// in blocks (1..65535). Values must be plain decimal digits. known is false
// for options this package does not implement (and err is nil). An invalid
// value yields an *Error with code ErrOption naming the option and the value.
func ParseOption(name, value string) (v int64, known bool, err error) {
	var lo, hi int64
	switch strings.ToLower(name) {
	case OptBlockSize:
		lo, hi = MinBlockSize, 1<<62
	case OptTransferSize:
		lo, hi = 0, 1<<62
	case OptTimeout:
		lo, hi = MinTimeoutOption, MaxTimeoutOption
	case OptUTimeout:
		lo, hi = MinUTimeout, MaxUTimeout
	case OptWindowSize:
		lo, hi = 1, MaxWindowSize
	default:
		return 0, false, nil
	}
	v, ok := parseDecimal(value)
	if !ok {
		return 0, true, &Error{Code: ErrOption, Message: fmt.Sprintf("option %s: value %q is not a decimal number in range", name, value)}
	}
	if v < lo || v > hi {
		return 0, true, &Error{Code: ErrOption, Message: fmt.Sprintf("option %s: value %s out of range %d..%d", name, value, lo, hi)}
	}
	return v, true, nil
}

// parseDecimal accepts only ASCII digits (no sign, no spaces) and values
// below 2^62.
func parseDecimal(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return 0, true
	}
	if len(s) > 18 { // 18 digits stay below 2^62
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// negotiation is what the server agreed with a client.
type negotiation struct {
	blockSize  int
	windowSize int
	timeout    time.Duration // 0: the client did not ask; adaptive timer
	tsize      int64         // the client's tsize value, -1 if absent
	tsizeAsked bool
	reply      Options // accepted options in client order
	tsizeIdx   int     // index of tsize in reply, or -1
}

// negotiate validates the options of a request (op is OpRRQ or OpWRQ) and
// computes the reply the server would send, clamping blksize to maxBlock and
// windowsize to maxWindow. Unknown options are left out of the reply. A
// nonsense value is answered with an *Error of code ErrOption, except the
// value of tsize in an RRQ: it carries no information (RFC 2349 has the
// client send 0), and clients send other things (atftp's documented
// "tsize enable"), so any value asks for the size, as with tftp-hpa. The
// tsize entry of the reply for an RRQ must be filled in (or removed) by the
// caller once the size is known.
func negotiate(op Opcode, opts Options, maxBlock, maxWindow int) (negotiation, *Error) {
	n := negotiation{blockSize: DefaultBlockSize, windowSize: 1, tsize: -1, tsizeIdx: -1}
	seen := 0
	for _, o := range opts {
		v, known, err := ParseOption(o.Name, o.Value)
		if !known {
			continue
		}
		if err != nil && op == OpRRQ && strings.EqualFold(o.Name, OptTransferSize) {
			v, err = 0, nil
		}
		if err != nil {
			return n, err.(*Error)
		}
		name := strings.ToLower(o.Name)
		var bit int
		switch name {
		case OptBlockSize:
			bit = 1
		case OptTransferSize:
			bit = 2
		case OptTimeout:
			bit = 4
		case OptUTimeout:
			bit = 8
		case OptWindowSize:
			bit = 16
		}
		if seen&bit != 0 {
			continue // a repeated option: the first one counts
		}
		seen |= bit
		val := o.Value
		switch name {
		case OptBlockSize:
			if v > int64(maxBlock) {
				v = int64(maxBlock)
			}
			n.blockSize = int(v)
			val = strconv.FormatInt(v, 10)
		case OptTransferSize:
			n.tsize = v
			n.tsizeAsked = true
			n.tsizeIdx = len(n.reply)
		case OptTimeout:
			if n.timeout == 0 {
				n.timeout = time.Duration(v) * time.Second
			}
		case OptUTimeout:
			n.timeout = time.Duration(v) * time.Microsecond
		case OptWindowSize:
			if v > int64(maxWindow) {
				v = int64(maxWindow)
			}
			n.windowSize = int(v)
			val = strconv.FormatInt(v, 10)
		}
		n.reply = append(n.reply, Option{Name: o.Name, Value: val})
	}
	return n, nil
}

// setTSize answers the tsize option with size, or drops it from the reply
// when size < 0.
func (n *negotiation) setTSize(size int64) {
	if n.tsizeIdx < 0 {
		return
	}
	if size < 0 {
		n.reply = append(n.reply[:n.tsizeIdx], n.reply[n.tsizeIdx+1:]...)
		n.tsizeIdx = -1
		return
	}
	n.reply[n.tsizeIdx].Value = strconv.FormatInt(size, 10)
}
