//go:build linux

package serve

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"golang.org/x/sys/unix"
)

// threadPolicies returns the scheduling policy of every thread of pid, by
// thread ID, from field 41 of /proc/PID/task/TID/stat.
func threadPolicies(t *testing.T, pid int) map[int]int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[int]int)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		if err != nil {
			continue // the thread exited
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // f[0] is field 3
		if len(f) < 39 {
			t.Fatalf("%s/%s/stat: %d fields after the name, want 39 or more", dir, e.Name(), len(f))
		}
		p, err := strconv.Atoi(f[38])
		if err != nil {
			t.Fatalf("%s/%s/stat: policy %q: %v", dir, e.Name(), f[38], err)
		}
		tid, _ := strconv.Atoi(e.Name())
		out[tid] = p
	}
	return out
}

// setAllOther moves every thread of this process under SCHED_BATCH back to
// SCHED_OTHER, undoing setBatchScheduling for the tests after.
func setAllOther(t *testing.T) {
	for tid, p := range threadPolicies(t, os.Getpid()) {
		if p != unix.SCHED_BATCH {
			continue
		}
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			continue // exited
		}
		attr.Policy = unix.SCHED_NORMAL
		if err := unix.SchedSetAttr(tid, attr, 0); err != nil && err != unix.ESRCH {
			t.Errorf("thread %d back to SCHED_OTHER: %v", tid, err)
		}
	}
}

// lockedThreads starts n goroutines, each on a thread of its own, and
// returns a function that ends them.
func lockedThreads(n int) (stop func()) {
	quit := make(chan struct{})
	ready := make(chan struct{})
	for range n {
		go func() {
			runtime.LockOSThread() // the thread ends with the goroutine
			ready <- struct{}{}
			<-quit
		}()
	}
	for range n {
		<-ready
	}
	return func() { close(quit) }
}

func TestSetBatchScheduling(t *testing.T) {
	t.Cleanup(func() { setAllOther(t) })
	stop := lockedThreads(3)
	defer stop()
	before := threadPolicies(t, os.Getpid())
	moved, err := setBatchScheduling()
	if err != nil {
		t.Fatal(err)
	}
	after := threadPolicies(t, os.Getpid())
	want := 0 // threads under SCHED_OTHER before that are still there
	for tid, p := range before {
		if _, live := after[tid]; live && p == unix.SCHED_NORMAL {
			want++
		}
	}
	if moved < want {
		t.Errorf("moved %d threads; %d ran under SCHED_OTHER before", moved, want)
	}
	for tid, p := range after {
		if p == unix.SCHED_NORMAL {
			t.Errorf("thread %d still under SCHED_OTHER", tid)
		}
		if b, ok := before[tid]; ok && b != unix.SCHED_NORMAL && p != b {
			t.Errorf("thread %d under policy %d was changed to %d", tid, b, p)
		}
	}
	// Threads the runtime starts from now on inherit the policy.
	stop2 := lockedThreads(3)
	defer stop2()
	for tid, p := range threadPolicies(t, os.Getpid()) {
		if _, old := after[tid]; !old && p != unix.SCHED_BATCH {
			t.Errorf("thread %d started after the change runs under policy %d, want SCHED_BATCH", tid, p)
		}
	}
	// A second call finds nothing left to move.
	if n, err := setBatchScheduling(); err != nil || n != 0 {
		t.Errorf("second call moved %d threads (%v), want 0", n, err)
	}
}

// TestBinaryBatchScheduling starts the daemon from a thread under
// SCHED_OTHER and reads its threads' policies: SCHED_BATCH by default,
// untouched with --batch-scheduling=false.
func TestBinaryBatchScheduling(t *testing.T) {
	bin := testpeer.Binary(t)
	tree := fixture.PiBoot()
	board := "1234abcd," + piDisk(t, tree).Path
	for _, c := range []struct {
		flag string
		want int
	}{
		{"", unix.SCHED_BATCH},
		{"--batch-scheduling=false", unix.SCHED_NORMAL},
	} {
		t.Run(fmt.Sprintf("flag=%q", c.flag), func(t *testing.T) {
			var p *proc
			var addr string
			testpeer.OnFreePort(t, "udp", net.IPv4(127, 0, 0, 1), func(port int) error {
				args := []string{"--listen", "127.0.0.1", "--port", strconv.Itoa(port), "--config", emptyConfig(t), "--board", board}
				if c.flag != "" {
					args = append(args, c.flag)
				}
				p = startUnderOther(t, exec.Command(bin, args...))
				addr = fmt.Sprintf("127.0.0.1:%d", port)
				return p.listening("msg=serving")
			})
			// A transfer first, so that the threads serving it exist.
			mustGet(t, addr, "1234abcd/kernel8.img", tree["kernel8.img"].Data)
			pol := threadPolicies(t, p.cmd.Process.Pid)
			if len(pol) < 2 {
				t.Errorf("daemon has %d threads, want several", len(pol))
			}
			for tid, got := range pol {
				if got != c.want {
					t.Errorf("thread %d of the daemon runs under policy %d, want %d", tid, got, c.want)
				}
			}
			if code := p.stop(t, syscall.SIGTERM); code != 0 {
				t.Errorf("exit status %d after SIGTERM:\n%s", code, p.stderr)
			}
		})
	}
}

// startUnderOther starts cmd from a thread under SCHED_OTHER, so that the
// child starts under it whatever earlier tests did to this process.
func startUnderOther(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	attr, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if attr.Policy != unix.SCHED_NORMAL {
		old := *attr
		attr.Policy = unix.SCHED_NORMAL
		if err := unix.SchedSetAttr(0, attr, 0); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := unix.SchedSetAttr(0, &old, 0); err != nil {
				t.Error(err)
			}
		}()
	}
	return startProc(t, cmd)
}
