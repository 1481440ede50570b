package serve

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/internal/sdnotify"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// versions returns two boot trees that differ in every file a test reads.
func versions() (v1, v2 fixture.Tree) {
	v1, v2 = fixture.PiBoot(), fixture.PiBoot()
	v1["kernel8.img"] = fixture.File{Data: fixture.Pseudo(41, 700<<10+17)}
	v2["kernel8.img"] = fixture.File{Data: fixture.Pseudo(42, 650<<10+9)}
	v2["config.txt"] = fixture.File{Data: []byte("[all]\nversion=2\n")}
	v2["initrd.img"] = fixture.File{Data: fixture.Pseudo(43, 170<<10)}
	return v1, v2
}

func boardsConfig(boards map[string][2]string) string {
	var b strings.Builder
	b.WriteString("[tftp]\ntimeout = \"2s\"\nretries = 10\n")
	for name, v := range boards {
		fmt.Fprintf(&b, "\n[board.%s]\nserial = %q\nimage = %q\n", name, v[0], v[1])
	}
	return b.String()
}

// TestReloadUnderLoad runs 20 concurrent readers while a SIGHUP with a
// changed configuration (a board added, another board's image changed) and
// an image replaced by rename happen. Every transfer must deliver exactly
// one version of its file, a transfer held open across the reload must
// deliver the old one, and requests after the reload see the new state.
func TestReloadUnderLoad(t *testing.T) {
	v1, v2 := versions()
	d1, d2 := piDisk(t, v1), piDisk(t, v2)
	dir := t.TempDir()
	live := filepath.Join(dir, "live.img")
	if err := os.Link(d1.Path, live); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "nobodd-go.toml")
	writeFile(t, cfg, boardsConfig(map[string][2]string{
		"renamed": {"aaaaaaaa", live},
		"moved":   {"cccccccc", d1.Path},
	}))
	ns := newNotifySocket(t)
	dm := startDaemon(t, []string{"--config", cfg}, map[string]string{"NOTIFY_SOCKET": ns.path})
	ns.expect(t, "READY=1")

	const workers = 20
	files := []string{"aaaaaaaa/kernel8.img", "cccccccc/kernel8.img", "aaaaaaaa/config.txt", "cccccccc/initrd.img"}
	stop := make(chan struct{})
	started := make(chan struct{}, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	for w := range workers {
		wg.Go(func() {
			for i := 0; i < 200; i++ {
				name := files[(w+i)%len(files)]
				base := name[strings.IndexByte(name, '/')+1:]
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				got, err := get(ctx, dm.addr, name, []int{512, 1024, 1468}[w%3])
				cancel()
				if err != nil {
					t.Errorf("worker %d: get %s: %v", w, name, err)
					return
				}
				var which string
				switch {
				case bytes.Equal(got, v1[base].Data):
					which = "old"
				case bytes.Equal(got, v2[base].Data):
					which = "new"
				default:
					t.Errorf("worker %d: get %s: %d bytes matching neither version", w, name, len(got))
					return
				}
				mu.Lock()
				counts[which]++
				mu.Unlock()
				if i == 0 {
					started <- struct{}{}
				}
				select {
				case <-stop:
					if i >= 2 {
						return
					}
				default:
				}
			}
		})
	}
	for range workers {
		select {
		case <-started:
		case <-time.After(60 * time.Second):
			t.Fatal("workers did not start within 60s")
		}
	}

	// A transfer held open (block 1 received, not acknowledged) across
	// the reload and the rename.
	held := startRaw(t, dm.addr, "aaaaaaaa/kernel8.img")

	// Replace the image by rename, change the configuration, reload.
	tmp := live + ".new"
	if err := os.Link(d2.Path, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, live); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg, boardsConfig(map[string][2]string{
		"renamed": {"aaaaaaaa", live},
		"moved":   {"cccccccc", d2.Path},
		"added":   {"bbbbbbbb", d2.Path},
	}))
	before, err := sdnotify.MonotonicUsec()
	if err != nil {
		t.Fatal(err)
	}
	dm.sigs <- syscall.SIGHUP
	msg := ns.expect(t, "RELOADING=1")
	usec, ok := strings.CutPrefix(strings.Split(msg, "\n")[1], "MONOTONIC_USEC=")
	if n, err := strconv.ParseUint(usec, 10, 64); !ok || err != nil || n < before {
		t.Errorf("RELOADING=1 message %q: want MONOTONIC_USEC >= %d", msg, before)
	}
	ns.expect(t, "READY=1")
	if got := held.finish(t); !bytes.Equal(got, v1["kernel8.img"].Data) {
		t.Errorf("transfer held across the reload: %d bytes, not the old kernel8.img", len(got))
	}

	// After the reload: the new configuration and the new image.
	mustGet(t, dm.addr, "bbbbbbbb/config.txt", v2["config.txt"].Data)
	mustGet(t, dm.addr, "cccccccc/kernel8.img", v2["kernel8.img"].Data)
	mustGet(t, dm.addr, "aaaaaaaa/kernel8.img", v2["kernel8.img"].Data)
	close(stop)
	wg.Wait()
	mu.Lock()
	t.Logf("transfers: %d of the old version, %d of the new", counts["old"], counts["new"])
	if counts["old"] == 0 || counts["new"] == 0 {
		t.Errorf("transfers of old and new versions: %v; want both", counts)
	}
	mu.Unlock()

	dm.sigs <- syscall.SIGTERM
	ns.expect(t, "STOPPING=1")
	if code := dm.wait(t); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	log := dm.log.String()
	for _, want := range [][]string{
		{"msg=\"board added\"", "board=added"},
		{"msg=\"board changed\"", "board=moved"},
		{"msg=\"image changed", "image=" + live},
		{"msg=\"configuration reloaded\"", "added=1", "changed=1"},
	} {
		if len(tftptest.Lines(log, want...)) != 1 {
			t.Errorf("want one log line with %q:\n%s", want, log)
		}
	}
	if l := tftptest.Lines(log, "outcome=", "level=WARN"); len(l) > 0 {
		t.Errorf("transfers with warnings: %q", l)
	}
	if l := tftptest.Lines(log, "level=ERROR"); len(l) > 0 {
		t.Errorf("errors logged: %q", l)
	}
}

