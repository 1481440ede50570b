// Package sdnotify tells systemd about nobodd-go's state through the notify
// protocol of sd_notify(3): READY=1, RELOADING=1, STOPPING=1, STATUS=… and
// the watchdog keep-alive WATCHDOG=1.
//
// Limits: Linux only. NOTIFY_SOCKET must be an absolute path or an abstract
// socket name starting with '@'; the vsock: form of systemd 254+ is refused.
// No file descriptors are passed (no FDSTORE) and no credentials are sent
// beyond those the kernel attaches. Each message opens, uses and closes its
// own socket, so a Notifier holds no resources and is safe for concurrent use,
// but costs a few system calls per message: fine for state changes and a
// watchdog, not for per-packet use. A nil Notifier, or one with no Socket,
// sends nothing and returns nil from every method, so callers need not check
// whether they run under systemd.
//
// For Type=notify-reload (systemd 253+) systemd requires RELOADING=1 to carry
// MONOTONIC_USEC; Reloading always adds it. After a reload the daemon sends
// READY=1 again.
package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The environment variables systemd sets for a notify service.
const (
	EnvNotifySocket = "NOTIFY_SOCKET"
	EnvWatchdogUsec = "WATCHDOG_USEC"
	EnvWatchdogPID  = "WATCHDOG_PID"
)

// Notifier sends notifications to systemd. The zero value sends nothing.
type Notifier struct {
	// Socket is where notifications go: an absolute path of a Unix datagram
	// socket, or "@name" for an abstract one. "" disables notifications.
	Socket string
	// WatchdogInterval is the service's watchdog timeout (WatchdogSec=);
	// RunWatchdog pings at half of it. 0 disables the watchdog.
	WatchdogInterval time.Duration
}

// FromEnv returns the Notifier systemd asked for through this process's
// environment; see Lookup.
func FromEnv() (*Notifier, error) { return Lookup(os.LookupEnv, os.Getpid()) }

// Lookup returns the Notifier described by NOTIFY_SOCKET, WATCHDOG_USEC and
// WATCHDOG_PID as read through lookup, for the process pid. The watchdog is
// enabled only when WATCHDOG_PID is unset or equal to pid. When NOTIFY_SOCKET
// is unset or empty the result sends nothing. A malformed variable is an
// error naming it; the Notifier is returned regardless, with the offending
// part disabled, so a caller may log the error and carry on.
func Lookup(lookup func(string) (string, bool), pid int) (*Notifier, error) {
	n := &Notifier{}
	var errs []error
	if s, _ := lookup(EnvNotifySocket); s != "" {
		if err := checkSocket(s); err != nil {
			errs = append(errs, err)
		} else {
			n.Socket = s
		}
	}
	if usec, ok := lookup(EnvWatchdogUsec); ok && usec != "" {
		d, err := strconv.ParseUint(usec, 10, 63)
		switch {
		case err != nil || d == 0 || d > uint64(time.Duration(1<<63-1)/time.Microsecond):
			errs = append(errs, fmt.Errorf("sdnotify: %s=%q is not a positive number of microseconds", EnvWatchdogUsec, usec))
		default:
			n.WatchdogInterval = time.Duration(d) * time.Microsecond
		}
	}
	if wpid, ok := lookup(EnvWatchdogPID); ok && wpid != "" && n.WatchdogInterval > 0 {
		p, err := strconv.Atoi(wpid)
		switch {
		case err != nil || p <= 0:
			errs = append(errs, fmt.Errorf("sdnotify: %s=%q is not a process id", EnvWatchdogPID, wpid))
			n.WatchdogInterval = 0
		case p != pid:
			n.WatchdogInterval = 0 // the watchdog is another process's job
		}
	}
	return n, errors.Join(errs...)
}

func checkSocket(s string) error {
	if strings.HasPrefix(s, "/") || (strings.HasPrefix(s, "@") && len(s) > 1) {
		return nil
	}
	return fmt.Errorf("sdnotify: %s=%q is neither an absolute path nor an abstract socket name (@name); not notifying", EnvNotifySocket, s)
}

// Enabled reports whether n sends anything.
func (n *Notifier) Enabled() bool { return n != nil && n.Socket != "" }

// Notify sends one datagram of newline-separated assignments, such as
// "READY=1", to the socket. It is the primitive under the other methods.
func (n *Notifier) Notify(assignments ...string) error {
	if !n.Enabled() {
		return nil
	}
	if err := checkSocket(n.Socket); err != nil {
		return err
	}
	msg := strings.Join(assignments, "\n")
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.Socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sdnotify: send %q to %s: %w", msg, n.Socket, err)
	}
	_, err = c.Write([]byte(msg))
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sdnotify: send %q to %s: %w", msg, n.Socket, err)
	}
	return nil
}

// Ready tells systemd that start-up, or a reload, is complete (READY=1).
func (n *Notifier) Ready() error { return n.Notify("READY=1") }

// Reloading tells systemd that the daemon is reloading its configuration
// (RELOADING=1 with MONOTONIC_USEC, the CLOCK_MONOTONIC time in
// microseconds). Send Ready when the reload is done.
func (n *Notifier) Reloading() error {
	if !n.Enabled() {
		return nil
	}
	usec, err := MonotonicUsec()
	if err != nil {
		return err
	}
	return n.Notify("RELOADING=1", "MONOTONIC_USEC="+strconv.FormatUint(usec, 10))
}

// Stopping tells systemd that the daemon is shutting down (STOPPING=1).
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// Status sets the one-line status shown by systemctl status (STATUS=…).
// Newlines in status become spaces.
func (n *Notifier) Status(status string) error {
	return n.Notify("STATUS=" + strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(status))
}

// Watchdog sends one watchdog keep-alive (WATCHDOG=1).
func (n *Notifier) Watchdog() error { return n.Notify("WATCHDOG=1") }

// RunWatchdog sends WATCHDOG=1 at once and then every half
// WatchdogInterval until ctx ends, when it returns nil (it sends nothing if
// ctx has already ended). It returns the first
// send error, after which systemd will consider the service hung when the
// interval runs out. When notifications or the watchdog are disabled it
// returns nil at once.
func (n *Notifier) RunWatchdog(ctx context.Context) error {
	if !n.Enabled() || n.WatchdogInterval <= 0 {
		return nil
	}
	period := n.WatchdogInterval / 2
	if period <= 0 {
		period = n.WatchdogInterval
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for ctx.Err() == nil {
		if err := n.Watchdog(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// MonotonicUsec returns CLOCK_MONOTONIC in microseconds, the clock systemd
// expects in MONOTONIC_USEC.
func MonotonicUsec() (uint64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("sdnotify: read CLOCK_MONOTONIC: %w", err)
	}
	return uint64(ts.Sec)*1_000_000 + uint64(ts.Nsec)/1_000, nil
}
