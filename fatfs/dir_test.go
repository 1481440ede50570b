package fatfs

import "testing"

func TestCP850Table(t *testing.T) {
	if len([]rune(string(cp850[:]))) != 128 {
		t.Fatal("table length")
	}
	for b, want := range map[byte]rune{0x80: 'Ç', 0x9A: 'Ü', 0xD8: 'Ï', 0x99: 'Ö', 0x90: 'É', 0xE1: 'ß', 0xFE: '■', 0xFF: 0xA0, 0xF0: 0xAD} {
		if got := cp850[b-0x80]; got != want {
			t.Errorf("cp850[%#x] = %q, want %q", b, got, want)
		}
	}
}
