// Package activation takes nobodd-go's TFTP socket from the process that
// started it: from systemd socket activation (LISTEN_FDS, LISTEN_PID,
// LISTEN_FDNAMES) or from inetd (the socket on standard input).
//
// Limits: Linux only. Exactly one socket is accepted, and it must be an
// AF_INET or AF_INET6 datagram socket; several sockets, stream sockets, Unix
// domain sockets and anything that is not a socket are refused with an error
// that says what was found. On error the passed descriptors stay open (with
// close-on-exec set); the caller is expected to report the error and exit.
// The package reads and changes process-wide state (environment variables and
// file descriptors 0-2), so each function is meant to be called once, early,
// from main.
//
// The protocol is the one documented in sd_listen_fds(3): systemd passes the
// sockets as consecutive descriptors starting at 3, sets LISTEN_FDS to their
// count and LISTEN_PID to the pid they are meant for, and optionally names
// them, colon-separated, in LISTEN_FDNAMES. An inetd "wait" datagram service
// gets its bound socket as descriptor 0 (and usually 1 and 2 as well).
package activation

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ListenFDsStart is the first descriptor systemd passes (SD_LISTEN_FDS_START).
const ListenFDsStart = 3

// The environment variables of the socket activation protocol. They are
// removed from the environment once read, so child processes do not take
// them as their own.
const (
	EnvListenPID     = "LISTEN_PID"
	EnvListenFDs     = "LISTEN_FDS"
	EnvListenFDNames = "LISTEN_FDNAMES"
)

// Env is where Systemd reads the activation protocol from. Its zero value
// uses the real process: os.LookupEnv, os.Unsetenv, os.Getpid and descriptors
// from 3 up. Tests replace the fields to run the protocol without a real
// environment.
type Env struct {
	// LookupEnv reads a variable; nil means os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// Unsetenv removes a variable once it has been read; nil means os.Unsetenv.
	Unsetenv func(key string) error
	// PID is the process id LISTEN_PID must name; 0 means os.Getpid().
	PID int
	// FDBase is the descriptor of the first passed socket; 0 means
	// ListenFDsStart.
	FDBase int
}

// Systemd takes the single datagram socket passed by systemd socket
// activation to this process. It is Env{}.Systemd().
func Systemd() (net.PacketConn, error) { return Env{}.Systemd() }

// Systemd takes the single datagram socket passed by systemd socket
// activation. It always removes LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES from
// the environment, sets close-on-exec on every passed descriptor, and then
// refuses anything other than exactly one AF_INET or AF_INET6 datagram
// socket. The returned connection owns a duplicate of the descriptor; the
// passed descriptor itself is closed.
func (e Env) Systemd() (net.PacketConn, error) {
	lookup, unset := e.LookupEnv, e.Unsetenv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if unset == nil {
		unset = os.Unsetenv
	}
	pid := e.PID
	if pid == 0 {
		pid = os.Getpid()
	}
	base := e.FDBase
	if base == 0 {
		base = ListenFDsStart
	}

	pidStr, havePID := lookup(EnvListenPID)
	fdsStr, haveFDs := lookup(EnvListenFDs)
	namesStr, _ := lookup(EnvListenFDNames)
	var unsetErr error
	for _, k := range []string{EnvListenPID, EnvListenFDs, EnvListenFDNames} {
		if err := unset(k); err != nil {
			unsetErr = errors.Join(unsetErr, fmt.Errorf("activation: unset %s: %w", k, err))
		}
	}
	if unsetErr != nil {
		return nil, unsetErr
	}

	if !havePID || !haveFDs {
		return nil, errors.New("activation: not started by systemd socket activation (LISTEN_PID or LISTEN_FDS is not set); nobodd-go needs exactly one datagram socket")
	}
	listenPID, err := strconv.Atoi(pidStr)
	if err != nil || listenPID <= 0 {
		return nil, fmt.Errorf("activation: LISTEN_PID=%q is not a process id", pidStr)
	}
	if listenPID != pid {
		return nil, fmt.Errorf("activation: LISTEN_PID=%d names another process (this is pid %d); the sockets were not meant for nobodd-go", listenPID, pid)
	}
	n, err := strconv.Atoi(fdsStr)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("activation: LISTEN_FDS=%q is not a socket count", fdsStr)
	}
	var names []string
	if namesStr != "" {
		names = strings.Split(namesStr, ":")
	}
	for i := range n {
		if _, err := unix.FcntlInt(uintptr(base+i), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
			return nil, fmt.Errorf("activation: systemd passed %d sockets but fd %d is unusable: %w", n, base+i, err)
		}
	}
	switch {
	case n == 0:
		return nil, errors.New("activation: systemd passed no sockets; nobodd-go needs exactly one datagram socket")
	case n > 1:
		return nil, fmt.Errorf("activation: systemd passed %d sockets%s; nobodd-go needs exactly one datagram socket", n, describeNames(names))
	}
	what := fmt.Sprintf("the socket systemd passed (fd %d)", base)
	if len(names) > 0 && names[0] != "" {
		what = fmt.Sprintf("socket %q from systemd (fd %d)", names[0], base)
	}
	pc, err := packetConn(base, what)
	if err != nil {
		return nil, err
	}
	if err := unix.Close(base); err != nil {
		return nil, errors.Join(fmt.Errorf("activation: close fd %d after taking it: %w", base, err), pc.Close())
	}
	return pc, nil
}

