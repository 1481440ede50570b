package prep

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnit is a suffix ParseSize accepts (upper-cased) and its power of 2.
type sizeUnit struct {
	suffix string
	shift  uint
}

// sizeUnits returns the suffixes, longest first; all are powers of 1024 as
// nobodd-prep takes them: "16GB" is 16 GiB.
func sizeUnits() []sizeUnit {
	return []sizeUnit{
		{"KIB", 10}, {"MIB", 20}, {"GIB", 30}, {"TIB", 40},
		{"KB", 10}, {"MB", 20}, {"GB", 30}, {"TB", 40},
		{"K", 10}, {"M", 20}, {"G", 30}, {"T", 40},
		{"B", 0},
	}
}

// ParseSize parses a size in bytes with an optional suffix: K, M, G or T,
// each alone or followed by B or iB, in any case, all meaning powers of 1024
// (16GB, 16G and 16GiB are 17179869184 bytes); or a bare number of bytes.
// The number is a non-negative integer.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	shift := uint(0)
	for _, u := range sizeUnits() {
		if strings.HasSuffix(t, u.suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			shift = u.shift
			break
		}
	}
	n, err := strconv.ParseUint(t, 10, 63)
	if err != nil || t == "" {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional suffix K, M, G or T (16GB, 512M, 1GiB)", s)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return int64(n) << shift, nil
}

// FormatSize writes n bytes for people: exact bytes, with a binary unit
// when n is large, as in "17179869184 bytes (16 GiB)".
func FormatSize(n int64) string {
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	s := fmt.Sprintf("%d bytes", n)
	u := ""
	f := float64(n)
	for _, name := range units {
		if f < 1024 {
			break
		}
		f /= 1024
		u = name
	}
	if u == "" {
		return s
	}
	return fmt.Sprintf("%s (%.4g %s)", s, f, u)
}
