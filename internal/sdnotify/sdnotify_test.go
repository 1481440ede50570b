package sdnotify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listen opens a notify socket at name (a path or "@abstract") and returns
// a function that receives the next datagram, failing the test after 10s.
func listen(t *testing.T, name string) func() string {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return func() string {
		t.Helper()
		if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no notification on %s: %v", name, err)
		}
		return string(buf[:n])
	}
}

func abstractName(t *testing.T) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "@nobodd-go-sdnotify-test-" + hex.EncodeToString(b[:])
}

func TestMessages(t *testing.T) {
	for _, kind := range []string{"path", "abstract"} {
		t.Run(kind, func(t *testing.T) {
			name := t.TempDir() + "/notify"
			if kind == "abstract" {
				name = abstractName(t)
			}
			recv := listen(t, name)
			n := &Notifier{Socket: name}
			steps := []struct {
				send func() error
				want string
			}{
				{n.Ready, "READY=1"},
				{func() error { return n.Status("serving 3 boards") }, "STATUS=serving 3 boards"},
				{func() error { return n.Status("two\nlines\r\nhere") }, "STATUS=two lines here"},
				{n.Watchdog, "WATCHDOG=1"},
				{n.Stopping, "STOPPING=1"},
				{func() error { return n.Notify("A=1", "B=2") }, "A=1\nB=2"},
			}
			for _, s := range steps {
				if err := s.send(); err != nil {
					t.Fatalf("sending %q: %v", s.want, err)
				}
				if got := recv(); got != s.want {
					t.Errorf("datagram %q, want %q", got, s.want)
				}
			}
		})
	}
}

// monotonic reads CLOCK_MONOTONIC in microseconds, independently of
// MonotonicUsec.
func monotonic(t *testing.T) uint64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return uint64(time.Duration(ts.Nano()) / time.Microsecond)
}

func TestReloading(t *testing.T) {
	name := t.TempDir() + "/notify"
	recv := listen(t, name)
	n := &Notifier{Socket: name}
	before := monotonic(t)
	if err := n.Reloading(); err != nil {
		t.Fatal(err)
	}
	after := monotonic(t)
	got := recv()
	lines := strings.Split(got, "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
		t.Fatalf("datagram %q, want RELOADING=1 and MONOTONIC_USEC=", got)
	}
	usec, err := strconv.ParseUint(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
	if err != nil {
		t.Fatalf("MONOTONIC_USEC in %q: %v", got, err)
	}
	if usec < before || usec > after {
		t.Errorf("MONOTONIC_USEC=%d outside the CLOCK_MONOTONIC readings around the call [%d, %d]", usec, before, after)
	}
	// Ready after the reload, as the protocol wants.
	if err := n.Ready(); err != nil {
		t.Fatal(err)
	}
	if got := recv(); got != "READY=1" {
		t.Errorf("datagram %q after the reload, want READY=1", got)
	}
}

func TestDisabled(t *testing.T) {
	for _, n := range []*Notifier{nil, {}, {WatchdogInterval: time.Millisecond}} {
		if n.Enabled() {
			t.Errorf("%+v is enabled", n)
		}
		for name, f := range map[string]func() error{
			"Ready": n.Ready, "Reloading": n.Reloading, "Stopping": n.Stopping,
			"Watchdog": n.Watchdog, "Status": func() error { return n.Status("x") },
			"Notify":      func() error { return n.Notify("X=1") },
			"RunWatchdog": func() error { return n.RunWatchdog(context.Background()) },
		} {
			if err := f(); err != nil {
				t.Errorf("%s on %+v: %v, want nil", name, n, err)
			}
		}
	}
}

func TestErrorsReturned(t *testing.T) {
	dir := t.TempDir()
	// No socket at the path.
	n := &Notifier{Socket: dir + "/missing"}
	err := n.Ready()
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), dir+"/missing") {
		t.Errorf("Ready to a missing socket: %v, want ENOENT naming the path", err)
	}
	// A socket whose reader has gone.
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: dir + "/gone", Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	n = &Notifier{Socket: dir + "/gone", WatchdogInterval: time.Hour}
	if err := n.RunWatchdog(context.Background()); !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("RunWatchdog to a dead socket: %v, want ECONNREFUSED", err)
	}
	// A socket that is not absolute is refused before any send.
	n = &Notifier{Socket: "relative/notify"}
	if err := n.Stopping(); err == nil || !strings.Contains(err.Error(), `"relative/notify"`) {
		t.Errorf("Stopping with a relative socket: %v, want an error naming it", err)
	}
}

