package main

import (
	"path/filepath"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/cli/demo"
)

// TestBootls lists the demo image, which must succeed.
func TestBootls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.img")
	if err := demo.BuildImage(path); err != nil {
		t.Fatal(err)
	}
	if err := run(path); err != nil {
		t.Fatal(err)
	}
	if err := run(filepath.Join(t.TempDir(), "missing.img")); err == nil {
		t.Fatal("listing a missing image succeeded")
	}
}
