package bench

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	ib "github.com/nobodd-go/nobodd-go/internal/bench"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/internal/pisim"
	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// serveDir serves dir on loopback for the test's duration.
func serveDir(t *testing.T, dir string) string {
	t.Helper()
	return tftptest.Start(t, tftp.FileServer(os.DirFS(dir))).Addr
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// run calls Main and returns its status, standard output and error.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// jsonLines parses one Report per line.
func jsonLines(t *testing.T, s string) []ib.Report {
	t.Helper()
	var rs []ib.Report
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var r ib.Report
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		rs = append(rs, r)
	}
	return rs
}

func TestTransfersJSON(t *testing.T) {
	dir := t.TempDir()
	data := fixture.Pseudo(1, 70_001)
	writeFile(t, filepath.Join(dir, "srv", "kernel.img"), data)
	writeFile(t, filepath.Join(dir, "local.img"), data)
	addr := serveDir(t, filepath.Join(dir, "srv"))

	code, out, errs := run(t, "--json", "--tag", "server=x", "--tag", "rep=2", "--file", "kernel.img", "--expect", filepath.Join(dir, "local.img"),
		"--concurrency", "1,3", "--count", "4", "--blksize", "1024", addr)
	if code != 0 {
		t.Fatalf("status %d, stderr %s", code, errs)
	}
	rs := jsonLines(t, out)
	if len(rs) != 2 {
		t.Fatalf("%d JSON lines, want 2:\n%s", len(rs), out)
	}
	sum := sha256.Sum256(data)
	for i, r := range rs {
		if r.OK != 4 || r.Failed != 0 || len(r.Failures) != 0 || r.Bytes != 4*int64(len(data)) || r.Files != 4 {
			t.Errorf("point %d: %+v; want 4 OK of %d bytes", i, r, len(data))
		}
		if r.Concurrency != []int{1, 3}[i] || r.BlockSize != 1024 || r.Mode != "transfers" {
			t.Errorf("point %d: concurrency %d blksize %d mode %q", i, r.Concurrency, r.BlockSize, r.Mode)
		}
		if r.Tags["server"] != "x" || r.Tags["rep"] != "2" {
			t.Errorf("point %d: tags %v", i, r.Tags)
		}
		if r.AgreedBlockSize != 1024 || r.AgreedWindowSize != 1 {
			t.Errorf("point %d: agreed %d/%d, want 1024/1", i, r.AgreedBlockSize, r.AgreedWindowSize)
		}
		if r.ReferenceSHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("point %d: sha256 %s", i, r.ReferenceSHA256)
		}
		if r.ServerCPU != nil || r.ClientResends != nil {
			t.Errorf("point %d: server usage or resends reported without --pid or relay", i)
		}
	}
	// --sha256 and no expectation at all work the same way.
	if code, _, errs := run(t, "--file", "kernel.img", "--sha256", hex.EncodeToString(sum[:]), addr); code != 0 {
		t.Errorf("--sha256: status %d: %s", code, errs)
	}
	code, out, errs = run(t, "--file", "kernel.img", "--concurrency", "2", addr)
	if code != 0 || !strings.Contains(out, "transfers c=2 n=2") || !strings.Contains(out, "2/2") {
		t.Errorf("table: status %d, output\n%s%s", code, out, errs)
	}
	// Windows: the project's server agrees to 8.
	code, out, errs = run(t, "--json", "--file", "kernel.img", "--windowsize", "8", addr)
	if rs := jsonLines(t, out); code != 0 || len(rs) != 1 || rs[0].AgreedWindowSize != 8 || rs[0].WindowSize != 8 {
		t.Errorf("windowsize 8: status %d, %s%s", code, out, errs)
	}
	// A wrong expectation is a hash mismatch for every transfer.
	bad := sha256.Sum256([]byte("other"))
	code, out, _ = run(t, "--json", "--file", "kernel.img", "--sha256", hex.EncodeToString(bad[:]), "--concurrency", "2", addr)
	if rs := jsonLines(t, out); code != 1 || len(rs) != 1 || rs[0].Failures[ib.CauseHashMismatch] != 2 {
		t.Errorf("wrong digest: status %d, %s", code, out)
	}
}

func TestMissingAndStalled(t *testing.T) {
	addr := serveDir(t, t.TempDir())
	code, out, _ := run(t, "--json", "--file", "nope", "--concurrency", "3", addr)
	rs := jsonLines(t, out)
	if code != 1 || len(rs) != 1 || rs[0].Failures[ib.CauseNotFound] != 3 {
		t.Errorf("missing file: status %d, %s", code, out)
	}

	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	code, out, _ = run(t, "--json", "--file", "f", "--concurrency", "2", "--count", "4", "--file-timeout", "200ms", "--deadline", "20s", pc.LocalAddr().String())
	rs = jsonLines(t, out)
	if code != 1 || len(rs) != 1 || rs[0].Failures[ib.CauseTimeout] != 4 || rs[0].OK != 0 {
		t.Errorf("stalled server: status %d, %s", code, out)
	}
}

