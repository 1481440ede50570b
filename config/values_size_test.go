package config

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	good := map[any]int64{
		int64(0): 0, int64(4096): 4096, "16MiB": 16 << 20, "16 MiB": 16 << 20,
		"512KiB": 512 << 10, "1GiB": 1 << 30, "2MB": 2e6, "10kB": 10e3, "123": 123, "0": 0,
	}
	for in, want := range good {
		got, err := parseSize(in, parseEnv{})
		if err != nil || got.(int64) != want {
			t.Errorf("parseSize(%#v) = %v, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []any{int64(-1), "-1MiB", "1.5GiB", "16 parsecs", "MiB", "", 1.5, true, "99999999999GiB"} {
		if got, err := parseSize(in, parseEnv{}); err == nil || !strings.Contains(err.Error(), "16MiB") {
			t.Errorf("parseSize(%#v) = %v, %v; want an error naming the accepted forms", in, got, err)
		}
	}
}
