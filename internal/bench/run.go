package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// DefaultDeadline bounds a whole load point when Load.Deadline is zero.
const DefaultDeadline = 10 * time.Minute

// Outcome is what one job did.
type Outcome struct {
	// Ran is false for a job never started because the total deadline
	// passed or the context ended first.
	Ran bool
	// Bytes is the payload received; Files the files read completely.
	Bytes int64
	Files int
	// Failures lists the causes of the job's failures ("timeout", "not
	// found", "hash mismatch", "error 0: server busy", …); empty when the
	// job succeeded. A boot may fail in several requests.
	Failures []string
	// Err is the job's first failure, for messages; nil on success.
	Err error
	// Digest is the SHA-256 of what a transfer received, when it received
	// a whole file; Run's caller may compare digests across jobs.
	Digest    [32]byte
	HasDigest bool
	// BlockSize and WindowSize are what the server agreed to (0 when no
	// block came).
	BlockSize, WindowSize int
	// Start is when the job started, Duration how long it took; set by Run.
	Start    time.Time
	Duration time.Duration
}

// OK reports whether the job ran and had no failure.
func (o *Outcome) OK() bool { return o.Ran && len(o.Failures) == 0 }

// Fail records a failure of kind with its error.
func (o *Outcome) Fail(kind string, err error) {
	o.Failures = append(o.Failures, kind)
	if o.Err == nil {
		o.Err = err
	}
}

// Job is one unit of load: job i of a load point. It must return when ctx
// is done.
type Job func(ctx context.Context, i int) Outcome

// Load is the shape of a load point.
type Load struct {
	// Total is the number of jobs; 0 means Concurrency.
	Total int
	// Concurrency is the number of jobs run at once; 0 means 1.
	Concurrency int
	// JobTimeout bounds each job (its context's deadline); 0 means no
	// bound beyond the total deadline.
	JobTimeout time.Duration
	// Deadline bounds the whole point: jobs not started by then are not
	// run, and jobs running then are cancelled. 0 means DefaultDeadline.
	Deadline time.Duration
}

func (l Load) norm() (total, conc int, deadline time.Duration, err error) {
	conc = l.Concurrency
	if conc == 0 {
		conc = 1
	}
	total = l.Total
	if total == 0 {
		total = conc
	}
	deadline = l.Deadline
	if deadline == 0 {
		deadline = DefaultDeadline
	}
	switch {
	case conc < 0:
		return 0, 0, 0, fmt.Errorf("bench: Load.Concurrency %d: must not be negative", l.Concurrency)
	case total < 0:
		return 0, 0, 0, fmt.Errorf("bench: Load.Total %d: must not be negative", l.Total)
	case deadline < 0 || l.JobTimeout < 0:
		return 0, 0, 0, errors.New("bench: Load deadlines must not be negative")
	}
	return total, min(conc, total), deadline, nil
}

// Result is what Run returns: every job's outcome, by index, and the time
// from the first job's start to the last one's end.
type Result struct {
	Outcomes []Outcome
	Elapsed  time.Duration
}

// Run runs load.Total jobs, load.Concurrency at a time, and returns when all
// have ended or the total deadline (or ctx) has passed and the running jobs
// have returned. It returns an error only for an invalid Load.
func Run(ctx context.Context, load Load, job Job) (*Result, error) {
	total, conc, deadline, err := load.norm()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, deadline, errTotalDeadline)
	defer cancel()
	res := &Result{Outcomes: make([]Outcome, total)}
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for i := range next {
				jctx, jcancel := ctx, context.CancelFunc(func() {})
				if load.JobTimeout > 0 {
					jctx, jcancel = context.WithTimeoutCause(ctx, load.JobTimeout, errJobTimeout)
				}
				t0 := time.Now()
				o := job(jctx, i)
				jcancel()
				o.Ran, o.Start, o.Duration = true, t0, time.Since(t0)
				res.Outcomes[i] = o
			}
		})
	}
feed:
	for i := range total {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res, nil
}

// Summary condenses a Result.
type Summary struct {
	Jobs, OK, Failed, NotRun int
	Bytes                    int64 // received by all jobs, failed ones included
	Files                    int
	Elapsed                  time.Duration
	// Completion times of the successful jobs: median, 99th percentile
	// (nearest rank) and maximum; zero when none succeeded.
	P50, P99, Max time.Duration
	// Failures counts failure causes over all jobs (a job failing twice
	// counts twice); jobs not run are not failures.
	Failures map[string]int
	// The smallest block and window sizes servers agreed to (0: unknown).
	BlockSize, WindowSize int
}

// Summarize condenses r.
func Summarize(r *Result) Summary {
	s := Summary{Jobs: len(r.Outcomes), Elapsed: r.Elapsed, Failures: map[string]int{}}
	var ds []time.Duration
	for i := range r.Outcomes {
		o := &r.Outcomes[i]
		if !o.Ran {
			s.NotRun++
			continue
		}
		s.Bytes += o.Bytes
		s.Files += o.Files
		if o.BlockSize > 0 && (s.BlockSize == 0 || o.BlockSize < s.BlockSize) {
			s.BlockSize = o.BlockSize
		}
		if o.WindowSize > 0 && (s.WindowSize == 0 || o.WindowSize < s.WindowSize) {
			s.WindowSize = o.WindowSize
		}
		for _, f := range o.Failures {
			s.Failures[f]++
		}
		if o.OK() {
			s.OK++
			ds = append(ds, o.Duration)
		} else {
			s.Failed++
		}
	}
	slices.Sort(ds)
	if n := len(ds); n > 0 {
		s.P50 = ds[rank(n, 50)]
		s.P99 = ds[rank(n, 99)]
		s.Max = ds[n-1]
	}
	return s
}

// rank returns the index of the p-th percentile of n sorted values by the
// nearest-rank method.
func rank(n, p int) int {
	r := (p*n + 99) / 100 // ceil(p*n/100)
	return max(r, 1) - 1
}