func TestServerUsageAndLoss(t *testing.T) {
	dir := t.TempDir()
	data := fixture.Pseudo(2, 60_000)
	writeFile(t, filepath.Join(dir, "initrd"), data)
	addr := serveDir(t, dir)
	// The server runs in this process: measure ourselves.
	code, out, errs := run(t, "--json", "--file", "initrd", "--blksize", "1024", "--timeout", "200ms",
		"--loss", "0.05", "--seed", "3", "--pid", strconv.Itoa(os.Getpid()), "--concurrency", "2", addr)
	if code != 0 {
		t.Fatalf("status %d: %s%s", code, out, errs)
	}
	rs := jsonLines(t, out)
	if len(rs) != 1 {
		t.Fatalf("%d lines", len(rs))
	}
	r := rs[0]
	if r.ServerCPU == nil || *r.ServerCPU < 0 || r.ServerPeakRSS == nil || *r.ServerPeakRSS <= 0 || r.MeterError != "" {
		t.Errorf("server usage: cpu %v rss %v err %q", r.ServerCPU, r.ServerPeakRSS, r.MeterError)
	}
	if r.Dropped == nil || *r.Dropped == 0 || r.ClientResends == nil || r.ServerResends == nil {
		t.Errorf("relay figures: dropped %v resends %v/%v", r.Dropped, r.ClientResends, r.ServerResends)
	}
	if r.OK != 2 || r.Loss != 0.05 {
		t.Errorf("%+v", r)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--file", "f"},
		{"127.0.0.1:69"},
		{"--file", "f", "127.0.0.1"},
		{"--file", "f", "--concurrency", "0", "127.0.0.1:69"},
		{"--file", "f", "--concurrency", "1,x", "127.0.0.1:69"},
		{"--file", "f", "--loss", "1", "127.0.0.1:69"},
		{"--file", "f", "--blksize", "7", "127.0.0.1:69"},
		{"--file", "f", "--sha256", "abc", "127.0.0.1:69"},
		{"--file", "f", "--expect", "/nonexistent/file", "127.0.0.1:69"},
		{"--file", "f", "--pid", "1", "--cgroup", "/x", "127.0.0.1:69"},
		{"--mode", "nope", "127.0.0.1:69"},
		{"--file", "f", "--tag", "novalue", "127.0.0.1:69"},
		{"--mode", "boots", "127.0.0.1:69"},
		{"--mode", "boots", "--boot-dir", ".", "--model", "pi9", "127.0.0.1:69"},
		{"--mode", "boots", "--boot-dir", ".", "--serials", "xyz", "127.0.0.1:69"},
		{"--mode", "boots", "--boot-dir", ".", "--serials", "00000002-00000001", "127.0.0.1:69"},
	} {
		if code, _, _ := run(t, args...); code != 2 {
			t.Errorf("%q: status %d, want 2", args, code)
		}
	}
	if code, _, _ := run(t, "--help"); code != 0 {
		t.Errorf("--help: status %d", code)
	}
}

func TestParseSerials(t *testing.T) {
	got, err := parseSerials("1234ABCD, 100000000000000f-00000011")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1234abcd", "0000000f", "00000010", "00000011"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %v, want %v", got, want)
	}
}

// bootTree lays out boot directories for serials (Pi 4 and Pi 5 files
// together) under root and a local copy in local.
func bootTree(t *testing.T, root, local string, serials []string) {
	t.Helper()
	files := pisim.Files(pisim.Pi4, 40_000, 20_000, 5)
	for name, b := range pisim.Files(pisim.Pi5, 40_000, 20_000, 5) {
		files[name] = b
	}
	for name, b := range files {
		writeFile(t, filepath.Join(local, name), b)
		for _, s := range serials {
			writeFile(t, filepath.Join(root, s, name), b)
		}
	}
}

func TestBoots(t *testing.T) {
	dir := t.TempDir()
	root, local := filepath.Join(dir, "srv"), filepath.Join(dir, "local")
	bootTree(t, root, local, []string{"1000000a", "1000000b"})
	addr := serveDir(t, root)
	code, out, errs := run(t, "--json", "--mode", "boots", "--model", "pi4,pi5", "--serials", "1000000a-1000000b",
		"--boot-dir", local, "--concurrency", "4", addr)
	if code != 0 {
		t.Fatalf("status %d: %s%s", code, out, errs)
	}
	rs := jsonLines(t, out)
	if len(rs) != 1 || rs[0].OK != 4 || rs[0].Failed != 0 || rs[0].Mode != "boots" || rs[0].Files == 0 {
		t.Fatalf("%s", out)
	}
	// Each boot reads at least the kernel and the initramfs.
	if rs[0].Bytes < 4*60_000 {
		t.Errorf("bytes %d, want at least %d", rs[0].Bytes, 4*60_000)
	}

	// A board whose directory is missing on the server fails with "not found".
	code, out, _ = run(t, "--json", "--mode", "boots", "--model", "pi5", "--serials", "1000000c",
		"--boot-dir", local, "--concurrency", "1", addr)
	rs = jsonLines(t, out)
	if code != 1 || len(rs) != 1 || rs[0].Failures[ib.CauseNotFound] == 0 {
		t.Errorf("missing board: status %d, %s", code, out)
	}
	// A corrupted kernel for one serial: hash mismatch for its boots only.
	kernel := filepath.Join(root, "1000000b", "kernel8.img")
	b, err := os.ReadFile(kernel)
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 1
	writeFile(t, kernel, b)
	code, out, _ = run(t, "--json", "--mode", "boots", "--model", "pi4", "--serials", "1000000a,1000000b",
		"--boot-dir", local, "--concurrency", "2", "--count", "4", addr)
	rs = jsonLines(t, out)
	if code != 1 || len(rs) != 1 || rs[0].Failures[ib.CauseHashMismatch] != 2 || rs[0].OK != 2 {
		t.Errorf("corrupted kernel: status %d, %s", code, out)
	}
}
