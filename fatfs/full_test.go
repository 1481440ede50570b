package fatfs_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
)

// TestFullVolume fills every configuration to the last cluster and checks
// that what does not fit fails with ENOSPC and changes nothing.
func TestFullVolume(t *testing.T) {
	for _, c := range writeConfigs() {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && strings.Contains(c.name, "fat32-4096") {
				t.Skip("268 MB to fill")
			}
			r := c.build(t)
			fsys, model := r.fsys, r.model
			cs := int64(fsys.Geometry().ClusterSize)
			if err := fsys.Mkdir("full dir", 0o755); err != nil {
				t.Fatal(err)
			}
			model["full dir"] = fixture.File{Dir: true}
			free0 := fsys.FreeClusters()

			f, err := fsys.Create("fill.bin")
			if err != nil {
				t.Fatal(err)
			}
			chunk := 7*cs + 3
			var data []byte
			for i := 0; ; i++ {
				if i > int(free0)+1 {
					t.Fatal("the volume never filled")
				}
				p := fixture.Pseudo(uint64(i), int(chunk))
				n, err := f.Write(p)
				if err != nil {
					if !errors.Is(err, syscall.ENOSPC) || n != 0 {
						t.Fatalf("write %d: %d, %v; want 0, ENOSPC", i, n, err)
					}
					break
				}
				data = append(data, p...)
			}
			if st, _ := f.Stat(); st.Size() != int64(len(data)) {
				t.Fatalf("after the failed write the size is %d, want %d", st.Size(), len(data))
			}
			// Exactly what is left fits.
			free := fsys.FreeClusters()
			slack := (cs - int64(len(data))%cs) % cs
			rest := fixture.Pseudo(99, int(free*cs+slack))
			if _, err := f.Write(rest); err != nil {
				t.Fatalf("writing the last %d clusters: %v", free, err)
			}
			data = append(data, rest...)
			if got := fsys.FreeClusters(); got != 0 {
				t.Fatalf("%d clusters free after filling", got)
			}
			if _, err := f.Write([]byte{1}); !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("one byte more: %v, want ENOSPC", err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			model["fill.bin"] = fixture.File{Data: data}
			r.check(t, "full")

			// Nothing that needs a cluster works, and nothing changes.
			if err := fsys.Mkdir("another", 0o755); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("mkdir on a full volume: %v", err)
			}
			if err := fsys.WriteFile("small", []byte("x"), 0o644); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("writing a new file on a full volume: %v", err)
			}
			model["small"] = fixture.File{} // created, empty: its write failed
			g, err := fsys.OpenFile("fill.bin", os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Truncate(int64(len(data)) + cs); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("growing a file on a full volume: %v", err)
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			r.checkPaths(t, "failed writes on a full volume")
			// Empty files need no cluster until their directory is full.
			var made int
			for i := 0; ; i++ {
				if i > 70000 {
					t.Fatal("the directory never filled")
				}
				name := fmt.Sprintf("full dir/empty file number %d", i)
				err := fsys.WriteFile(name, nil, 0o644)
				if err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("%s: %v", name, err)
					}
					break
				}
				model[name] = fixture.File{}
				made++
			}
			if want := int(cs) / 32 / 3; made < want-2 || made > want {
				t.Errorf("%d empty files fit in the directory's cluster, want about %d", made, want)
			}
			if err := fsys.Rename("small", "full dir/a long name that needs entries"); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("moving into a full directory: %v", err)
			}
			r.checkPaths(t, "full directory")

			// Removing frees everything again.
			if err := fsys.Remove("fill.bin"); err != nil {
				t.Fatal(err)
			}
			delete(model, "fill.bin")
			if got := fsys.FreeClusters(); got != free0 {
				t.Errorf("after removing the filler %d clusters free, want %d", got, free0)
			}
			r.check(t, "after removing the filler")
		})
	}
}
