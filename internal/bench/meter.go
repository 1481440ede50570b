package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTick is the unit of the times in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture's user ABI.
const clockTick = 10 * time.Millisecond

// DefaultSampleInterval is how often a ProcMeter samples the process tree
// when Interval is zero.
const DefaultSampleInterval = 100 * time.Millisecond

// Usage is a server's resource use over a load point.
type Usage struct {
	// CPU is user plus system time used during the point.
	CPU    time.Duration
	HasCPU bool
	// PeakRSS is the peak resident memory in bytes (see the package
	// limits for what it covers).
	PeakRSS int64
	HasRSS  bool
}

// A Meter measures a server's resource use between Start and Stop.
type Meter interface {
	Start() error
	Stop() (Usage, error)
}

// ProcMeter measures a process and its descendants through /proc.
type ProcMeter struct {
	// PID is the server's process ID. Required.
	PID int
	// Proc is the proc file system's mount point; "" means /proc.
	Proc string
	// Interval is how often descendants are sampled for memory and CPU;
	// 0 means DefaultSampleInterval.
	Interval time.Duration

	start    int64         // ticks of the process, reaped children included
	children map[int]int64 // ticks of live descendants at Start
	latest   map[int]int64 // ticks of live descendants at the last sample
	peakTree int64         // largest sum of VmRSS seen, bytes
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	err      error
}

func (m *ProcMeter) proc() string {
	if m.Proc != "" {
		return m.Proc
	}
	return "/proc"
}

// procStat is what bench reads of /proc/PID/stat, times in clock ticks.
type procStat struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

// readStat parses /proc/PID/stat.
func readStat(proc string, pid int) (procStat, error) {
	name := filepath.Join(proc, strconv.Itoa(pid), "stat")
	b, err := os.ReadFile(name)
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses itself: the fields resume after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("bench: %s: no ')' closing the command name", name)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field k is f[k-3].
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("bench: %s: %d fields after the command name, want at least 15", name, len(f))
	}
	var s procStat
	var vals [5]int64
	for j, k := range []int{4, 14, 15, 16, 17} {
		v, err := strconv.ParseInt(f[k-3], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("bench: %s: field %d: %w", name, k, err)
		}
		vals[j] = v
	}
	s.ppid = int(vals[0])
	s.utime, s.stime, s.cutime, s.cstime = vals[1], vals[2], vals[3], vals[4]
	return s, nil
}

// readStatus returns VmRSS and VmHWM of /proc/PID/status in bytes (0 for a
// kernel thread or zombie, which have neither).
func readStatus(proc string, pid int) (rss, hwm int64, err error) {
	name := filepath.Join(proc, strconv.Itoa(pid), "status")
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fs := strings.Fields(val)
		if len(fs) != 2 || fs[1] != "kB" {
			return 0, 0, fmt.Errorf("bench: %s: %s %q: want a number of kB", name, key, val)
		}
		kb, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: %s: %s: %w", name, key, err)
		}
		if key == "VmRSS" {
			rss = kb * 1024
		} else {
			hwm = kb * 1024
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("bench: %s: %w", name, err)
	}
	return rss, hwm, nil
}

// descendants returns the stat of every live descendant of pid.
func descendants(proc string, pid int) (map[int]procStat, error) {
	ents, err := os.ReadDir(proc)
	if err != nil {
		return nil, err
	}
	all := map[int]procStat{}
	kids := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		s, err := readStat(proc, p)
		if err != nil {
			continue // gone since the listing
		}
		all[p] = s
		kids[s.ppid] = append(kids[s.ppid], p)
	}
	out := map[int]procStat{}
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range kids[p] {
			out[c] = all[c]
			queue = append(queue, c)
		}
	}
	return out, nil
}

// Start records the process's CPU time and starts sampling its
// descendants.
func (m *ProcMeter) Start() error {
	if m.PID <= 0 {
		return fmt.Errorf("bench: ProcMeter.PID %d: want a process ID", m.PID)
	}
	if m.stop != nil {
		return errors.New("bench: ProcMeter already started")
	}
	s, err := readStat(m.proc(), m.PID)
	if err != nil {
		return fmt.Errorf("bench: server process %d: %w", m.PID, err)
	}
	m.start = s.utime + s.stime + s.cutime + s.cstime
	m.children = map[int]int64{}
	m.latest = map[int]int64{}
	m.peakTree = 0
	m.err = nil
	if err := m.sample(true); err != nil {
		return err
	}
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	go m.loop()
	return nil
}

func (m *ProcMeter) loop() {
	defer close(m.done)
	iv := m.Interval
	if iv <= 0 {
		iv = DefaultSampleInterval
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			if err := m.sample(false); err != nil {
				m.mu.Lock()
				if m.err == nil {
					m.err = err
				}
				m.mu.Unlock()
				return
			}
		}
	}
}

