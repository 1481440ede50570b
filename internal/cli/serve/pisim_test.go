package serve

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/internal/pisim"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// unionFiles returns the boot files of a Pi 3B+, a Pi 4 and a Pi 5 in one
// directory (later models win where names clash), for one FAT partition
// that boots all three.
func unionFiles(seed int64, initrdSize int) map[string][]byte {
	files := map[string][]byte{}
	for _, m := range []pisim.Model{pisim.Pi3BPlus, pisim.Pi4, pisim.Pi5} {
		maps.Copy(files, pisim.Files(m, 0, initrdSize, seed))
	}
	return files
}

func treeOf(files map[string][]byte) fixture.Tree {
	t := fixture.Tree{}
	for name, b := range files {
		t[name] = fixture.File{Data: b}
	}
	return t
}

// bootAll boots boards at once and fails the test for every boot that did
// not go as its manifest says.
func bootAll(t *testing.T, boards []*pisim.Board) []*pisim.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	results := make([]*pisim.Result, len(boards))
	var wg sync.WaitGroup
	for i, b := range boards {
		wg.Go(func() {
			res, err := b.Boot(ctx)
			if err != nil {
				t.Errorf("board %d (%v): %v", i, b.Model, err)
			}
			if res != nil && res.Err == nil && res.Reads == 0 {
				t.Errorf("board %d (%v): no file read", i, b.Model)
			}
			results[i] = res
		})
	}
	wg.Wait()
	return results
}

// TestPisimModels boots a Pi 3B+ (serial prefix, bootcode.bin from the
// root directory), a Pi 4 (MAC prefix) and a Pi 5 (custom prefix) from one
// image, every byte checked.
func TestPisimModels(t *testing.T) {
	files := unionFiles(1, 0)
	d := piDisk(t, treeOf(files))
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "bootcode.bin"), string(files["bootcode.bin"]))
	cfg := filepath.Join(t.TempDir(), "nobodd-go.toml")
	writeFile(t, cfg, fmt.Sprintf(`
[tftp]
root = %q

[board.pi3]
serial = "3b3b0001"
image = %q

[board.pi4]
mac = "dc:a6:32:01:36:c2"
image = %q

[board.pi5]
prefix = "lab-pi5"
image = %q
`, root, d.Path, d.Path, d.Path))
	dm := startDaemon(t, []string{"--config", cfg, "-v"}, nil)
	expect := pisim.NewManifest(files)
	boards := []*pisim.Board{
		{Model: pisim.Pi3BPlus, Serial: "100000003B3B0001", Server: dm.addr, Expect: expect},
		{Model: pisim.Pi4, Prefix: pisim.PrefixMAC, MAC: "DC-A6-32-01-36-C2", Server: dm.addr, Expect: expect},
		{Model: pisim.Pi5, Prefix: pisim.PrefixCustom, PrefixString: "lab-pi5", Server: dm.addr, Expect: expect},
	}
	for i, res := range bootAll(t, boards) {
		if res == nil {
			continue
		}
		if res.Err != nil {
			t.Errorf("%v: %v (failures %v)", boards[i].Model, res.Err, res.FailureKinds())
		}
		if res.FellBack {
			t.Errorf("%v fell back to unprefixed requests", boards[i].Model)
		}
		t.Logf("%v: %d requests, %d reads, %d probes, %d missing, %d bytes in %v",
			boards[i].Model, len(res.Requests), res.Reads, res.Probes, res.Missing, res.Bytes, res.Duration.Round(time.Millisecond))
	}
	dm.sigs <- syscall.SIGTERM
	if code := dm.wait(t); code != 0 {
		t.Errorf("exit status %d", code)
	}
	log := dm.log.String()
	// The Pi's tsize probes end in "Early terminate": debug lines, never
	// warnings.
	if len(tftptest.Lines(log, "level=DEBUG", "msg=transfer", "outcome=aborted")) == 0 {
		t.Errorf("no debug line for the early-terminate probes:\n%s", log)
	}
	if l := tftptest.Lines(log, "level=WARN"); len(l) > 0 {
		t.Errorf("warnings during normal boots: %q", l)
	}
	if len(tftptest.Lines(log, "msg=transfer", "file=bootcode.bin", "outcome=completed", `board=""`)) != 1 {
		t.Errorf("bootcode.bin not served once from the root:\n%s", log)
	}
}

