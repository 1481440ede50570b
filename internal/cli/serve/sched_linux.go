//go:build linux

package serve

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// batchPasses bounds the scans of /proc/self/task in setBatchScheduling.
const batchPasses = 8

// setBatchScheduling moves every thread of the process that runs under
// SCHED_OTHER to SCHED_BATCH, keeping its nice value; threads under another
// policy (one systemd's CPUSchedulingPolicy= chose, say) are left alone. A
// thread the Go runtime starts later inherits the policy of the thread that
// starts it, so once a scan finds no thread it has not seen, all have it.
// It returns how many threads it moved.
//
// Under SCHED_BATCH a thread woken by a packet does not preempt the task
// running on its CPU: it runs when that task blocks or its time slice ends,
// and then finds every packet that arrived meanwhile. On an idle CPU it runs
// at once, as before. See the batch-scheduling key in package config.
func setBatchScheduling() (int, error) {
	seen := make(map[int]bool)
	moved := 0
	for pass := 0; pass < batchPasses; pass++ {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return moved, err
		}
		fresh := false
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || seen[tid] {
				continue
			}
			seen[tid], fresh = true, true
			ok, err := batchThread(tid)
			if err != nil {
				return moved, err
			}
			if ok {
				moved++
			}
		}
		if !fresh {
			return moved, nil
		}
	}
	return moved, fmt.Errorf("threads still starting after %d scans of /proc/self/task", batchPasses)
}

// batchThread moves thread tid from SCHED_OTHER to SCHED_BATCH and reports
// whether it did. A thread that exited meanwhile is not an error.
func batchThread(tid int) (bool, error) {
	attr, err := unix.SchedGetAttr(tid, 0)
	if errors.Is(err, unix.ESRCH) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sched_getattr(%d): %w", tid, err)
	}
	if attr.Policy != unix.SCHED_NORMAL {
		return false, nil
	}
	attr.Policy = unix.SCHED_BATCH
	if err := unix.SchedSetAttr(tid, attr, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return false, nil
		}
		return false, fmt.Errorf("sched_setattr(%d, SCHED_BATCH): %w", tid, err)
	}
	return true, nil
}
