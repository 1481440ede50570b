package sh

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

// BenchmarkCp copies a 16 MiB host file into a FAT32 partition and back
// out; bytes per second are of one direction.
func BenchmarkCp(b *testing.B) {
	d := fixture.NewDisk(b, fixture.Disk{Label: "dos", Partitions: []fixture.Partition{
		{Type: "c", Size: 64 << 20, FAT: &fixture.FAT{Type: 32, Size: 64 << 20}},
	}})
	dir := b.TempDir()
	src := filepath.Join(dir, "src.bin")
	data := fixture.Pseudo(3, 16<<20)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(dir, "out.bin")
	b.Run("in", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var errs bytes.Buffer
			if code := Main(b.Context(), []string{"cp", src, d.Path + ":1/big.bin"}, nil, io.Discard, &errs); code != 0 {
				b.Fatal(errs.String())
			}
		}
	})
	b.Run("out", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var errs bytes.Buffer
			if code := Main(b.Context(), []string{"cp", d.Path + ":1/big.bin", out}, nil, io.Discard, &errs); code != 0 {
				b.Fatal(errs.String())
			}
		}
	})
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		b.Fatalf("round trip differs: %v", err)
	}
}
