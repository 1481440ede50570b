package config

import (
	"strings"
	"testing"
)

func TestParseSerial(t *testing.T) {
	tests := []struct {
		in   string
		want Serial
		err  string // substring of the error; "" for success
	}{
		{in: "1234abcd", want: 0x1234abcd},
		{in: "1234ABCD", want: 0x1234abcd},
		{in: "1234AbCd", want: 0x1234abcd},
		{in: "01234abc", want: 0x01234abc},
		{in: "1234abc", want: 0x01234abc},
		{in: "1", want: 1},
		{in: "00000000", want: 0},
		{in: "ffffffff", want: 0xffffffff},
		{in: "100000001234abcd", want: 0x1234abcd},
		{in: "000000001234ABCD", want: 0x1234abcd},
		{in: "10000000ffffffff", want: 0xffffffff},
		{in: "1000000001234abc", want: 0x01234abc},
		{in: "0000000000000001", want: 1},
		{in: "01234abcd", want: 0x1234abcd}, // 9 digits, upper half 0
		{in: "", err: `serial "": empty; want 8 hex digits (or 16 with prefix 10000000)`},
		{in: "xyz", err: `serial "xyz": not hex; want 8 hex digits (or 16 with prefix 10000000)`},
		{in: "1234abcg", err: `serial "1234abcg": not hex; want`},
		{in: " 1234abcd", err: `serial " 1234abcd": not hex`},
		{in: "0x1234abcd", err: `serial "0x1234abcd": not hex`},
		{in: "-1234abc", err: `not hex`},
		{in: "200000001234abcd", err: `serial "200000001234abcd": prefix 20000000 is neither 10000000 nor 00000000; want 8 hex digits (or 16 with prefix 10000000)`},
		{in: "100000011234abcd", err: `prefix 10000001 is neither`},
		{in: "11234abcd", err: `prefix 00000001 is neither`},
		{in: "1000000001234abcd", err: `serial "1000000001234abcd": too long (17 digits); want 8 hex digits (or 16 with prefix 10000000)`},
	}
	for _, tt := range tests {
		got, err := ParseSerial(tt.in)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseSerial(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseSerial(%q) error = %v; want %q", tt.in, err, tt.err)
		}
	}
}

func TestSerialString(t *testing.T) {
	for s, want := range map[Serial]string{0: "00000000", 0x1234abc: "01234abc", 0xDEADBEEF: "deadbeef"} {
		if got := s.String(); got != want {
			t.Errorf("Serial(%#x).String() = %q; want %q", uint32(s), got, want)
		}
		back, err := ParseSerial(want)
		if err != nil || back != s {
			t.Errorf("ParseSerial(%q) = %v, %v; want round trip to %#x", want, back, err, uint32(s))
		}
	}
}

func TestParseMAC(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "dc:a6:32:01:36:c2", want: "dc-a6-32-01-36-c2"},
		{in: "DC-A6-32-01-36-C2", want: "dc-a6-32-01-36-c2"},
		{in: "dca6.3201.36c2", want: "dc-a6-32-01-36-c2"},
		{in: "dc:a6:32:01:36", err: `mac "dc:a6:32:01:36": not a MAC address; want a 6-byte MAC`},
		{in: "02:00:5e:10:00:00:00:01", err: `mac "02:00:5e:10:00:00:00:01": 8 bytes long; want a 6-byte MAC`},
		{in: "00:00:00:00:00:00", err: `all zero`},
		{in: "", err: `not a MAC address`},
	}
	for _, tt := range tests {
		got, err := ParseMAC(tt.in)
		if tt.err == "" {
			if err != nil || got.String() != tt.want {
				t.Errorf("ParseMAC(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseMAC(%q) error = %v; want %q", tt.in, err, tt.err)
		}
	}
	if got := (MAC{}).String(); got != "" {
		t.Errorf("zero MAC String() = %q; want empty", got)
	}
}

func TestCheckPrefix(t *testing.T) {
	ok := []string{"lab-pi", "a", strings.Repeat("x", 32), "PI4_rack.2"}
	for _, p := range ok {
		if err := checkPrefix(p); err != nil {
			t.Errorf("checkPrefix(%q) = %v; want nil", p, err)
		}
	}
	bad := map[string]string{
		"":                      "empty",
		strings.Repeat("x", 33): "too long (33 characters)",
		"a/b":                   `contains '/'`,
		"a b":                   `contains ' '`,
		"..":                    "not a directory name",
		"caf\u00e9":             "contains",
		"a\\b":                  "contains",
	}
	for p, want := range bad {
		err := checkPrefix(p)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("checkPrefix(%q) = %v; want error containing %q", p, err, want)
		}
	}
}