func describeNames(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (named " + strings.Join(names, ", ") + ")"
}

// Stdin takes the datagram socket an inetd-style superserver passes on
// descriptor 0. Once the socket is taken, descriptor 0, and descriptors 1 and
// 2 where they refer to the same socket (as inetd arranges), are pointed at
// /dev/null, so that nothing later writes log lines into the TFTP socket or
// reads from it by accident. The returned connection owns its own duplicate
// of the socket, with close-on-exec set.
func Stdin() (net.PacketConn, error) { return inetd(0, 1, 2) }

// inetd is Stdin with the descriptors injectable for tests: in is the socket;
// alsoSocket are descriptors that are redirected to /dev/null when they are
// the very same socket.
func inetd(in int, alsoSocket ...int) (net.PacketConn, error) {
	what := fmt.Sprintf("standard input (fd %d)", in)
	if in != 0 {
		what = fmt.Sprintf("fd %d", in)
	}
	var st unix.Stat_t
	if err := unix.Fstat(in, &st); err != nil {
		return nil, fmt.Errorf("activation: %s: %w; nobodd-go needs a datagram socket there when run from inetd", what, err)
	}
	pc, err := packetConn(in, what)
	if err != nil {
		return nil, err
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("activation: open %s to replace the socket on %s: %w", os.DevNull, what, err), pc.Close())
	}
	defer null.Close()
	// Dup2 replaces the socket atomically: the descriptor number is never
	// free for another open to take in between.
	for _, fd := range append([]int{in}, alsoSocket...) {
		var o unix.Stat_t
		if fd != in && (unix.Fstat(fd, &o) != nil || o.Dev != st.Dev || o.Ino != st.Ino) {
			continue
		}
		if err := unix.Dup2(int(null.Fd()), fd); err != nil {
			return nil, errors.Join(fmt.Errorf("activation: point fd %d (the inetd socket) at %s: %w", fd, os.DevNull, err), pc.Close())
		}
	}
	return pc, nil
}

// packetConn checks that fd is an AF_INET or AF_INET6 datagram socket and
// returns a net.PacketConn over a close-on-exec duplicate of it; fd itself is
// left open. what names fd in errors.
func packetConn(fd int, what string) (net.PacketConn, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if errors.Is(err, unix.ENOTSOCK) {
		return nil, fmt.Errorf("activation: %s is %s, not a socket; nobodd-go needs a datagram socket", what, describeFile(fd))
	}
	if err != nil {
		return nil, fmt.Errorf("activation: %s: get socket type: %w", what, err)
	}
	if typ != unix.SOCK_DGRAM {
		return nil, fmt.Errorf("activation: %s is a %s socket; nobodd-go needs a datagram socket", what, socketType(typ))
	}
	domain, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return nil, fmt.Errorf("activation: %s: get socket domain: %w", what, err)
	}
	if domain != unix.AF_INET && domain != unix.AF_INET6 {
		return nil, fmt.Errorf("activation: %s is a datagram socket of address family %s; nobodd-go needs a UDP (AF_INET or AF_INET6) socket", what, family(domain))
	}
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("activation: %s: duplicate: %w", what, err)
	}
	f := os.NewFile(uintptr(dup), what)
	pc, err := net.FilePacketConn(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = errors.Join(cerr, pc.Close())
	}
	if err != nil {
		return nil, fmt.Errorf("activation: %s: %w", what, err)
	}
	return pc, nil
}

func socketType(typ int) string {
	switch typ {
	case unix.SOCK_STREAM:
		return "stream"
	case unix.SOCK_SEQPACKET:
		return "seqpacket"
	case unix.SOCK_RAW:
		return "raw"
	}
	return "type " + strconv.Itoa(typ)
}

func family(domain int) string {
	switch domain {
	case unix.AF_UNIX:
		return "AF_UNIX"
	case unix.AF_NETLINK:
		return "AF_NETLINK"
	case unix.AF_PACKET:
		return "AF_PACKET"
	}
	return strconv.Itoa(domain)
}

// describeFile says what kind of file fd is, for errors.
func describeFile(fd int) string {
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
		return "a terminal"
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "unusable (" + err.Error() + ")"
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "a pipe"
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	}
	return "an unknown kind of file"
}