// TestReloadBadConfig keeps the old configuration when the new one fails.
func TestReloadBadConfig(t *testing.T) {
	tree := fixture.PiBoot()
	d := piDisk(t, tree)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nobodd-go.toml")
	writeFile(t, cfg, boardsConfig(map[string][2]string{"pi": {"1234abcd", d.Path}}))
	ns := newNotifySocket(t)
	dm := startDaemon(t, []string{"--config", cfg, "--port", "6969"}, map[string]string{"NOTIFY_SOCKET": ns.path})
	ns.expect(t, "READY=1")

	writeFile(t, cfg, "[tftp]\nport = 0\nbogus = 1\n\n[board.pi]\nserial = \"xyz\"\nimage = \"x.img\"\n")
	dm.sigs <- syscall.SIGHUP
	ns.expect(t, "RELOADING=1")
	ns.expect(t, "READY=1")
	mustGet(t, dm.addr, "1234abcd/config.txt", tree["config.txt"].Data)
	log := dm.log.String()
	for _, want := range []string{`unknown key \"bogus\"`, `serial \"xyz\": not hex`} {
		if len(tftptest.Lines(log, "level=ERROR", "configuration error", cfg, want)) != 1 {
			t.Errorf("no error line with %q:\n%s", want, log)
		}
	}
	if len(tftptest.Lines(log, "level=ERROR", "reload failed")) != 1 {
		t.Errorf("no 'reload failed' line:\n%s", log)
	}

	// A reload changing a restart-only setting says so.
	writeFile(t, cfg, strings.Replace(boardsConfig(map[string][2]string{"pi": {"1234abcd", d.Path}}), `timeout = "2s"`, "timeout = \"3s\"\ncache-size = \"1MiB\"", 1)+"[log]\nverbose = true\n")
	dm.sigs <- syscall.SIGHUP
	ns.expect(t, "RELOADING=1")
	ns.expect(t, "READY=1")
	log = dm.log.String()
	if len(tftptest.Lines(log, "level=WARN", "restart", "tftp.timeout")) != 1 {
		t.Errorf("no warning that tftp.timeout needs a restart:\n%s", log)
	}
	if len(tftptest.Lines(log, "setting changed", "log.verbose")) != 1 {
		t.Errorf("no line for the live log.verbose change:\n%s", log)
	}
	if len(tftptest.Lines(log, "setting changed", "tftp.cache-size")) != 1 || len(tftptest.Lines(log, "restart", "cache-size")) != 0 {
		t.Errorf("cache-size should change live:\n%s", log)
	}
	// log.verbose took effect: early-terminate aborts are logged at debug.
	mustGet(t, dm.addr, "1234abcd/cmdline.txt", tree["cmdline.txt"].Data)
	if len(tftptest.Lines(dm.log.String(), "level=DEBUG")) == 0 {
		t.Errorf("no debug lines after verbose was switched on by a reload")
	}
}

