package image

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// enlarge makes the file at path size bytes long.
func enlarge(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func openWritableTest(t *testing.T, path string) *Image {
	t.Helper()
	img, err := OpenWritable(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

func TestGrowMBRPrimary(t *testing.T) {
	path := piImage(t)
	enlarge(t, path, 768<<20)
	img := openWritableTest(t, path)
	if err := img.GrowPartition(2, 100<<20); err == nil || !strings.Contains(err.Error(), "will not shrink") {
		t.Errorf("shrinking: %v", err)
	}
	if err := img.GrowPartition(1, 200<<20); err == nil || !strings.Contains(err.Error(), "next partition") {
		t.Errorf("growing into partition 2: %v", err)
	}
	if err := img.GrowPartition(2, 0); err != nil {
		t.Fatal(err)
	}
	p2, err := img.Partition(2)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(768<<20) - 270336*512; p2.Size != want {
		t.Errorf("partition 2 has %d bytes, want %d", p2.Size, want)
	}
	crossCheck(t, img, path)
	if boot, err := img.BootPartition(); err != nil || boot.Number != 1 || boot.Size != 262144*512 {
		t.Errorf("boot partition after growing root: %v, %v", boot, err)
	}
	if _, err := openTest(t, path).Partition(2); err != nil {
		t.Error(err)
	}
}

func TestGrowMBRLogical(t *testing.T) {
	path := logicalImage(t)
	enlarge(t, path, 96<<20)
	img := openWritableTest(t, path)
	if err := img.GrowPartition(2, 0); err == nil || !strings.Contains(err.Error(), "extended") {
		t.Errorf("growing the extended partition: %v", err)
	}
	if err := img.GrowPartition(5, 16<<20); err == nil {
		t.Error("partition 5 grew over the EBR of partition 6")
	}
	if err := img.GrowPartition(7, 0); err != nil {
		t.Fatal(err)
	}
	crossCheck(t, img, path)
	total := int64(96<<20) / 512
	for _, c := range []struct {
		n    int
		size int64
	}{{2, total - 10240}, {7, total - 65536}, {6, 40960}} {
		p, err := img.Partition(c.n)
		if err != nil || p.Size != c.size*512 {
			t.Errorf("partition %d: %v, %v; want %d sectors", c.n, p, err, c.size)
		}
	}
	out := run(t, "sfdisk", "", "--verify", path)
	if !strings.Contains(out, "No errors detected") {
		t.Errorf("sfdisk --verify:\n%s", out)
	}
}

func TestGrowGPT(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(testing.TB) string
		n     int
		ss    int64
	}{
		{"512", gptImage, 3, 512},
		{"4096", gpt4kImage, 2, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.build(t)
			enlarge(t, path, 96<<20)
			img := openWritableTest(t, path)
			if w := strings.Join(img.Warnings(), "\n"); !strings.Contains(w, "resized") {
				t.Errorf("warnings before growing %q, want one about the backup GPT", w)
			}
			if err := img.GrowPartition(tc.n, 0); err != nil {
				t.Fatal(err)
			}
			if w := img.Warnings(); len(w) != 0 {
				t.Errorf("warnings after growing: %q", w)
			}
			crossCheck(t, img, path)
			p, err := img.Partition(tc.n)
			if err != nil {
				t.Fatal(err)
			}
			total := int64(96<<20) / tc.ss
			arraySectors := 128 * 128 / tc.ss
			if end := (p.Start + p.Size) / tc.ss; end != total-1-arraySectors {
				t.Errorf("partition %d ends before sector %d, want %d", tc.n, end, total-1-arraySectors)
			}
			if tc.ss == 512 {
				out := run(t, "sgdisk", "", "-v", path)
				if !strings.Contains(out, "No problems found") {
					t.Errorf("sgdisk -v:\n%s", out)
				}
			}
			m, _ := img.MBR()
			if m.Entries[0].Sectors != uint32(total-1) {
				t.Errorf("protective MBR covers %d sectors, want %d", m.Entries[0].Sectors, total-1)
			}
		})
	}
}

func TestGrowReadOnly(t *testing.T) {
	path := piImage(t)
	img := openTest(t, path)
	if err := img.GrowPartition(2, 0); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("GrowPartition on a read-only image: %v", err)
	}
}
