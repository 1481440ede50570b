// Package bench drives a TFTP server with load and measures what happens:
// concurrent transfers of one file (or, with the boots mode of the bench
// command, concurrent emulated Raspberry Pi boots), each verified byte for
// byte by SHA-256, summarised as throughput, completion-time percentiles,
// failures by cause, client-observed retransmissions and the server's CPU
// time and peak memory.
//
// Limits: the load generator runs in this process and shares its CPU with
// whatever else runs on the machine, including the server under test, so
// its figures are those of the pair, not of the server alone. Retransmissions
// are only seen when traffic passes through a Relay (tftp.Client does not
// report its own timeouts): the relay counts a client packet identical to
// the one before it on the same flow (a re-sent request or re-ACK) and a
// server DATA block not newer than the newest seen on its flow. Server CPU
// time is read from /proc (clock ticks of 1/100 s, the Linux USER_HZ) or
// from a cgroup (v2 cpu.stat, v1 cpuacct.usage), so it has that resolution;
// children of a PID-based server are counted when they are reaped (cutime,
// cstime) or, if still alive, from their own stat files, so a child that
// both starts and is reaped between two samples is counted once, through
// its parent (and a child alive at the start and reaped before the end is
// counted for its whole life). Peak memory is VmHWM of the process (or the largest sampled
// sum of VmRSS over the process and its descendants, whichever is larger),
// or the cgroup's memory.peak (v2) or memory.max_usage_in_bytes (v1).
// Failure causes are classified from errors tftp.Client returns; running
// out of retries is recognised by its message, as the client exports no
// sentinel error for it.
//
// Use Run with a Job to run a load point: Total jobs, at most Concurrency
// at once, each bounded by a per-job deadline and all by a total deadline;
// Summarize condenses the outcomes and Report.Fill turns them into figures.
// Transfer.Job is the Job that fetches one file and checks its digest
// (VerifyMajority compares digests across jobs when none is known); the
// boots mode of the bench command wraps internal/pisim boards the same way.
// Relay puts seeded packet loss between the load and the server, and
// ProcMeter and CgroupMeter measure the server.
package bench
