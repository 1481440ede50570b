package activation

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary doubles as the activated daemon: when helperEnv is set,
// TestMain runs helperMain instead of the tests. The helper takes its socket
// the way nobodd-go does, checks what the package promises about process
// state, reads one datagram and answers "echo <payload> <verdict>", where the
// verdict is "ok" or the list of broken promises. Errors from taking the
// socket go to stderr with exit status 3.
const (
	helperEnv    = "NOBODD_ACTIVATION_HELPER" // "systemd" or "stdin"
	helperSetPID = "NOBODD_ACTIVATION_SET_PID"
	helperExit   = 3
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "systemd":
		os.Exit(helperMain(true))
	case "stdin":
		os.Exit(helperMain(false))
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperEnv, os.Getenv(helperEnv))
		os.Exit(2)
	}
}

func helperMain(systemd bool) int {
	var (
		pc  net.PacketConn
		err error
		// What descriptors 0-2 were before, to check what Stdin changed.
		before [3]unix.Stat_t
	)
	for fd := range before {
		if err := unix.Fstat(fd, &before[fd]); err != nil {
			fmt.Fprintf(os.Stderr, "fstat fd %d: %v\n", fd, err)
			return 2
		}
	}
	if systemd {
		if os.Getenv(helperSetPID) != "" {
			os.Setenv(EnvListenPID, strconv.Itoa(os.Getpid()))
		}
		pc, err = Systemd()
	} else {
		pc, err = Stdin()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return helperExit
	}
	defer pc.Close()

	var broken []string
	if systemd {
		for _, k := range []string{EnvListenPID, EnvListenFDs, EnvListenFDNames} {
			if v, ok := os.LookupEnv(k); ok {
				broken = append(broken, fmt.Sprintf("%s=%q-still-set", k, v))
			}
		}
		if _, err := unix.FcntlInt(ListenFDsStart, unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
			broken = append(broken, "fd-3-still-open")
		}
	} else {
		var null unix.Stat_t
		if err := unix.Stat(os.DevNull, &null); err != nil {
			broken = append(broken, "stat-dev-null:"+err.Error())
		}
		for fd := range before {
			var now unix.Stat_t
			if err := unix.Fstat(fd, &now); err != nil {
				broken = append(broken, fmt.Sprintf("fd-%d-closed", fd))
				continue
			}
			wasSocket := before[fd].Dev == before[0].Dev && before[fd].Ino == before[0].Ino
			isNull := now.Rdev == null.Rdev && now.Mode&unix.S_IFMT == unix.S_IFCHR
			if wasSocket && !isNull {
				broken = append(broken, fmt.Sprintf("fd-%d-not-dev-null", fd))
			}
			if !wasSocket && (now.Dev != before[fd].Dev || now.Ino != before[fd].Ino) {
				broken = append(broken, fmt.Sprintf("fd-%d-changed", fd))
			}
		}
		// Log lines must not fail (as they would on an unconnected socket).
		if _, err := fmt.Fprintln(os.Stderr, "helper: took the socket from stdin"); err != nil {
			broken = append(broken, "stderr-write:"+err.Error())
		}
	}
	sc, ok := pc.(syscall.Conn)
	if !ok {
		broken = append(broken, fmt.Sprintf("%T-is-not-a-syscall.Conn", pc))
	} else if raw, err := sc.SyscallConn(); err != nil {
		broken = append(broken, "syscallconn:"+err.Error())
	} else {
		var flags int
		var ferr error
		if err := raw.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFD, 0) }); err != nil {
			ferr = err
		}
		if ferr != nil || flags&unix.FD_CLOEXEC == 0 {
			broken = append(broken, fmt.Sprintf("no-cloexec(flags=%#x,err=%v)", flags, ferr))
		}
	}

	verdict := "ok"
	if len(broken) > 0 {
		verdict = strings.Join(broken, ",")
	}
	if err := pc.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		fmt.Fprintln(os.Stderr, "set deadline:", err)
		return 2
	}
	buf := make([]byte, 1500)
	n, from, err := pc.ReadFrom(buf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "read:", err)
		return 2
	}
	reply := fmt.Sprintf("echo %s %s", buf[:n], verdict)
	if _, err := pc.WriteTo([]byte(reply), from); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		return 2
	}
	return 0
}