// TestPisimBootStorm boots 50 emulated Pis of all three models at once.
func TestPisimBootStorm(t *testing.T) {
	const n = 50
	files := unionFiles(2, 0)
	d := piDisk(t, treeOf(files))
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "bootcode.bin"), string(files["bootcode.bin"]))
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "[tftp]\nroot = %q\n", root)
	expect := pisim.NewManifest(files)
	var boards []*pisim.Board
	models := []pisim.Model{pisim.Pi3BPlus, pisim.Pi4, pisim.Pi5}
	for i := range n {
		serial := fmt.Sprintf("5a%06x", i)
		fmt.Fprintf(&cfg, "\n[board.storm%02d]\nserial = %q\nimage = %q\n", i, serial, d.Path)
		boards = append(boards, &pisim.Board{Model: models[i%3], Serial: serial, Server: "", Expect: expect})
	}
	path := filepath.Join(t.TempDir(), "storm.toml")
	writeFile(t, path, cfg.String())
	dm := startDaemon(t, []string{"--config", path}, nil)
	for _, b := range boards {
		b.Server = dm.addr
	}
	start := time.Now()
	results := bootAll(t, boards)
	ok := 0
	var bytes int64
	for i, res := range results {
		if res == nil {
			continue
		}
		if res.Err != nil {
			t.Errorf("board %d (%v): %v (failures %v)", i, boards[i].Model, res.Err, res.FailureKinds())
			continue
		}
		ok++
		bytes += res.Bytes
	}
	t.Logf("%d of %d boots succeeded, %d bytes, in %v", ok, n, bytes, time.Since(start).Round(time.Millisecond))
	if ok != n {
		t.Errorf("%d of %d boots succeeded", ok, n)
	}
}

// TestPisimRollover boots a Pi 4 whose initramfs needs more than 65535
// blocks of 1024 bytes: the block number must roll over.
func TestPisimRollover(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB transfer")
	}
	const initrd = 65535*1024 + 1000 // just over 64 MiB at the Pi 4's blksize
	b := &pisim.Board{Model: pisim.Pi4, Serial: "0b0b0b0b"}
	t0 := time.Now()
	files := b.Files(0, -1, 3)
	files[pisim.DefaultInitramfs] = bigFile(initrd)
	t1 := time.Now()
	d := fixture.NewDisk(t, fixture.Disk{Label: "dos", Partitions: []fixture.Partition{
		{Type: "c", Size: 72 << 20, FAT: &fixture.FAT{Type: 32, Tree: treeOf(files)}},
	}})
	if st, err := os.Stat(d.Path); err == nil {
		t.Logf("image %d bytes; files made in %v, image built in %v", st.Size(), t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	}
	dm := startDaemon(t, []string{"--config", emptyConfig(t), "--board", "0b0b0b0b," + d.Path}, nil)
	b.Server, b.Expect = dm.addr, pisim.NewManifest(files)
	res := bootAll(t, []*pisim.Board{b})[0]
	if res == nil {
		return
	}
	if res.Err != nil {
		t.Fatalf("boot: %v (failures %v)", res.Err, res.FailureKinds())
	}
	dm.sigs <- syscall.SIGTERM // the transfer line is written once the last ACK is in
	if code := dm.wait(t); code != 0 {
		t.Errorf("exit status %d", code)
	}
	if len(tftptest.Lines(dm.log.String(), "msg=transfer", "file=0b0b0b0b/initrd.img", "outcome=completed", fmt.Sprintf("bytes=%d", initrd), "blksize=1024")) != 1 {
		t.Errorf("no completed 1024-byte-block transfer of the initramfs:\n%s", dm.log)
	}
	t.Logf("Pi 4 boot with a %d-byte initramfs: %v", initrd, res.Duration.Round(time.Millisecond))
}

// bigFile returns n bytes quickly: a 1 MiB pseudo-random pattern repeated,
// with every 1024-byte block stamped with its number, so that a block
// served out of place (a wrong rollover) changes the digest.
func bigFile(n int) []byte {
	pattern := fixture.Pseudo(77, 1<<20)
	b := make([]byte, n)
	for off := 0; off < n; off += len(pattern) {
		copy(b[off:], pattern)
	}
	for blk := 0; blk*1024 < n; blk++ {
		binary.LittleEndian.PutUint32(b[blk*1024:min(n, blk*1024+4)], uint32(blk))
	}
	return b
}

