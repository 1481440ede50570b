package tftp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// The boot-storm benchmark measures the server's CPU time per gigabyte
// served, with the clients in a separate process (this test binary,
// re-executed with loadClientEnv set) so that their CPU time is not counted.
//
//	go test -run '^$' -bench 'ServerCPUPerGB' -benchtime 3x ./tftp/
//
// Sub-benchmarks are named server=…/blksize=…/window=…/conc=…; the servers
// are nobodd (in-process), nobodd-single (the same with SinglePort), hpa (Debian's in.tftpd, forked per request) and
// dnsmasq (in a private network namespace, since it only listens on port 69).
// NOBODD_BENCH_MB sets the bytes served per round (default 400 MB; a single
// transfer gets at most 48 MB so block numbers never roll over).

const loadClientEnv = "NOBODD_LOADCLIENT"

func TestMain(m *testing.M) {
	if spec := os.Getenv(loadClientEnv); spec != "" {
		os.Exit(loadClientMain(spec))
	}
	os.Exit(m.Run())
}

// loadSpec is what the load client is told to do: n concurrent reads of file
// from addr, each expected to return size bytes.
type loadSpec struct {
	addr          netip.AddrPort
	file          string
	blksize, win  int
	n             int
	size          int64
	timeout       time.Duration
	retries       int
	ackEveryBlock bool
}

func (s loadSpec) String() string {
	return fmt.Sprintf("addr=%v file=%s blksize=%d window=%d n=%d size=%d", s.addr, s.file, s.blksize, s.win, s.n, s.size)
}

func parseLoadSpec(spec string) (loadSpec, error) {
	ls := loadSpec{timeout: time.Second, retries: 10}
	for _, f := range strings.Fields(spec) {
		k, v, _ := strings.Cut(f, "=")
		var err error
		switch k {
		case "addr":
			ls.addr, err = netip.ParseAddrPort(v)
		case "file":
			ls.file = v
		case "blksize":
			ls.blksize, err = strconv.Atoi(v)
		case "window":
			ls.win, err = strconv.Atoi(v)
		case "n":
			ls.n, err = strconv.Atoi(v)
		case "size":
			ls.size, err = strconv.ParseInt(v, 10, 64)
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return ls, fmt.Errorf("load spec %q: %w", f, err)
		}
	}
	return ls, nil
}

// loadClientMain runs the load client and returns the exit status.
func loadClientMain(spec string) int {
	ls, err := parseLoadSpec(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	errs := make(chan error, ls.n)
	var wg sync.WaitGroup
	for i := 0; i < ls.n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- loadGet(ls)
		}()
	}
	wg.Wait()
	close(errs)
	status := 0
	for err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			status = 1
		}
	}
	return status
}

