package serve

import "testing"

func TestGCPercent(t *testing.T) {
	unset := func(string) (string, bool) { return "", false }
	if pct, ok := gcPercent(unset); !ok || pct != 50 {
		t.Errorf("GOGC unset: %d, %v; want 50, true", pct, ok)
	}
	set := func(k string) (string, bool) { return "200", k == "GOGC" }
	if _, ok := gcPercent(set); ok {
		t.Error("GOGC set: the daemon overrides it")
	}
}
