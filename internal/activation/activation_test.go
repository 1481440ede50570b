package activation

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"golang.org/x/sys/unix"
)

// fakeEnv is an injectable environment that records what was unset.
type fakeEnv struct {
	vars  map[string]string
	unset []string
}

func (f *fakeEnv) env(pid, base int) Env {
	return Env{
		LookupEnv: func(k string) (string, bool) { v, ok := f.vars[k]; return v, ok },
		Unsetenv:  func(k string) error { f.unset = append(f.unset, k); delete(f.vars, k); return nil },
		PID:       pid,
		FDBase:    base,
	}
}

// dupFD returns a close-on-exec duplicate of the descriptor under c, closed
// at the end of the test unless the code under test closed it already.
func dupFD(t *testing.T, c interface{ File() (*os.File, error) }) int {
	t.Helper()
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return dupFile(t, f)
}

// dupFile is dupFD for an *os.File.
func dupFile(t *testing.T, f *os.File) int {
	t.Helper()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func listenUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return !errors.Is(err, unix.EBADF)
}

// roundTrip sends payload from a fresh loopback socket to addr and returns
// the reply, waiting at most 20s.
func roundTrip(t *testing.T, addr net.Addr, payload string) string {
	t.Helper()
	var c *net.UDPConn
	if ua, ok := addr.(*net.UDPAddr); ok && ua.IP.To4() == nil {
		var err error
		if c, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	} else {
		c = listenUDP(t)
	}
	if _, err := c.WriteTo([]byte(payload), addr); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no reply from the activated helper: %v", err)
	}
	return string(buf[:n])
}

func TestSystemdEnvErrors(t *testing.T) {
	const pid = 4242
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"unset", map[string]string{}, "not started by systemd socket activation"},
		{"no pid", map[string]string{EnvListenFDs: "1"}, "not started by systemd socket activation"},
		{"no fds", map[string]string{EnvListenPID: "4242"}, "not started by systemd socket activation"},
		{"bad pid", map[string]string{EnvListenPID: "x", EnvListenFDs: "1"}, `LISTEN_PID="x" is not a process id`},
		{"other pid", map[string]string{EnvListenPID: "4243", EnvListenFDs: "1"}, "LISTEN_PID=4243 names another process (this is pid 4242)"},
		{"bad count", map[string]string{EnvListenPID: "4242", EnvListenFDs: "one"}, `LISTEN_FDS="one" is not a socket count`},
		{"negative", map[string]string{EnvListenPID: "4242", EnvListenFDs: "-1"}, `LISTEN_FDS="-1" is not a socket count`},
		{"zero", map[string]string{EnvListenPID: "4242", EnvListenFDs: "0"}, "systemd passed no sockets; nobodd-go needs exactly one datagram socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.vars[EnvListenFDNames] = "tftp"
			f := &fakeEnv{vars: tt.vars}
			pc, err := f.env(pid, 0).Systemd()
			if err == nil {
				pc.Close()
				t.Fatal("Systemd succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if len(f.vars) != 0 || len(f.unset) != 3 {
				t.Errorf("after Systemd the environment still holds %v (unset %v)", f.vars, f.unset)
			}
		})
	}
}

func TestSystemdInProcess(t *testing.T) {
	for _, network := range []string{"udp4", "udp6"} {
		t.Run(network, func(t *testing.T) {
			ip := net.IPv4(127, 0, 0, 1)
			if network == "udp6" {
				ip = net.IPv6loopback
			}
			srv, err := net.ListenUDP(network, &net.UDPAddr{IP: ip})
			if err != nil {
				testpeer.Missing(t, "loopback "+network+" ("+err.Error()+")")
			}
			defer srv.Close()
			fd := dupFD(t, srv)
			f := &fakeEnv{vars: map[string]string{EnvListenPID: "7", EnvListenFDs: "1", EnvListenFDNames: "nobodd-go.socket"}}
			pc, err := f.env(7, fd).Systemd()
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			if isOpen(fd) {
				t.Errorf("passed fd %d still open after Systemd took it", fd)
			}
			if got, want := pc.LocalAddr().String(), srv.LocalAddr().String(); got != want {
				t.Errorf("LocalAddr = %s, want %s", got, want)
			}
			if _, ok := pc.(*net.UDPConn); !ok {
				t.Errorf("Systemd returned %T, want *net.UDPConn", pc)
			}
			if len(f.vars) != 0 {
				t.Errorf("environment still holds %v", f.vars)
			}
		})
	}
}

