package fatfs_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/internal/testpeer"
)

// noSync hides *os.File's Sync, so that FS.Sync does not fsync: mcopy does
// not either, and the comparison is of the file-system code.
type noSync struct{ f *os.File }

func (n noSync) ReadAt(p []byte, off int64) (int, error)  { return n.f.ReadAt(p, off) }
func (n noSync) WriteAt(p []byte, off int64) (int, error) { return n.f.WriteAt(p, off) }

// BenchmarkWrite copies a 30 MB file into a FAT32 image made by mkfs.vfat,
// with fatfs (io.Copy from a file on disk: 32 KiB writes) and with mcopy
// (one process per copy, as a user runs it), in the same run. Each
// iteration replaces the file. The result is checked with fsck.fat and
// mtype afterwards.
func BenchmarkWrite(b *testing.B) {
	for _, c := range []struct {
		name string
		spc  int
		size int64
	}{
		{"512B-clusters", 1, 40 * mib},
		{"4K-clusters", 8, 300 * mib},
	} {
		b.Run(c.name, func(b *testing.B) {
			v := fixture.NewFAT(b, fixture.FAT{Type: 32, SectorsPerCluster: c.spc, Size: c.size})
			data := fixture.Pseudo(30, benchFileSize)
			src := filepath.Join(b.TempDir(), "big.bin")
			if err := os.WriteFile(src, data, 0o644); err != nil {
				b.Fatal(err)
			}
			b.Run("fatfs", func(b *testing.B) {
				img, err := os.OpenFile(v.Image, os.O_RDWR, 0)
				if err != nil {
					b.Fatal(err)
				}
				defer img.Close()
				fsys, err := fatfs.NewRW(noSync{img}, v.Size, nil)
				if err != nil {
					b.Fatal(err)
				}
				in, err := os.Open(src)
				if err != nil {
					b.Fatal(err)
				}
				defer in.Close()
				b.SetBytes(benchFileSize)
				b.ResetTimer()
				for range b.N {
					if err := fsys.Remove("big.bin"); err != nil && !os.IsNotExist(err) {
						b.Fatal(err)
					}
					f, err := fsys.Create("big.bin")
					if err != nil {
						b.Fatal(err)
					}
					if _, err := in.Seek(0, io.SeekStart); err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(f, in); err != nil {
						b.Fatal(err)
					}
					if err := f.Close(); err != nil {
						b.Fatal(err)
					}
					if err := fsys.Sync(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if err := fsys.Close(); err != nil {
					b.Fatal(err)
				}
				checkBig(b, v, data)
			})
			b.Run("mcopy", func(b *testing.B) {
				bin := testpeer.Require(b, "mcopy")
				b.SetBytes(benchFileSize)
				b.ResetTimer()
				for range b.N {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					cmd := exec.CommandContext(ctx, bin, "-o", "-i", v.Mtools(), src, "::/big.bin")
					cmd.Env = fixture.Env()
					out, err := cmd.CombinedOutput()
					cancel()
					if err != nil {
						b.Fatalf("mcopy: %v\n%s", err, out)
					}
				}
				b.StopTimer()
				checkBig(b, v, data)
			})
		})
	}
}

// checkBig checks the volume with fsck.fat and big.bin's contents with
// mtype.
func checkBig(b *testing.B, v *fixture.Volume, data []byte) {
	b.Helper()
	fixture.Fsck(b, v)
	got := fixture.Run(b, "mtype", "-i", v.Mtools(), "::/big.bin")
	if !bytes.Equal(got, data) {
		b.Fatalf("big.bin: %d bytes read back by mtype differ from the %d written", len(got), len(data))
	}
}