// loadGet is one lock-step (or windowed) read, checking the length and the
// first bytes of every block against pattern.
func loadGet(ls loadSpec) error {
	network := "udp4"
	laddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	if ls.addr.Addr().Is6() {
		network, laddr = "udp6", &net.UDPAddr{IP: net.IPv6loopback}
	}
	conn, err := net.ListenUDP(network, laddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if ls.win > 1 {
		if err := conn.SetReadBuffer(4 << 20); err != nil {
			return err
		}
	}
	var opts Options
	if ls.blksize != DefaultBlockSize {
		opts = append(opts, Option{"blksize", strconv.Itoa(ls.blksize)})
	}
	if ls.win > 1 {
		opts = append(opts, Option{"windowsize", strconv.Itoa(ls.win)})
	}
	last := AppendRequest(nil, OpRRQ, ls.file, "octet", opts)
	dst := ls.addr
	if _, err := conn.WriteToUDPAddrPort(last, dst); err != nil {
		return err
	}
	buf := make([]byte, 4+ls.blksize+1)
	var peer netip.AddrPort
	want := uint16(1)
	var total int64
	inWin, timeouts := 0, 0
	oacked := len(opts) == 0
	ack := func(blk uint16) error {
		last = AppendAck(last[:0], blk)
		_, err := conn.WriteToUDPAddrPort(last, dst)
		return err
	}
	// A windowed read takes a window's packets in one recvmmsg(2), so that
	// the client, not the server, is not what limits the rate.
	var readBatch func([]ipv4.Message, int) (int, error)
	var msgs []ipv4.Message
	qi, qn := 0, 0
	if ls.win > 1 {
		if ls.addr.Addr().Is4() {
			readBatch = ipv4.NewPacketConn(conn).ReadBatch
		} else {
			readBatch = ipv6.NewPacketConn(conn).ReadBatch
		}
		msgs = make([]ipv4.Message, ls.win)
		for i := range msgs {
			msgs[i].Buffers = [][]byte{make([]byte, len(buf))}
		}
	}
	next := func() ([]byte, netip.AddrPort, error) {
		if readBatch == nil {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			return buf[:n], from, err
		}
		if qi == qn {
			n, err := readBatch(msgs, 0)
			if err != nil {
				return nil, netip.AddrPort{}, err
			}
			qi, qn = 0, n
		}
		m := &msgs[qi]
		qi++
		return m.Buffers[0][:m.N], addrPortOf(m.Addr), nil
	}
	// The read deadline is moved only when half of it has passed.
	var deadline time.Time
	for {
		if now := time.Now(); deadline.Sub(now) < ls.timeout/2 {
			deadline = now.Add(ls.timeout)
			if err := conn.SetReadDeadline(deadline); err != nil {
				return err
			}
		}
		pkt, from, err := next()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			deadline = time.Time{}
			timeouts++
			if timeouts > ls.retries {
				return fmt.Errorf("%v: no answer after %d bytes", ls, total)
			}
			if _, err := conn.WriteToUDPAddrPort(last, dst); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		from = unmapPort(from)
		if !peer.IsValid() {
			peer, dst = from, from
		} else if from != peer {
			continue
		}
		timeouts = 0
		op, _ := ParseOpcode(pkt)
		switch op {
		case OpOACK:
			if total == 0 && want == 1 {
				// Use what the server agreed to: a server without the
				// windowsize option (tftpd-hpa) runs in lock-step.
				pk, err := ParsePacket(pkt)
				if err != nil {
					return err
				}
				o := pk.(*OACKPacket).Options
				ls.blksize, ls.win = DefaultBlockSize, 1
				if v, ok := o.Get("blksize"); ok {
					ls.blksize, _ = strconv.Atoi(v)
				}
				if v, ok := o.Get("windowsize"); ok {
					ls.win, _ = strconv.Atoi(v)
				}
				oacked = true
				if err := ack(0); err != nil {
					return err
				}
			}
		case OpDATA:
			blk, data, err := ParseData(pkt)
			if err != nil {
				return err
			}
			if total == 0 && want == 1 && !oacked {
				ls.blksize, ls.win = DefaultBlockSize, 1 // options ignored
			}
			if blk != want {
				if inWin > 0 || ls.win == 1 {
					inWin = 0
					if err := ack(want - 1); err != nil {
						return err
					}
				}
				continue
			}
			if len(data) > 0 && data[0] != byte(total%251) {
				return fmt.Errorf("%v: wrong content at offset %d", ls, total)
			}
			total += int64(len(data))
			want++
			inWin++
			end := len(data) < ls.blksize
			if inWin >= ls.win || end {
				inWin = 0
				if err := ack(blk); err != nil {
					return err
				}
			}
			if end {
				if total != ls.size {
					return fmt.Errorf("%v: got %d bytes", ls, total)
				}
				return nil
			}
		case OpERROR:
			e, _ := ParseError(pkt)
			return fmt.Errorf("%v: server sent %v", ls, e)
		}
	}
}

// runLoad runs the load client in a separate process, optionally through a
// prefix command (nsenter).
func runLoad(tb testing.TB, ls loadSpec, prefix ...string) {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	args := append(append([]string{}, prefix...), exe, "-test.run=^$")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), loadClientEnv+"="+ls.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("load client %v: %v\n%s", ls, err, stderr.Bytes())
	}
}