func TestSystemdRefusesInProcess(t *testing.T) {
	tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	unixgram, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: t.TempDir() + "/s", Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer unixgram.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()

	tests := []struct {
		name string
		fd   int
		want string
	}{
		{"stream", dupFD(t, tcp), "is a stream socket; nobodd-go needs a datagram socket"},
		{"unixgram", dupFD(t, unixgram), "datagram socket of address family AF_UNIX; nobodd-go needs a UDP"},
		{"pipe", dupFile(t, r), "is a pipe, not a socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := unix.FcntlInt(uintptr(tt.fd), unix.F_SETFD, 0); err != nil {
				t.Fatal(err)
			}
			f := &fakeEnv{vars: map[string]string{EnvListenPID: "7", EnvListenFDs: "1", EnvListenFDNames: "x"}}
			pc, err := f.env(7, tt.fd).Systemd()
			if err == nil {
				pc.Close()
				t.Fatal("Systemd succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `socket "x" from systemd (fd `+strconv.Itoa(tt.fd)+")") {
				t.Errorf("error %q does not contain %q and the socket's name and fd", err, tt.want)
			}
			flags, err := unix.FcntlInt(uintptr(tt.fd), unix.F_GETFD, 0)
			if err != nil || flags&unix.FD_CLOEXEC == 0 {
				t.Errorf("refused fd %d: flags %#x, %v; want it open with close-on-exec", tt.fd, flags, err)
			}
		})
	}
}

func TestSystemdNotOpen(t *testing.T) {
	srv := listenUDP(t)
	fd := dupFD(t, srv)
	// Move the socket to a number whose successor is free, then claim that
	// systemd passed two sockets.
	base := -1
	for n := 500; n < 600 && base < 0; n++ {
		if !isOpen(n) && !isOpen(n+1) {
			base = n
		}
	}
	if base < 0 {
		t.Fatal("no free pair of descriptors in 500-600")
	}
	if err := unix.Dup3(fd, base, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(base)
	f := &fakeEnv{vars: map[string]string{EnvListenPID: "7", EnvListenFDs: "2"}}
	_, err := f.env(7, base).Systemd()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("systemd passed 2 sockets but fd %d is unusable", base+1)) {
		t.Errorf("error = %v, want it to name fd %d as unusable", err, base+1)
	}
}

func TestInetdInProcess(t *testing.T) {
	srv := listenUDP(t)
	in := dupFD(t, srv)
	same := dupFD(t, srv) // like inetd's fd 1 and 2
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	other := int(w.Fd())

	pc, err := inetd(in, same, other)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if got, want := pc.LocalAddr().String(), srv.LocalAddr().String(); got != want {
		t.Errorf("LocalAddr = %s, want %s", got, want)
	}
	var null, st unix.Stat_t
	if err := unix.Stat(os.DevNull, &null); err != nil {
		t.Fatal(err)
	}
	for _, fd := range []int{in, same} {
		if err := unix.Fstat(fd, &st); err != nil || st.Rdev != null.Rdev || st.Mode&unix.S_IFMT != unix.S_IFCHR {
			t.Errorf("fd %d is not %s after inetd (err %v)", fd, os.DevNull, err)
		}
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Errorf("the unrelated pipe fd %d was changed: %v", other, err)
	}
	// The socket still works through the returned connection.
	if err := pc.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() {
		buf := make([]byte, 100)
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			done <- err.Error()
			return
		}
		pc.WriteTo(buf[:n], from)
		done <- ""
	}()
	if got := roundTrip(t, srv.LocalAddr(), "ping"); got != "ping" {
		t.Errorf("reply %q, want ping", got)
	}
	if msg := <-done; msg != "" {
		t.Error(msg)
	}
}