// sample records the live descendants' CPU ticks and the tree's resident
// memory. At the first sample the descendants' ticks are their baseline.
func (m *ProcMeter) sample(first bool) error {
	proc := m.proc()
	kids, err := descendants(proc, m.PID)
	if err != nil {
		return fmt.Errorf("bench: listing %s: %w", proc, err)
	}
	rss, _, err := readStatus(proc, m.PID)
	if err != nil {
		return fmt.Errorf("bench: server process %d: %w", m.PID, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.latest)
	for p, s := range kids {
		ticks := s.utime + s.stime + s.cutime + s.cstime
		if first {
			m.children[p] = ticks
		}
		m.latest[p] = ticks
		if r, _, err := readStatus(proc, p); err == nil {
			rss += r
		}
	}
	m.peakTree = max(m.peakTree, rss)
	return nil
}

// Stop ends sampling and returns the CPU time used since Start (the
// process's own and its reaped children's, plus what live descendants
// used) and the peak resident memory.
func (m *ProcMeter) Stop() (Usage, error) {
	if m.stop == nil {
		return Usage{}, errors.New("bench: ProcMeter not started")
	}
	close(m.stop)
	<-m.done
	m.stop = nil
	if err := m.sample(false); err != nil {
		return Usage{}, err
	}
	if m.err != nil {
		return Usage{}, m.err
	}
	proc := m.proc()
	s, err := readStat(proc, m.PID)
	if err != nil {
		return Usage{}, fmt.Errorf("bench: server process %d: %w", m.PID, err)
	}
	_, hwm, err := readStatus(proc, m.PID)
	if err != nil {
		return Usage{}, fmt.Errorf("bench: server process %d: %w", m.PID, err)
	}
	ticks := s.utime + s.stime + s.cutime + s.cstime - m.start
	for p, t := range m.latest {
		ticks += t - m.children[p] // children[p] is 0 for one born since Start
	}
	return Usage{CPU: time.Duration(ticks) * clockTick, HasCPU: true, PeakRSS: max(hwm, m.peakTree), HasRSS: true}, nil
}

// CgroupMeter measures the processes of one or more cgroup directories:
// with cgroup v2, one directory with cpu.stat and memory.peak; with v1,
// typically a cpuacct directory (cpuacct.usage) and a memory directory
// (memory.max_usage_in_bytes). Each directory contributes what it has.
type CgroupMeter struct {
	// Paths are the cgroup directories. Required.
	Paths []string

	start   time.Duration
	started bool
}

// cgroupCPU returns the CPU time the cgroups report, and whether any did.
func (m *CgroupMeter) cgroupCPU() (time.Duration, bool, error) {
	var total time.Duration
	found := false
	for _, dir := range m.Paths {
		if b, err := os.ReadFile(filepath.Join(dir, "cpu.stat")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
					us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					if err != nil {
						return 0, false, fmt.Errorf("bench: %s/cpu.stat: usage_usec: %w", dir, err)
					}
					total += time.Duration(us) * time.Microsecond
					found = true
				}
			}
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return 0, false, err
		}
		if b, err := os.ReadFile(filepath.Join(dir, "cpuacct.usage")); err == nil {
			ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			if err != nil {
				return 0, false, fmt.Errorf("bench: %s/cpuacct.usage: %w", dir, err)
			}
			total += time.Duration(ns)
			found = true
		} else if !errors.Is(err, os.ErrNotExist) {
			return 0, false, err
		}
	}
	return total, found, nil
}

// Start records the cgroups' CPU time.
func (m *CgroupMeter) Start() error {
	if len(m.Paths) == 0 {
		return errors.New("bench: CgroupMeter.Paths is empty")
	}
	for _, dir := range m.Paths {
		if st, err := os.Stat(dir); err != nil {
			return fmt.Errorf("bench: cgroup: %w", err)
		} else if !st.IsDir() {
			return fmt.Errorf("bench: cgroup %s: not a directory", dir)
		}
	}
	cpu, _, err := m.cgroupCPU()
	if err != nil {
		return err
	}
	m.start, m.started = cpu, true
	return nil
}

// Stop returns the CPU time used since Start and the cgroups' peak memory
// (since they were made, or last reset).
func (m *CgroupMeter) Stop() (Usage, error) {
	if !m.started {
		return Usage{}, errors.New("bench: CgroupMeter not started")
	}
	m.started = false
	cpu, hasCPU, err := m.cgroupCPU()
	if err != nil {
		return Usage{}, err
	}
	u := Usage{CPU: cpu - m.start, HasCPU: hasCPU}
	for _, dir := range m.Paths {
		for _, f := range []string{"memory.peak", "memory.max_usage_in_bytes"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return Usage{}, err
			}
			v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			if err != nil {
				return Usage{}, fmt.Errorf("bench: %s/%s: %w", dir, f, err)
			}
			u.PeakRSS, u.HasRSS = max(u.PeakRSS, v), true
		}
	}
	return u, nil
}