// readyDaemon starts the daemon for board 1234abcd with a fixture.PiBoot
// tree, patient retransmits and a notify socket, and waits for READY=1.
func readyDaemon(t *testing.T) (fixture.Tree, *running, *notifySocket) {
	t.Helper()
	tree := fixture.PiBoot()
	d := piDisk(t, tree)
	ns := newNotifySocket(t)
	cfg := filepath.Join(t.TempDir(), "nobodd-go.toml")
	writeFile(t, cfg, "[tftp]\ntimeout = \"2s\"\nretries = 10\n")
	dm := startDaemon(t, []string{"--config", cfg, "--board", "1234abcd," + d.Path}, map[string]string{"NOTIFY_SOCKET": ns.path})
	ns.expect(t, "READY=1")
	return tree, dm, ns
}

// TestShutdownWithTransferInFlight: SIGTERM while a transfer runs; the
// transfer completes and Main exits 0.
func TestShutdownWithTransferInFlight(t *testing.T) {
	tree, dm, ns := readyDaemon(t)
	x := startRaw(t, dm.addr, "1234abcd/start4.elf")
	dm.sigs <- syscall.SIGTERM
	ns.expect(t, "STOPPING=1")
	// STOPPING=1 is sent once the server stopped taking requests: a new
	// request is not served.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := get(ctx, dm.addr, "1234abcd/config.txt", 512); err == nil {
		t.Error("a new request was served after STOPPING=1")
	}
	if got := x.finish(t); !bytes.Equal(got, tree["start4.elf"].Data) {
		t.Errorf("transfer in flight at SIGTERM: %d bytes, want start4.elf's %d", len(got), len(tree["start4.elf"].Data))
	}
	if code := dm.wait(t); code != 0 {
		t.Fatalf("exit status %d, want 0\n%s", code, dm.log)
	}
	if len(tftptest.Lines(dm.log.String(), "msg=transfer", "start4.elf", "outcome=completed")) != 1 {
		t.Errorf("the transfer in flight did not complete:\n%s", dm.log)
	}
}

// TestSecondSignal: a second SIGTERM during the grace period cancels the
// transfers still running, and Main still exits 0.
func TestSecondSignal(t *testing.T) {
	_, dm, ns := readyDaemon(t)
	startRaw(t, dm.addr, "1234abcd/start4.elf") // never finished
	dm.sigs <- syscall.SIGTERM
	ns.expect(t, "STOPPING=1")
	dm.sigs <- syscall.SIGHUP // ignored while stopping
	dm.sigs <- syscall.SIGINT
	if code := dm.wait(t); code != 0 {
		t.Fatalf("exit status %d, want 0\n%s", code, dm.log)
	}
	log := dm.log.String()
	for _, want := range []string{"ignoring SIGHUP", "second signal", "transfers still running were cancelled"} {
		if len(tftptest.Lines(log, want)) != 1 {
			t.Errorf("no line with %q:\n%s", want, log)
		}
	}
	if len(tftptest.Lines(log, "msg=transfer", "start4.elf", "outcome=failed")) != 1 {
		t.Errorf("the cancelled transfer is not logged as failed:\n%s", log)
	}
}
