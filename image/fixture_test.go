package image

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
)

// run runs a test peer with stdin, bounded in time, and returns its
// standard output; it fails the test when the program fails.
func run(t testing.TB, prog, stdin string, args ...string) string {
	t.Helper()
	path := testpeer.Require(t, prog)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", prog, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// newFile makes a sparse file of size bytes in a test directory.
func newFile(t testing.TB, name string, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// sfdisk writes a partition table with 512-byte sectors from an sfdisk
// script.
func sfdisk(t testing.TB, path, script string) {
	t.Helper()
	run(t, "sfdisk", script, "--quiet", "--no-reread", "--no-tell-kernel", path)
}

// fdisk4k writes a partition table with 4096-byte sectors from an sfdisk
// script, through fdisk's "I" (load script) command; sfdisk itself cannot
// be told the sector size of a regular file.
func fdisk4k(t testing.TB, path, script string) {
	t.Helper()
	sp := path + ".sfdisk"
	if err := os.WriteFile(sp, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "fdisk", "I\n"+sp+"\nw\n", "-b", "4096", path)
}

// mkfat puts a FAT file system of kib KiB with sectors of ss bytes at
// sector offset (of ss bytes) of the image; bits is 12, 16, 32 or 0 for
// mkfs.vfat's choice.
func mkfat(t testing.TB, path string, offset int64, ss int, kib int64, bits int) {
	t.Helper()
	args := []string{"-S", strconv.Itoa(ss), "--offset", strconv.FormatInt(offset, 10), "-n", "BOOT"}
	if bits != 0 {
		args = append(args, "-F", strconv.Itoa(bits))
	}
	args = append(args, path)
	if kib > 0 {
		args = append(args, strconv.FormatInt(kib, 10))
	}
	run(t, "mkfs.vfat", "", args...)
}

// toolPart is a partition as sfdisk or fdisk report it, in sectors.
type toolPart struct {
	Number   int
	Start    int64
	Size     int64
	Type     string // "c" or a GUID
	Name     string
	Bootable bool
}

// sfdiskJSON lists the partitions of a 512-byte-sector image with
// sfdisk --json.
func sfdiskJSON(t testing.TB, path string) (label string, parts []toolPart) {
	t.Helper()
	out := run(t, "sfdisk", "", "--json", path)
	var doc struct {
		PartitionTable struct {
			Label      string `json:"label"`
			SectorSize int    `json:"sectorsize"`
			Partitions []struct {
				Node     string `json:"node"`
				Start    int64  `json:"start"`
				Size     int64  `json:"size"`
				Type     string `json:"type"`
				Name     string `json:"name"`
				Bootable bool   `json:"bootable"`
			} `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("sfdisk --json %s: %v\n%s", path, err, out)
	}
	if doc.PartitionTable.SectorSize != 512 {
		t.Fatalf("sfdisk --json %s: sector size %d", path, doc.PartitionTable.SectorSize)
	}
	for _, p := range doc.PartitionTable.Partitions {
		n, err := strconv.Atoi(strings.TrimPrefix(p.Node, path))
		if err != nil {
			t.Fatalf("sfdisk node %q: %v", p.Node, err)
		}
		parts = append(parts, toolPart{n, p.Start, p.Size, p.Type, p.Name, p.Bootable})
	}
	return doc.PartitionTable.Label, parts
}

var dumpLine = regexp.MustCompile(`^(\S+?)(\d+) : start=\s*(\d+), size=\s*(\d+), type=([0-9A-Fa-f-]+)(.*)$`)

// fdiskDump4k lists the partitions of a 4096-byte-sector image from fdisk's
// "O" (dump as sfdisk script) command.
func fdiskDump4k(t testing.TB, path string) (label string, parts []toolPart) {
	t.Helper()
	dp := path + ".dump"
	run(t, "fdisk", "O\n"+dp+"\nq\n", "-b", "4096", path)
	b, err := os.ReadFile(dp)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if l, ok := strings.CutPrefix(line, "label: "); ok {
			label = l
		}
		m := dumpLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var p toolPart
		p.Number, _ = strconv.Atoi(m[2])
		p.Start, _ = strconv.ParseInt(m[3], 10, 64)
		p.Size, _ = strconv.ParseInt(m[4], 10, 64)
		p.Type = m[5]
		rest := m[6]
		p.Bootable = strings.Contains(rest, "bootable")
		if i := strings.Index(rest, `name="`); i >= 0 {
			q := rest[i+5:]
			q = q[:strings.LastIndex(q, `"`)+1]
			if p.Name, err = strconv.Unquote(q); err != nil {
				t.Fatalf("fdisk dump name %s: %v", q, err)
			}
		}
		parts = append(parts, p)
	}
	if label == "" {
		t.Fatalf("fdisk dump of %s has no label:\n%s", path, b)
	}
	return label, parts
}

// crossCheck compares the image's partitions with what sfdisk (512-byte
// sectors) or fdisk (4096-byte sectors) reports for the same file.
func crossCheck(t *testing.T, img *Image, path string) {
	t.Helper()
	var label string
	var parts []toolPart
	if img.SectorSize() == 4096 {
		label, parts = fdiskDump4k(t, path)
	} else {
		label, parts = sfdiskJSON(t, path)
	}
	wantLabel := map[Scheme]string{SchemeMBR: "dos", SchemeGPT: "gpt"}[img.Scheme()]
	if label != wantLabel {
		t.Errorf("tool says label %q, image says scheme %v", label, img.Scheme())
	}
	got := img.Partitions()
	if len(got) != len(parts) {
		t.Fatalf("%d partitions, tool lists %d: %+v", len(got), len(parts), parts)
	}
	ss := int64(img.SectorSize())
	for i, w := range parts {
		g := got[i]
		if g.Number != w.Number || g.Start != w.Start*ss || g.Size != w.Size*ss {
			t.Errorf("partition %d at byte %d, %d bytes; tool: partition %d at sector %d, %d sectors of %d bytes",
				g.Number, g.Start, g.Size, w.Number, w.Start, w.Size, ss)
		}
		if img.Scheme() == SchemeGPT {
			if g.Type.GUID.String() != strings.ToUpper(w.Type) {
				t.Errorf("partition %d type %v, tool %s", g.Number, g.Type, w.Type)
			}
			if g.Name != w.Name {
				t.Errorf("partition %d name %q, tool %q", g.Number, g.Name, w.Name)
			}
		} else {
			tb, err := strconv.ParseUint(w.Type, 16, 8)
			if err != nil || byte(tb) != g.Type.MBR {
				t.Errorf("partition %d type %v, tool %s", g.Number, g.Type, w.Type)
			}
			if g.Bootable != w.Bootable {
				t.Errorf("partition %d bootable %v, tool %v", g.Number, g.Bootable, w.Bootable)
			}
		}
	}
}

// openTest opens path and closes it when the test ends.
func openTest(t *testing.T, path string) *Image {
	t.Helper()
	img, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := img.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return img
}

// numbers lists partition numbers.
func numbers(ps []*Partition) []int {
	var n []int
	for _, p := range ps {
		n = append(n, p.Number)
	}
	return n
}

// piImage builds a Raspberry Pi OS-like image: a FAT32 (0x0C) boot
// partition at sector 8192 and a Linux root after it.
func piImage(t testing.TB) string {
	path := newFile(t, "pi.img", 512<<20)
	sfdisk(t, path, "label: dos\nstart=8192, size=262144, type=c\nstart=270336, type=83\n")
	mkfat(t, path, 8192, 512, 131072, 32)
	return path
}

// logicalImage builds an MBR image with an extended partition (2) holding
// logical partitions 5 (Linux), 6 (FAT16, 0x06) and 7 (Linux).
func logicalImage(t testing.TB) string {
	path := newFile(t, "logical.img", 64<<20)
	sfdisk(t, path, "label: dos\nstart=2048, size=8192, type=83\nstart=10240, type=5\nsize=8192, type=83\nsize=40960, type=6\ntype=83\n")
	mkfat(t, path, 22528, 512, 20480, 16)
	return path
}

// gptImage builds a GPT image with 512-byte sectors with sgdisk: an EFI
// system partition 1 with FAT16, entry 2 empty, a Linux partition 3 with a
// non-ASCII name.
func gptImage(t testing.TB) string {
	path := newFile(t, "gpt.img", 64<<20)
	run(t, "sgdisk", "",
		"-n", "1:2048:+20M", "-t", "1:EF00", "-c", "1:EFI boot",
		"-n", "3:0:+16M", "-t", "3:8300", "-c", "3:rööt ✓",
		path)
	mkfat(t, path, 2048, 512, 20480, 16)
	return path
}

// gpt4kImage builds a GPT image with 4096-byte sectors (through fdisk -b
// 4096): a basic data partition 1 with a 4096-byte-sector FAT, a Linux
// partition 2.
func gpt4kImage(t testing.TB) string {
	path := newFile(t, "gpt4k.img", 64<<20)
	fdisk4k(t, path, "label: gpt\n"+
		"start=256, size=4096, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=\"boot\"\n"+
		"start=8192, size=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"root fs\"\n")
	mkfat(t, path, 256, 4096, 16384, 0)
	return path
}