func TestRunWatchdog(t *testing.T) {
	name := t.TempDir() + "/notify"
	recv := listen(t, name)
	n := &Notifier{Socket: name, WatchdogInterval: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.RunWatchdog(ctx) }()
	for i := range 3 {
		if got := recv(); got != "WATCHDOG=1" {
			t.Fatalf("datagram %d: %q, want WATCHDOG=1", i, got)
		}
	}
	cancel()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunWatchdog returned %v after cancel, want nil", err)
		}
	case <-timer.C:
		t.Fatal("RunWatchdog did not return within 10s of cancel")
	}
	// An already ended context sends nothing.
	if err := n.RunWatchdog(ctx); err != nil {
		t.Errorf("RunWatchdog on an ended context: %v", err)
	}
	if err := n.Notify("MARK=1"); err != nil {
		t.Fatal(err)
	}
	// Datagrams sent before the cancel may still be queued; the first one
	// after them must be the mark, and only a bounded number may precede it.
	for i := 0; ; i++ {
		got := recv()
		if got == "MARK=1" {
			break
		}
		if got != "WATCHDOG=1" || i > 1000 {
			t.Fatalf("datagram %q before the mark (after %d)", got, i)
		}
	}
}

func TestLookup(t *testing.T) {
	const pid = 100
	tests := []struct {
		name     string
		env      map[string]string
		socket   string
		interval time.Duration
		err      string
	}{
		{"unset", map[string]string{}, "", 0, ""},
		{"empty", map[string]string{EnvNotifySocket: ""}, "", 0, ""},
		{"path", map[string]string{EnvNotifySocket: "/run/systemd/notify"}, "/run/systemd/notify", 0, ""},
		{"abstract", map[string]string{EnvNotifySocket: "@x"}, "@x", 0, ""},
		{"relative", map[string]string{EnvNotifySocket: "run/notify"}, "", 0, `NOTIFY_SOCKET="run/notify"`},
		{"vsock", map[string]string{EnvNotifySocket: "vsock:2:1234"}, "", 0, `NOTIFY_SOCKET="vsock:2:1234"`},
		{"bare @", map[string]string{EnvNotifySocket: "@"}, "", 0, `NOTIFY_SOCKET="@"`},
		{"watchdog", map[string]string{EnvNotifySocket: "@x", EnvWatchdogUsec: "30000000"}, "@x", 30 * time.Second, ""},
		{"watchdog ours", map[string]string{EnvNotifySocket: "@x", EnvWatchdogUsec: "1500", EnvWatchdogPID: "100"}, "@x", 1500 * time.Microsecond, ""},
		{"watchdog other", map[string]string{EnvNotifySocket: "@x", EnvWatchdogUsec: "1500", EnvWatchdogPID: "101"}, "@x", 0, ""},
		{"watchdog bad pid", map[string]string{EnvNotifySocket: "@x", EnvWatchdogUsec: "1500", EnvWatchdogPID: "me"}, "@x", 0, `WATCHDOG_PID="me"`},
		{"watchdog zero", map[string]string{EnvNotifySocket: "@x", EnvWatchdogUsec: "0"}, "@x", 0, `WATCHDOG_USEC="0"`},
		{"watchdog junk", map[string]string{EnvNotifySocket: "@x", EnvWatchdogUsec: "30s"}, "@x", 0, `WATCHDOG_USEC="30s"`},
		{"watchdog huge", map[string]string{EnvNotifySocket: "@x", EnvWatchdogUsec: "18446744073709551615"}, "@x", 0, `WATCHDOG_USEC="18446744073709551615"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Lookup(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }, pid)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("error %v, want one containing %q", err, tt.err)
			}
			if n == nil {
				t.Fatal("Lookup returned a nil Notifier")
			}
			if n.Socket != tt.socket || n.WatchdogInterval != tt.interval {
				t.Errorf("got %+v, want socket %q interval %v", *n, tt.socket, tt.interval)
			}
		})
	}
}

// TestFromEnv runs the real-environment path: NOTIFY_SOCKET set by t.Setenv
// to a socket of this test, the watchdog for this pid.
func TestFromEnv(t *testing.T) {
	name := t.TempDir() + "/notify"
	recv := listen(t, name)
	t.Setenv(EnvNotifySocket, name)
	t.Setenv(EnvWatchdogUsec, "2000000")
	t.Setenv(EnvWatchdogPID, strconv.Itoa(os.Getpid()))
	n, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if n.WatchdogInterval != 2*time.Second {
		t.Errorf("WatchdogInterval %v, want 2s", n.WatchdogInterval)
	}
	if err := n.Ready(); err != nil {
		t.Fatal(err)
	}
	if got := recv(); got != "READY=1" {
		t.Errorf("datagram %q, want READY=1", got)
	}
}
