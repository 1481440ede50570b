package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Serial is a Raspberry Pi serial number: the low 32 bits of the number
// /proc/cpuinfo shows, which the boot firmware sends as the first path
// element of every TFTP request, as 8 lower-case hex digits.
type Serial uint32

// serialWant is the accepted-values part of every serial number error.
const serialWant = "want 8 hex digits (or 16 with prefix 10000000)"

// String returns the serial number as the firmware writes it in TFTP paths:
// 8 lower-case hex digits with leading zeros, e.g. "0123abcd".
func (s Serial) String() string { return fmt.Sprintf("%08x", uint32(s)) }

// ParseSerial parses a serial number as people write it: hex digits in either
// case, either the 8-digit form the firmware uses or the 16-digit
// /proc/cpuinfo form whose upper half is 10000000 or 00000000. Leading zeros
// are optional ("1234abc" is 0x01234abc). The error names the value and what
// is accepted.
func ParseSerial(s string) (Serial, error) {
	v, err := parseSerial(s)
	if err != nil {
		return 0, fmt.Errorf("serial %q: %w", s, err)
	}
	return v, nil
}

// parseSerial is ParseSerial with an error that does not repeat the value.
func parseSerial(s string) (Serial, error) {
	switch {
	case s == "":
		return 0, errors.New("empty; " + serialWant)
	case strings.IndexFunc(s, notHex) >= 0:
		return 0, errors.New("not hex; " + serialWant)
	case len(s) > 16:
		return 0, fmt.Errorf("too long (%d digits); %s", len(s), serialWant)
	}
	n, err := strconv.ParseUint(s, 16, 64)
	if err != nil { // cannot happen after the checks above, but never drop it
		return 0, fmt.Errorf("%v; %s", err, serialWant)
	}
	switch hi := n >> 32; hi {
	case 0, 0x10000000:
	default:
		return 0, fmt.Errorf("prefix %08x is neither 10000000 nor 00000000; %s", hi, serialWant)
	}
	return Serial(uint32(n)), nil
}

func notHex(r rune) bool {
	return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F')
}

// MAC is a 6-byte Ethernet address: the board prefix a Pi uses when its
// EEPROM sets TFTP_PREFIX=2. The zero MAC means "none".
type MAC [6]byte

// macWant is the accepted-values part of every MAC error.
const macWant = "want a 6-byte MAC such as dc:a6:32:01:36:c2 or dc-a6-32-01-36-c2"

// String returns the address in the form the Pi puts in TFTP paths: lower-case
// hex pairs joined by dashes, e.g. "dc-a6-32-01-36-c2". The zero MAC gives "".
func (m MAC) String() string {
	if m.IsZero() {
		return ""
	}
	return fmt.Sprintf("%02x-%02x-%02x-%02x-%02x-%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// IsZero reports whether m is the zero MAC, which stands for "no MAC".
func (m MAC) IsZero() bool { return m == MAC{} }

// ParseMAC parses a 6-byte MAC address in any form net.ParseMAC accepts
// (colons, dashes, or Cisco dots). Longer hardware addresses and the all-zero
// address are refused.
func ParseMAC(s string) (MAC, error) {
	m, err := parseMAC(s)
	if err != nil {
		return MAC{}, fmt.Errorf("mac %q: %w", s, err)
	}
	return m, nil
}

func parseMAC(s string) (MAC, error) {
	hw, err := net.ParseMAC(s)
	if err != nil {
		return MAC{}, errors.New("not a MAC address; " + macWant)
	}
	if len(hw) != 6 {
		return MAC{}, fmt.Errorf("%d bytes long; %s", len(hw), macWant)
	}
	var m MAC
	copy(m[:], hw)
	if m.IsZero() {
		return MAC{}, errors.New("all zero; " + macWant)
	}
	return m, nil
}

// maxPrefix is the longest TFTP_PREFIX_STR the Pi bootloader accepts.
const maxPrefix = 32

const prefixWant = "want 1 to 32 printable ASCII characters, no '/' or '\\', not \".\" or \"..\""

// checkPrefix validates a custom TFTP_PREFIX_STR: it must be usable as the
// first element of a TFTP path.
func checkPrefix(s string) error {
	switch {
	case s == "":
		return errors.New("empty; " + prefixWant)
	case len(s) > maxPrefix:
		return fmt.Errorf("too long (%d characters); %s", len(s), prefixWant)
	case s == "." || s == "..":
		return errors.New("not a directory name; " + prefixWant)
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || c == '/' || c == '\\' {
			return fmt.Errorf("contains %q; %s", c, prefixWant)
		}
	}
	return nil
}