// TestPisimReloadUnderLoad runs 20 emulated boots while a SIGHUP with a
// changed configuration (a board added, another board's image changed)
// and an image replaced by rename happen. The old and new images hold the
// same boot files and differ in version.txt, so every boot must complete
// byte-exact whichever version it reads, and version.txt shows what
// requests after the reload see.
func TestPisimReloadUnderLoad(t *testing.T) {
	files := unionFiles(4, 0)
	t1, t2 := treeOf(files), treeOf(files)
	t1["version.txt"] = fixture.File{Data: []byte("1\n")}
	t2["version.txt"] = fixture.File{Data: []byte("2\n")}
	d1, d2 := piDisk(t, t1), piDisk(t, t2)
	dir := t.TempDir()
	live := filepath.Join(dir, "live.img")
	if err := os.Link(d1.Path, live); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "bootcode.bin"), string(files["bootcode.bin"]))
	conf := func(extra string, moved string) string {
		return fmt.Sprintf("[tftp]\nroot = %q\n\n[board.renamed]\nserial = \"aaaa0000\"\nimage = %q\n\n[board.moved]\nserial = \"cccc0000\"\nimage = %q\n%s",
			root, live, moved, extra)
	}
	cfg := filepath.Join(dir, "nobodd-go.toml")
	writeFile(t, cfg, conf("", d1.Path))
	ns := newNotifySocket(t)
	dm := startDaemon(t, []string{"--config", cfg}, map[string]string{"NOTIFY_SOCKET": ns.path})
	ns.expect(t, "READY=1")

	expect := pisim.NewManifest(files)
	models := []pisim.Model{pisim.Pi3BPlus, pisim.Pi4, pisim.Pi5}
	var boards []*pisim.Board
	for i := range 20 {
		serial := []string{"aaaa0000", "cccc0000"}[i%2]
		boards = append(boards, &pisim.Board{Model: models[i%3], Serial: serial, Server: dm.addr, Expect: expect})
	}
	// Reload once the first request of every boot has been answered.
	var first sync.WaitGroup
	first.Add(len(boards))
	for _, b := range boards {
		var once sync.Once
		b.Trace = func(pisim.Request) { once.Do(first.Done) }
	}
	reloaded := make(chan struct{})
	go func() {
		defer close(reloaded)
		first.Wait()
		tmp := live + ".new"
		if err := os.Link(d2.Path, tmp); err != nil {
			t.Error(err)
			return
		}
		if err := os.Rename(tmp, live); err != nil {
			t.Error(err)
			return
		}
		writeFile(t, cfg, conf("\n[board.added]\nserial = \"bbbb0000\"\nimage = "+fmt.Sprintf("%q", d2.Path)+"\n", d2.Path))
		dm.sigs <- syscall.SIGHUP
	}()
	results := bootAll(t, boards)
	<-reloaded
	ns.expect(t, "RELOADING=1")
	ns.expect(t, "READY=1")
	for i, res := range results {
		if res != nil && res.Err != nil {
			t.Errorf("board %d (%v, %s): %v (failures %v)", i, boards[i].Model, boards[i].Serial, res.Err, res.FailureKinds())
		}
	}
	for _, p := range []string{"aaaa0000", "bbbb0000", "cccc0000"} {
		mustGet(t, dm.addr, p+"/version.txt", []byte("2\n"))
	}
	// And a full boot of the added board after the reload.
	after := bootAll(t, []*pisim.Board{{Model: pisim.Pi4, Serial: "bbbb0000", Server: dm.addr, Expect: expect}})
	if after[0] != nil && after[0].Err != nil {
		t.Errorf("boot of the added board: %v", after[0].Err)
	}
	log := dm.log.String()
	if len(tftptest.Lines(log, "image changed", live)) != 1 || len(tftptest.Lines(log, "board added", "board=added")) != 1 ||
		len(tftptest.Lines(log, "board changed", "board=moved")) != 1 {
		t.Errorf("reload not logged as expected:\n%s", log)
	}
}