// writePattern writes a file of size bytes whose byte at offset o is o%251.
func writePattern(tb testing.TB, path string, size int64) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for o := int64(0); o < size; o++ {
		if err := w.WriteByte(byte(o % 251)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			k, _ := strconv.Atoi(e.Name())
			kids = append(kids, k)
		}
	}
	return kids
}

// waitNoChildren waits (at most 10 s) until pid has no children left, so
// that their CPU time has been added to its cutime and cstime.
func waitNoChildren(tb testing.TB, pid int) {
	tb.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < 500 && len(childrenOf(pid)) > 0; i++ {
		<-tick.C
	}
}

func peakRSSReset() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

type stormCase struct{ blksize, win, n int }

func BenchmarkServerCPUPerGB(b *testing.B) {
	total := int64(400)
	if v := os.Getenv("NOBODD_BENCH_MB"); v != "" {
		t, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		total = t
	}
	cases := []stormCase{
		{1468, 1, 1}, {1468, 1, 50}, {1468, 1, 200},
		{1024, 1, 1}, {1024, 1, 50}, {1024, 1, 200},
		{1468, 16, 1},
	}
	dir := b.TempDir()
	sizes := map[int]int64{}
	for _, c := range cases {
		size := min(total<<20/int64(c.n), 48<<20)
		sizes[c.n] = size
	}
	for n, size := range sizes {
		writePattern(b, filepath.Join(dir, fmt.Sprintf("f%d", n)), size)
	}
	for _, server := range []string{"nobodd", "nobodd-single", "hpa", "dnsmasq"} {
		for _, c := range cases {
			name := fmt.Sprintf("server=%s/blksize=%d/window=%d/conc=%d", server, c.blksize, c.win, c.n)
			b.Run(name, func(b *testing.B) {
				ls := loadSpec{file: fmt.Sprintf("f%d", c.n), blksize: c.blksize, win: c.win, n: c.n, size: sizes[c.n]}
				switch server {
				case "nobodd":
					benchNobodd(b, &Server{Handler: FileServer(os.DirFS(dir))}, ls)
				case "nobodd-single":
					benchNobodd(b, &Server{Handler: FileServer(os.DirFS(dir)), SinglePort: true}, ls)
				case "hpa":
					benchHPA(b, dir, ls)
				case "dnsmasq":
					benchDnsmasq(b, dir, ls)
				}
			})
		}
	}
}

func reportStorm(b *testing.B, cpu, wall time.Duration, ls loadSpec) {
	bytes := float64(ls.size) * float64(ls.n) * float64(b.N)
	b.ReportMetric(cpu.Seconds()/(bytes/1e9), "cpu-s/GB")
	b.ReportMetric(bytes/1e6/wall.Seconds(), "MB/s")
	b.ReportMetric(0, "ns/op")
}

func benchNobodd(b *testing.B, srv *Server, ls loadSpec) {
	ls.addr = startServer(b, srv, "udp4", "127.0.0.1:0")
	runtime.GC()
	peakRSSReset()
	b.ResetTimer()
	start, cpu0 := time.Now(), selfCPU()
	for i := 0; i < b.N; i++ {
		runLoad(b, ls)
	}
	cpu, wall := selfCPU()-cpu0, time.Since(start)
	b.StopTimer()
	reportStorm(b, cpu, wall, ls)
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB")
	if c := srv.Stats(); c.Completed != int64(b.N*ls.n) || c.Retransmits != 0 {
		b.Logf("counters: %+v", c)
	}
}

func freeUDPPort(tb testing.TB) int {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// measured is a daemon started under perf stat, which counts the CPU time
// of the daemon and every process it forks (tftpd-hpa ignores SIGCHLD, so
// its children's time never reaches its own cutime and cstime).
type measured struct {
	perf *exec.Cmd
	pid  int // the daemon, perf's child
	out  string
	errb bytes.Buffer
}

func startMeasured(b *testing.B, argv ...string) *measured {
	b.Helper()
	perf := testpeer.Require(b, "perf")
	m := &measured{out: filepath.Join(b.TempDir(), "perf.csv")}
	m.perf = exec.Command(perf, append([]string{"stat", "-x,", "-e", "task-clock", "-o", m.out, "--"}, argv...)...)
	m.perf.Stderr = &m.errb
	if err := m.perf.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if m.perf.ProcessState == nil {
			m.stop(b)
		}
	})
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < 500; i++ {
		if kids := childrenOf(m.perf.Process.Pid); len(kids) == 1 {
			m.pid = kids[0]
			return m
		}
		<-tick.C
	}
	b.Fatalf("%v: no child process", argv)
	return nil
}

