package serve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// proc is a started binary whose standard error is collected.
type proc struct {
	cmd    *exec.Cmd
	stderr *tftptest.LogBuffer
	lines  chan string
	done   chan struct{}
}

func startProc(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd, stderr: &tftptest.LogBuffer{}, lines: make(chan string, 256), done: make(chan struct{})}
	r, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			fmt.Fprintln(p.stderr, sc.Text())
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill() // only our own child, by its pid
			<-p.done
			_ = cmd.Wait()
		}
	})
	return p
}

// waitLine waits for a standard error line containing s.
func (p *proc) waitLine(t *testing.T, s string) string {
	t.Helper()
	l, err := p.nextLine(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// listening waits for a standard error line containing s, the sign that the
// process bound its port. When the process ends first saying that the
// address is in use it returns an error wrapping testpeer.ErrPortInUse, for
// testpeer.OnFreePort to try another port.
func (p *proc) listening(s string) error {
	_, err := p.nextLine(s)
	if err != nil && strings.Contains(strings.ToLower(p.stderr.String()), "address already in use") {
		return fmt.Errorf("%w: %v", testpeer.ErrPortInUse, err)
	}
	return err
}

func (p *proc) nextLine(s string) (string, error) {
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, s) {
				return l, nil
			}
		case <-p.done:
			return "", fmt.Errorf("process ended before logging %q:\n%s", s, p.stderr)
		case <-timer.C:
			return "", fmt.Errorf("no line with %q within 30s:\n%s", s, p.stderr)
		}
	}
}

// stop sends sig and returns the exit status.
func (p *proc) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	return p.wait(t)
}

func (p *proc) wait(t *testing.T) int {
	t.Helper()
	timer := time.NewTimer(40 * time.Second)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		t.Fatalf("process did not exit within 40s:\n%s", p.stderr)
	}
	err := p.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// TestBinary builds the real binary and checks, in turn: the subcommand