func TestInetdRefuses(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	_, err = inetd(int(r.Fd()))
	if err == nil || !strings.Contains(err.Error(), "is a pipe, not a socket; nobodd-go needs a datagram socket") {
		t.Errorf("error = %v, want it to say the fd is a pipe", err)
	}
	if !isOpen(int(r.Fd())) {
		t.Error("refused fd was closed")
	}

	// A terminal, where the machine can make one.
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Logf("no pseudo-terminal here: %v", err)
		return
	}
	defer ptmx.Close()
	_, err = inetd(int(ptmx.Fd()))
	if err == nil || !strings.Contains(err.Error(), "is a terminal, not a socket") {
		t.Errorf("error = %v, want it to say the fd is a terminal", err)
	}
}

// helper returns a command running this test binary as the activated helper.
func helper(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	// GORACE: a race-enabled helper would otherwise linger a second at exit.
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "GORACE=atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// runHelper starts cmd, closes the parent's copies of the passed files, and
// returns a function that waits for it (bounded) and returns its stderr and
// exit status.
func runHelper(t *testing.T, cmd *exec.Cmd, passed ...*os.File) func() (string, int) {
	t.Helper()
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range passed {
		f.Close()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return func() (string, int) {
		t.Helper()
		timer := time.NewTimer(30 * time.Second)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			cmd.Process.Kill()
			<-done
			t.Fatalf("helper pid %d did not finish; killed it", cmd.Process.Pid)
		}
		return stderr.String(), cmd.ProcessState.ExitCode()
	}
}

func TestSystemdChild(t *testing.T) {
	srv := listenUDP(t)
	f, err := srv.File()
	if err != nil {
		t.Fatal(err)
	}
	cmd := helper(t, "systemd", EnvListenFDs+"=1", EnvListenFDNames+"=nobodd-go.socket", helperSetPID+"=1")
	cmd.ExtraFiles = []*os.File{f}
	wait := runHelper(t, cmd, f)
	srv.Close() // only the child holds the socket now
	reply := roundTrip(t, srv.LocalAddr(), "hello")
	stderr, code := wait()
	if code != 0 {
		t.Fatalf("helper exit status %d, stderr:\n%s", code, stderr)
	}
	if reply != "echo hello ok" {
		t.Errorf("reply %q, want %q", reply, "echo hello ok")
	}
}

func TestSystemdChildRefuses(t *testing.T) {
	udp := func() *os.File {
		c := listenUDP(t)
		f, err := c.File()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	stream := func() *os.File {
		l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		f, err := l.File()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	tests := []struct {
		name  string
		files []*os.File
		env   []string
		want  string
	}{
		{"no fds", nil, []string{EnvListenFDs + "=0", helperSetPID + "=1"},
			"systemd passed no sockets; nobodd-go needs exactly one datagram socket"},
		{"two fds", []*os.File{udp(), udp()}, []string{EnvListenFDs + "=2", EnvListenFDNames + "=tftp4:tftp6", helperSetPID + "=1"},
			"systemd passed 2 sockets (named tftp4, tftp6); nobodd-go needs exactly one datagram socket"},
		{"stream", []*os.File{stream()}, []string{EnvListenFDs + "=1", helperSetPID + "=1"},
			"the socket systemd passed (fd 3) is a stream socket; nobodd-go needs a datagram socket"},
		{"wrong pid", []*os.File{udp()}, []string{EnvListenFDs + "=1", EnvListenPID + "=1"},
			"LISTEN_PID=1 names another process"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := helper(t, "systemd", tt.env...)
			cmd.ExtraFiles = tt.files
			stderr, code := runHelper(t, cmd, tt.files...)()
			if code != helperExit || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit status %d, stderr %q; want %d and %q", code, stderr, helperExit, tt.want)
			}
		})
	}
}

func TestStdinChild(t *testing.T) {
	for _, all := range []bool{false, true} {
		t.Run(fmt.Sprintf("socket on 0-2 %v", all), func(t *testing.T) {
			srv := listenUDP(t)
			f, err := srv.File()
			if err != nil {
				t.Fatal(err)
			}
			cmd := helper(t, "stdin")
			cmd.Stdin = f
			if all { // as inetd does it
				cmd.Stdout, cmd.Stderr = f, f
			}
			wait := runHelper(t, cmd, f)
			srv.Close()
			reply := roundTrip(t, srv.LocalAddr(), "hi")
			stderr, code := wait()
			if code != 0 {
				t.Fatalf("helper exit status %d, stderr:\n%s", code, stderr)
			}
			if reply != "echo hi ok" {
				t.Errorf("reply %q, want %q", reply, "echo hi ok")
			}
			if !all && !strings.Contains(stderr, "helper: took the socket from stdin") {
				t.Errorf("helper's stderr %q lacks its log line", stderr)
			}
		})
	}
}

func TestStdinChildRefusesPipe(t *testing.T) {
	cmd := helper(t, "stdin")
	cmd.Stdin = strings.NewReader("not a socket")
	stderr, code := runHelper(t, cmd)()
	want := "standard input (fd 0) is a pipe, not a socket; nobodd-go needs a datagram socket"
	if code != helperExit || !strings.Contains(stderr, want) {
		t.Errorf("exit status %d, stderr %q; want %d and %q", code, stderr, helperExit, want)
	}
}

// TestSystemdSocketActivate runs the helper under systemd's own activation
// tool, in both its LISTEN_FDS and its --inetd form.
func TestSystemdSocketActivate(t *testing.T) {
	tool := testpeer.Require(t, "systemd-socket-activate")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode string
		ip   net.IP
	}{
		{"systemd", net.IPv4(127, 0, 0, 1)},
		{"systemd", net.IPv6loopback},
		{"stdin", net.IPv4(127, 0, 0, 1)},
	} {
		mode := tc.mode
		t.Run(mode+"-"+tc.ip.String(), func(t *testing.T) {
			var (
				listen *net.UDPAddr
				cmd    *exec.Cmd
				pid    int
				lines  chan string
				log    []string
				exited chan struct{}
			)
			testpeer.OnFreePort(t, "udp", tc.ip, func(port int) error {
				listen = &net.UDPAddr{IP: tc.ip, Port: port}
				args := []string{"-d", "-l", listen.String(), "-E", helperEnv + "=" + mode, "-E", "GORACE=atexit_sleep_ms=0", "--fdname=tftp"}
				if mode == "stdin" {
					args = append(args, "--inetd")
				}
				cmd = exec.Command(tool, append(args, exe, "-test.run=^$")...)
				stderrPipe, err := cmd.StderrPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				pid = cmd.Process.Pid
				c, done := cmd, make(chan struct{})
				exited = done
				t.Cleanup(func() {
					select {
					case <-done:
					default:
						_ = c.Process.Kill() // the process this test started, by its PID
						_ = c.Wait()         // killed on purpose
					}
				})
				// The tool says "Listening on ADDR as FD." once the socket is bound.
				lines = make(chan string, 64)
				log = nil
				go func(lines chan<- string) {
					sc := bufio.NewScanner(stderrPipe)
					for sc.Scan() {
						select {
						case lines <- sc.Text():
						default:
						}
					}
					close(lines)
				}(lines)
				timer := time.NewTimer(20 * time.Second)
				defer timer.Stop()
				for {
					select {
					case l, ok := <-lines:
						if !ok {
							err := fmt.Errorf("%s (pid %d) ended before listening:\n%s", tool, pid, strings.Join(log, "\n"))
							if werr := cmd.Wait(); werr != nil {
								err = fmt.Errorf("%w (%v)", err, werr)
							}
							close(done)
							if strings.Contains(strings.Join(log, "\n"), "Address already in use") {
								return fmt.Errorf("%w: %v", testpeer.ErrPortInUse, err)
							}
							return err
						}
						log = append(log, l)
						if strings.HasPrefix(l, "Listening on") {
							return nil
						}
					case <-timer.C:
						return fmt.Errorf("%s (pid %d) did not listen within 20s:\n%s", tool, pid, strings.Join(log, "\n"))
					}
				}
			})
			reply := roundTrip(t, listen, "tftp?")
			for l := range lines { // drains until the helper exits and closes stderr
				log = append(log, l)
			}
			err := cmd.Wait()
			close(exited)
			if err != nil {
				t.Fatalf("%s (pid %d): %v\n%s", tool, pid, err, strings.Join(log, "\n"))
			}
			if reply != "echo tftp? ok" {
				t.Errorf("reply %q, want %q; log:\n%s", reply, "echo tftp? ok", strings.Join(log, "\n"))
			}
		})
	}
}
