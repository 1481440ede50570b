package bench

import (
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
)

func TestProcMeterSelf(t *testing.T) {
	m := &ProcMeter{PID: os.Getpid(), Interval: 20 * time.Millisecond}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	// Burn some CPU: hash 256 MiB, a few hundred clock ticks' worth.
	buf := make([]byte, 1<<20)
	h := sha256.New()
	for range 256 {
		h.Write(buf)
	}
	_ = h.Sum(nil)
	u, err := m.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if !u.HasCPU || !u.HasRSS {
		t.Fatalf("usage %+v: missing CPU or RSS", u)
	}
	if u.CPU <= 0 || u.CPU > time.Hour {
		t.Errorf("CPU %v not plausible", u.CPU)
	}
	if u.PeakRSS < 1<<20 || u.PeakRSS > 1<<40 {
		t.Errorf("peak RSS %d bytes not plausible", u.PeakRSS)
	}
	if _, err := m.Stop(); err == nil {
		t.Error("a second Stop succeeded")
	}
}

func TestProcMeterCountsChildren(t *testing.T) {
	sleep := testpeer.Require(t, "sleep")
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill() // the process we started, by its PID
		_ = cmd.Wait()
	}()
	m := &ProcMeter{PID: os.Getpid(), Interval: 10 * time.Millisecond}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.children[cmd.Process.Pid]; !ok {
		t.Errorf("child %d not among the descendants %v", cmd.Process.Pid, m.children)
	}
	u, err := m.Stop()
	if err != nil {
		t.Fatal(err)
	}
	// The peak covers at least our own resident memory.
	if u.PeakRSS <= 0 {
		t.Errorf("peak RSS %d", u.PeakRSS)
	}
}

func TestReadStatOddName(t *testing.T) {
	proc := t.TempDir()
	dir := filepath.Join(proc, "42")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// comm "a) (b" with spaces and parentheses; utime 150, stime 50, cutime 7, cstime 3.
	stat := "42 (a) (b) S 1 42 42 0 -1 4194560 100 0 0 0 150 50 7 3 20 0 1 0 100 1000000 250 18446744073709551615\n"
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	status := "Name:\tx\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n"
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := readStat(proc, 42)
	if err != nil {
		t.Fatal(err)
	}
	if s.ppid != 1 || s.utime != 150 || s.stime != 50 || s.cutime != 7 || s.cstime != 3 {
		t.Errorf("stat %+v", s)
	}
	rss, hwm, err := readStatus(proc, 42)
	if err != nil || rss != 1<<20 || hwm != 2<<20 {
		t.Errorf("status: rss %d hwm %d err %v", rss, hwm, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte("42 (x S 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readStat(proc, 42); err == nil {
		t.Error("a stat without ')' parsed")
	}
}

func TestCgroupMeter(t *testing.T) {
	v2, v1cpu, v1mem := t.TempDir(), t.TempDir(), t.TempDir()
	write := func(dir, name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(v2, "cpu.stat", "usage_usec 1000\nuser_usec 600\nsystem_usec 400\n")
	write(v2, "memory.peak", "5242880\n")
	write(v1cpu, "cpuacct.usage", strconv.Itoa(int(time.Second))+"\n")
	write(v1mem, "memory.max_usage_in_bytes", "1048576\n")

	m := &CgroupMeter{Paths: []string{v2, v1cpu, v1mem}}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	write(v2, "cpu.stat", "usage_usec 251000\nuser_usec 600\nsystem_usec 400\n")
	write(v1cpu, "cpuacct.usage", strconv.Itoa(int(3*time.Second))+"\n")
	u, err := m.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if want := 250*time.Millisecond + 2*time.Second; !u.HasCPU || u.CPU != want {
		t.Errorf("CPU %v (%v), want %v", u.CPU, u.HasCPU, want)
	}
	if !u.HasRSS || u.PeakRSS != 5242880 {
		t.Errorf("peak %d (%v), want 5242880", u.PeakRSS, u.HasRSS)
	}
	if err := (&CgroupMeter{Paths: []string{filepath.Join(v2, "nope")}}).Start(); err == nil {
		t.Error("a missing cgroup directory was accepted")
	}
}
