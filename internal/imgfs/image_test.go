package imgfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

func TestLock(t *testing.T) {
	v := fixture.NewFAT(t, fixture.FAT{Type: 12, Size: 1 << 20, Tree: fixture.Tree{"a.txt": {Data: []byte("a")}}})
	first, err := OpenImage(v.Image, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenImage(v.Image, true)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || err.Error() != v.Image+" is being written by another process" {
		t.Fatalf("second writer: %v", err)
	}
	// Readers take no lock.
	r, err := OpenImage(v.Image, false)
	if err != nil {
		t.Fatal(err)
	}
	vol, err := r.FS(0, false)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := fs.ReadFile(vol, "a.txt"); err != nil || string(b) != "a" {
		t.Errorf("read while locked: %q %v", b, err)
	}
	if _, err := vol.Create("b.txt"); err == nil {
		t.Error("Create on a read-only image succeeded")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenImage(v.Image, true)
	if err != nil {
		t.Fatalf("after Close the lock is still held: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenImage(filepath.Join(dir, "nope.img"), true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing image: %v", err)
	}
	junk := filepath.Join(dir, "junk.img")
	if err := os.WriteFile(junk, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	im, err := OpenImage(junk, false)
	if err == nil {
		if _, err = im.FS(0, false); err == nil {
			t.Error("a zeroed file opened as a FAT file system")
		}
		im.Close()
	}
	d := fixture.NewDisk(t, fixture.Disk{Label: "dos", Partitions: []fixture.Partition{
		{Type: "c", Size: 34 << 20, FAT: &fixture.FAT{Type: 32, Size: 34 << 20}},
		{Type: "83", Size: 1 << 20},
	}})
	im, err = OpenImage(d.Path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	var nf *NotFATError
	if _, err := im.FS(2, true); !errors.As(err, &nf) || nf.Part != 2 {
		t.Errorf("FS(2) = %v, want a NotFATError", err)
	}
	if _, err := im.FS(5, true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("FS(5) = %v", err)
	}
	a, err := im.FS(0, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := im.FS(1, true)
	if err != nil || a != b {
		t.Errorf("FS(1) is not the boot volume: %v", err)
	}
	if err := im.Extend(64 << 20); err == nil {
		t.Error("Extend of a read-only image succeeded")
	}
}
