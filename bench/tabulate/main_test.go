package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestTabulate(t *testing.T) {
	lines := []string{
		`{"mode":"transfers","total":1,"ok":1,"mb_per_s":10,"p50_s":0.1,"p99_s":0.1,"agreed_blksize":1468,"agreed_windowsize":1,"server_cpu_s":0.5,"server_peak_rss_bytes":2097152,"tags":{"server":"other","point":"p1","rep":"1"}}`,
		`{"mode":"transfers","total":1,"ok":1,"mb_per_s":20,"p50_s":0.1,"p99_s":0.1,"agreed_blksize":1468,"agreed_windowsize":1,"tags":{"server":"nobodd-go","point":"p1","rep":"1"}}`,
		`{"mode":"transfers","total":1,"ok":1,"mb_per_s":40,"p50_s":0.1,"p99_s":0.1,"agreed_blksize":1468,"agreed_windowsize":1,"tags":{"server":"nobodd-go","point":"p1","rep":"2"}}`,
		`{"mode":"transfers","total":1,"ok":0,"failed":1,"failures":{"timeout":1},"mb_per_s":30,"tags":{"server":"nobodd-go","point":"p1","rep":"3"}}`,
		``,
		`{"mode":"boots","total":4,"ok":4,"per_s":2,"tags":{"server":"nobodd-go","point":"boots","rep":"1"}}`,
	}
	var out bytes.Buffer
	if err := run(strings.NewReader(strings.Join(lines, "\n")), &out, "nobodd-go"); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(got) != 5 {
		t.Fatalf("%d lines, want header, rule and 3 rows:\n%s", len(got), out.String())
	}
	// nobodd-go first; its median of 20, 40, 30 is 30; other's ratio is 10/30.
	for i, want := range []string{
		"| p1 | nobodd-go | 1468/1 | 30.00 MB/s | 1.00 | 0.100 s | 0.100 s | 1 / 3 | timeout ×1 | n/a | n/a | n/a |",
		"| p1 | other | 1468/1 | 10.00 MB/s | 0.33 | 0.100 s | 0.100 s | 0 / 1 |  | 0.50 | n/a | 2.0 |",
		"| boots | nobodd-go | - | 2.00 boots/s | 1.00 | 0.000 s | 0.000 s | 0 / 4 |  | n/a | n/a | n/a |",
	} {
		if got[2+i] != want {
			t.Errorf("row %d:\n got %s\nwant %s", i, got[2+i], want)
		}
	}
	if err := run(strings.NewReader(`{"mode":"transfers"}`), &out, "nobodd-go"); err == nil {
		t.Error("a line without tags was accepted")
	}
	if err := run(strings.NewReader(`{`), &out, "nobodd-go"); err == nil {
		t.Error("bad JSON was accepted")
	}
}