// dispatch, serving a fixture image to tftp.Client and curl, socket
// activation under systemd-socket-activate, an inetd-style socket on
// standard input, and the notify protocol with a transfer in flight at
// SIGTERM.
func TestBinary(t *testing.T) {
	bin := testpeer.Binary(t)
	tree := fixture.PiBoot()
	d := piDisk(t, tree)
	board := "1234abcd," + d.Path

	t.Run("dispatch", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			code int
			out  string
		}{
			{[]string{"--version"}, 0, "nobodd-go "},
			{[]string{"help"}, 0, "demo"},
			{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
			{[]string{"get"}, 2, "usage: nobodd-go get"},
			{[]string{"--bogus"}, 2, "-bogus"},
			{[]string{"--config", "/nonexistent/x.toml"}, 1, "cannot read"},
		} {
			out, err := exec.Command(bin, c.args...).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.code || !strings.Contains(string(out), c.out) {
				t.Errorf("%q: exit %d, want %d; output %q, want %q in it", c.args, code, c.code, out, c.out)
			}
		}
	})

	t.Run("listen", func(t *testing.T) {
		logical := fixture.Tree{"config.txt": {Data: []byte("logical partition\n")}, "kernel8.img": {Data: fixture.Pseudo(12, 90000)}}
		ld := fixture.NewDisk(t, fixture.Disk{Label: "dos", Partitions: []fixture.Partition{
			{Type: "c", Size: 16 << 20, FAT: &fixture.FAT{Type: 16, Tree: fixture.Tree{"config.txt": {Data: []byte("primary\n")}}}},
			{Type: "5"},
			{Type: "e", Size: 16 << 20, FAT: &fixture.FAT{Type: 16, Tree: logical}},
		}})
		var p *proc
		var addr string
		testpeer.OnFreePort(t, "udp", net.IPv4(127, 0, 0, 1), func(port int) error {
			p = startProc(t, exec.Command(bin, "--listen", "127.0.0.1", "--port", strconv.Itoa(port),
				"--config", emptyConfig(t), "--board", board, "--board", "0000e5e5,"+ld.Path+",5"))
			addr = fmt.Sprintf("127.0.0.1:%d", port)
			return p.listening("msg=serving")
		})
		mustGet(t, addr, "1234abcd/kernel8.img", tree["kernel8.img"].Data)
		curl := testpeer.Require(t, "curl")
		out := filepath.Join(t.TempDir(), "start4.elf")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if b, err := exec.CommandContext(ctx, curl, "-sS", "-o", out, fmt.Sprintf("tftp://%s/1234abcd/start4.elf", addr)).CombinedOutput(); err != nil {
			t.Fatalf("curl: %v\n%s", err, b)
		}
		if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, tree["start4.elf"].Data) {
			t.Errorf("curl got %d bytes (%v), want start4.elf's %d", len(got), err, len(tree["start4.elf"].Data))
		}
		// A board on a logical partition, through curl and tftp.Client.
		mustGet(t, addr, "0000e5e5/kernel8.img", logical["kernel8.img"].Data)
		if b, err := exec.CommandContext(ctx, curl, "-sS", "-o", out, fmt.Sprintf("tftp://%s/0000e5e5/config.txt", addr)).CombinedOutput(); err != nil {
			t.Fatalf("curl: %v\n%s", err, b)
		}
		if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, logical["config.txt"].Data) {
			t.Errorf("curl from the logical partition got %q (%v)", got, err)
		}
		if code := p.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("exit status %d after SIGTERM:\n%s", code, p.stderr)
		}
		if len(tftptest.Lines(p.stderr.String(), "msg=transfer", "file=1234abcd/start4.elf", "board=1234abcd", "outcome=completed")) != 1 {
			t.Errorf("no transfer line for curl's request:\n%s", p.stderr)
		}
	})

	t.Run("port-in-use", func(t *testing.T) {
		// What testpeer.OnFreePort relies on to try another port.
		held, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := held.Close(); err != nil {
				t.Error(err)
			}
		}()
		port := held.LocalAddr().(*net.UDPAddr).Port
		p := startProc(t, exec.Command(bin, "--listen", "127.0.0.1", "--port", strconv.Itoa(port),
			"--config", emptyConfig(t), "--board", board))
		if err := p.listening("msg=serving"); !errors.Is(err, testpeer.ErrPortInUse) {
			t.Errorf("listening on a taken port: %v, want testpeer.ErrPortInUse", err)
		}
		if code := p.wait(t); code != 1 {
			t.Errorf("exit status %d on a taken port, want 1", code)
		}
	})

	t.Run("systemd-socket-activate", func(t *testing.T) {
		ssa := testpeer.Require(t, "systemd-socket-activate")
		var p *proc
		var addr string
		testpeer.OnFreePort(t, "udp", net.IPv4(127, 0, 0, 1), func(port int) error {
			addr = fmt.Sprintf("127.0.0.1:%d", port)
			p = startProc(t, exec.Command(ssa, "-d", "-l", addr,
				bin, "--listen", "systemd", "--port", "6969", "--config", emptyConfig(t), "--board", board))
			return p.listening("Listening on")
		})
		// The daemon starts on the first datagram.
		mustGet(t, addr, "1234abcd/config.txt", tree["config.txt"].Data)
		p.waitLine(t, "msg=serving")
		if code := p.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("exit status %d after SIGTERM:\n%s", code, p.stderr)
		}
		if len(tftptest.Lines(p.stderr.String(), "port setting is ignored")) != 1 {
			t.Errorf("no note that --port is ignored:\n%s", p.stderr)
		}
	})

	t.Run("stdin", func(t *testing.T) {
		sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		addr := sock.LocalAddr().String()
		f, err := sock.File()
		if err != nil {
			t.Fatal(err)
		}
		if err := sock.Close(); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--listen", "stdin", "--config", emptyConfig(t), "--board", board)
		cmd.Stdin = f
		p := startProc(t, cmd)
		if err := f.Close(); err != nil { // the child has its own copy
			t.Fatal(err)
		}
		p.waitLine(t, "msg=serving")
		mustGet(t, addr, "1234abcd/fixup4.dat", tree["fixup4.dat"].Data)
		if code := p.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("exit status %d after SIGTERM:\n%s", code, p.stderr)
		}
	})

	t.Run("notify", func(t *testing.T) {
		ns := newNotifySocket(t)
		cfg := filepath.Join(t.TempDir(), "nobodd-go.toml")
		writeFile(t, cfg, "[tftp]\ntimeout = \"2s\"\nretries = 10\n")
		var p *proc
		var addr string
		testpeer.OnFreePort(t, "udp", net.IPv4(127, 0, 0, 1), func(port int) error {
			addr = fmt.Sprintf("127.0.0.1:%d", port)
			cmd := exec.Command(bin, "--listen", "127.0.0.1", "--port", strconv.Itoa(port), "--config", cfg, "--board", board)
			cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+ns.path, "WATCHDOG_USEC=2000000")
			p = startProc(t, cmd)
			return p.listening("msg=serving")
		})
		ns.expect(t, "READY=1")
		watchdog := false
		for range 8 {
			if ns.next(t) == "WATCHDOG=1" {
				watchdog = true
				break
			}
		}
		if !watchdog {
			t.Error("no WATCHDOG=1 with WATCHDOG_USEC set")
		}

		writeFile(t, cfg, "[tftp]\ntimeout = \"2s\"\nretries = 10\n\n[board.more]\nserial = \"cafe0001\"\nimage = "+strconv.Quote(d.Path)+"\n")
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		msg := ns.expect(t, "RELOADING=1")
		if !strings.Contains(msg, "\nMONOTONIC_USEC=") {
			t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", msg)
		}
		ns.expect(t, "READY=1")
		mustGet(t, addr, "cafe0001/cmdline.txt", tree["cmdline.txt"].Data)

		x := startRaw(t, addr, "1234abcd/kernel8.img")
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		ns.expect(t, "STOPPING=1")
		if got := x.finish(t); !bytes.Equal(got, tree["kernel8.img"].Data) {
			t.Errorf("transfer in flight at SIGTERM: %d bytes, want %d", len(got), len(tree["kernel8.img"].Data))
		}
		if code := p.wait(t); code != 0 {
			t.Errorf("exit status %d after SIGTERM with a transfer in flight:\n%s", code, p.stderr)
		}
	})
}