// stop ends the daemon and returns the CPU time perf counted.
func (m *measured) stop(b *testing.B) time.Duration {
	b.Helper()
	waitNoChildren(b, m.pid)
	if p, err := os.FindProcess(m.pid); err == nil {
		_ = p.Signal(syscall.SIGTERM)
	}
	_ = m.perf.Wait()
	out, err := os.ReadFile(m.out)
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Split(l, ",")
		if len(f) > 2 && f[2] == "task-clock" {
			ms, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				b.Fatalf("perf output %q: %v", l, err)
			}
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	b.Fatalf("no task-clock in perf output %q (%s)", out, m.errb.Bytes())
	return 0
}

// waitUp waits until a probe read through the daemon succeeds.
func waitUp(b *testing.B, ls loadSpec, prefix ...string) {
	probe := ls
	probe.n, probe.win = 1, 1
	// A fresh namespace may not have its loopback up yet: probes fail at
	// once until it is, so try often (at most 50 times, 100 ms apart).
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var err error
	for i := 0; i < 50; i++ {
		if err = probeLoad(probe, prefix...); err == nil {
			return
		}
		<-tick.C
	}
	b.Fatalf("server did not come up: %v", err)
}

func probeLoad(ls loadSpec, prefix ...string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	ls.file, ls.size = "probe", 4
	args := append(append([]string{}, prefix...), exe, "-test.run=^$")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), loadClientEnv+"="+ls.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

func writeProbe(b *testing.B, dir string) {
	if err := os.WriteFile(filepath.Join(dir, "probe"), []byte{0, 1, 2, 3}, 0o644); err != nil {
		b.Fatal(err)
	}
}

func benchHPA(b *testing.B, dir string, ls loadSpec) {
	bin := testpeer.Require(b, "in.tftpd")
	writeProbe(b, dir)
	port := freeUDPPort(b)
	ls.addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	m := startMeasured(b, bin, "-L", "-a", ls.addr.String(), "-s", dir)
	waitUp(b, ls)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		runLoad(b, ls)
	}
	wall := time.Since(start)
	b.StopTimer()
	reportStorm(b, m.stop(b), wall, ls)
}

// benchDnsmasq runs dnsmasq as a TFTP-only server (DNS off) in a private
// network namespace: it only listens on port 69, which is free there. The
// load client joins the namespace through nsenter.
func benchDnsmasq(b *testing.B, dir string, ls loadSpec) {
	bin := testpeer.Require(b, "dnsmasq")
	unshare := testpeer.Require(b, "unshare")
	nsenter := testpeer.Require(b, "nsenter")
	ipcmd := testpeer.Require(b, "ip")
	writeProbe(b, dir)
	ls.addr = netip.MustParseAddrPort("127.0.0.1:69")
	// unshare execs sh, which execs dnsmasq: perf's child is dnsmasq.
	m := startMeasured(b, unshare, "-n", "sh", "-c", ipcmd+` link set lo up && exec "$0" "$@"`,
		bin, "-d", "--port=0", "-u", "root", "--enable-tftp", "--tftp-root="+dir,
		"--tftp-max=1000", "--conf-file=/dev/null", "--pid-file=", "--quiet-tftp", "--log-facility=/dev/null")
	prefix := []string{nsenter, "-t", strconv.Itoa(m.pid), "-n"}
	waitUp(b, ls, prefix...)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		runLoad(b, ls, prefix...)
	}
	wall := time.Since(start)
	b.StopTimer()
	reportStorm(b, m.stop(b), wall, ls)
}
