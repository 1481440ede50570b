// Package bench implements the "bench" subcommand of nobodd-go: a load tool
// that drives any TFTP server with concurrent transfers or emulated
// Raspberry Pi boots, verifies every byte by SHA-256, and reports
// throughput, completion times, failures by cause, retransmissions and the
// server's CPU time and peak memory.
//
// Limits: the load runs in this process, on the same machine's CPUs as
// anything else, server included; retransmissions are only counted when
// the traffic passes through the built-in relay (--loss or --relay), since
// the TFTP client does not report its own timeouts; server CPU time and
// memory need --pid (a process and its descendants, through /proc) or
// --cgroup (cgroup v2 or v1 directories), with the resolutions and caveats
// of package internal/bench. Every load point is bounded by --deadline and
// every file by --file-timeout; the command always ends by itself.
//
// Usage:
//
//	nobodd-go bench [flags] HOST:PORT
//
// Mode "transfers" (the default) reads --file --count times, --concurrency
// at once, with the given block size, window size and timeout. Every
// transfer's SHA-256 is checked against --sha256, or the digest of the
// local file --expect, or, without either, against the digest most
// transfers of the point received. Mode "boots" runs --count emulated boots
// of --model boards (a comma-separated list, used in turn) with serial
// numbers from --serials (a comma-separated list of serials or hex ranges
// FIRST-LAST, used in turn), each checking every file against the boot
// directory --boot-dir, a local copy of what the server serves under each
// serial's prefix.
//
// --concurrency takes a comma-separated list: each value is one load
// point. The report is a table, or with --json one JSON object per line
// and load point (see bench.Report for the fields).
//
// Exit status: 0 when every job of every point succeeded, 1 when any
// failed or did not run, 2 on a usage error.
package bench

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	ib "github.com/nobodd-go/nobodd-go/internal/bench"
	"github.com/nobodd-go/nobodd-go/internal/cli"
	"github.com/nobodd-go/nobodd-go/tftp"
)

// DefaultFileTimeout is the per-file deadline: the Pi's TFTP_FILE_TIMEOUT.
const DefaultFileTimeout = 30 * time.Second

// options are the parsed flags.
type options struct {
	mode        string
	file        string
	count       int
	concurrency string
	blksize     int
	windowsize  int
	timeout     time.Duration
	retries     int
	sha         string
	expect      string
	fileTimeout time.Duration
	deadline    time.Duration
	loss        float64
	seed        uint64
	relay       bool
	pid         int
	cgroup      string
	json        bool
	label       string
	tags        tagFlag

	models  string
	serials string
	bootDir string
	kernel  string
	initrd  string

	addr  string
	concs []int
}

func newFlagSet(stderr io.Writer, o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.mode, "mode", "transfers", `"transfers" or "boots"`)
	fs.StringVar(&o.file, "file", "", "transfers: the remote file to read")
	fs.IntVar(&o.count, "count", 0, "jobs per load point (0: as many as the concurrency)")
	fs.StringVar(&o.concurrency, "concurrency", "1", "jobs at once; a comma-separated list makes one load point each")
	fs.IntVar(&o.blksize, "blksize", tftp.DefaultClientBlockSize, "transfers: block size to ask for (512: no option)")
	fs.IntVar(&o.windowsize, "windowsize", 1, "transfers: window size to ask for (1: lock-step, no option)")
	fs.DurationVar(&o.timeout, "timeout", 0, "client retransmit timeout (0: the client's default, 1s)")
	fs.IntVar(&o.retries, "retries", 0, "transfers: client retransmissions per packet (0: the client's default)")
	fs.StringVar(&o.sha, "sha256", "", "transfers: expected SHA-256 of the file, in hex")
	fs.StringVar(&o.expect, "expect", "", "transfers: a local copy of the file, whose SHA-256 is expected")
	fs.DurationVar(&o.fileTimeout, "file-timeout", DefaultFileTimeout, "deadline of each file (each request, in boots)")
	fs.DurationVar(&o.deadline, "deadline", ib.DefaultDeadline, "deadline of each load point")
	fs.Float64Var(&o.loss, "loss", 0, "fraction of packets a relay in this process drops each way (0 to 1)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the relay's drops")
	fs.BoolVar(&o.relay, "relay", false, "pass traffic through the relay even without loss, to count retransmissions")
	fs.IntVar(&o.pid, "pid", 0, "the server's process ID: measure its (and its children's) CPU time and peak memory")
	fs.StringVar(&o.cgroup, "cgroup", "", "the server's cgroup directories, comma-separated: measure their CPU time and peak memory")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per load point instead of a table")
	fs.StringVar(&o.label, "label", "", "a label to start each load point's name with")
	fs.Var(&o.tags, "tag", "`KEY=VALUE` copied into each JSON report's tags (repeatable)")
	fs.StringVar(&o.models, "model", "pi4", `boots: board models, comma-separated, used in turn ("pi4", "pi5", "pi3b+")`)
	fs.StringVar(&o.serials, "serials", "1234abcd", "boots: serial numbers or hex ranges FIRST-LAST, comma-separated, used in turn")
	fs.StringVar(&o.bootDir, "boot-dir", "", "boots: a local copy of the boot directory the server serves under each prefix")
	fs.StringVar(&o.kernel, "kernel", "", "boots: kernel file name (empty: the model's default)")
	fs.StringVar(&o.initrd, "initramfs", "", "boots: initramfs file name (empty: initrd.img)")
	return fs
}

// tagFlag collects --tag KEY=VALUE.
type tagFlag map[string]string

func (t *tagFlag) String() string { return fmt.Sprint(map[string]string(*t)) }

func (t *tagFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("tag %q: want KEY=VALUE", v)
	}
	if *t == nil {
		*t = tagFlag{}
	}
	(*t)[k] = val
	return nil
}

// parse parses flags interleaved with the positional argument and checks
// them.
func parse(fs *flag.FlagSet, args []string, o *options) error {
	pos, err := cli.ParseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("want one HOST:PORT argument")
	}
	if _, _, err := net.SplitHostPort(pos[0]); err != nil {
		return fmt.Errorf("server address %q: want HOST:PORT", pos[0])
	}
	o.addr = pos[0]
	for _, s := range strings.Split(o.concurrency, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 {
			return fmt.Errorf("--concurrency %q: want positive whole numbers, comma-separated", o.concurrency)
		}
		o.concs = append(o.concs, c)
	}
	switch {
	case o.count < 0:
		return fmt.Errorf("--count %d: must not be negative", o.count)
	case o.fileTimeout <= 0:
		return fmt.Errorf("--file-timeout %v: must be positive", o.fileTimeout)
	case o.deadline <= 0:
		return fmt.Errorf("--deadline %v: must be positive", o.deadline)
	case o.loss < 0 || o.loss >= 1:
		return fmt.Errorf("--loss %v: want at least 0 and less than 1", o.loss)
	case o.timeout < 0:
		return fmt.Errorf("--timeout %v: must not be negative", o.timeout)
	case o.pid < 0:
		return fmt.Errorf("--pid %d: want a process ID", o.pid)
	case o.pid != 0 && o.cgroup != "":
		return errors.New("--pid and --cgroup: give one")
	}
	switch o.mode {
	case "transfers":
		if o.file == "" {
			return errors.New("--file: required in transfers mode")
		}
		if o.blksize < 8 || o.blksize > 65464 {
			return fmt.Errorf("--blksize %d: want 8 to 65464", o.blksize)
		}
		if o.windowsize < 1 || o.windowsize > 65535 {
			return fmt.Errorf("--windowsize %d: want 1 to 65535", o.windowsize)
		}
		if o.sha != "" && o.expect != "" {
			return errors.New("--sha256 and --expect: give one")
		}
	case "boots":
		if o.bootDir == "" {
			return errors.New("--boot-dir: required in boots mode")
		}
	default:
		return fmt.Errorf("--mode %q: want transfers or boots", o.mode)
	}
	return nil
}

// point is one load point's job source.
type point interface {
	// job returns the Job for a server at addr.
	job(addr string) ib.Job
	// describe sets the report's descriptive fields.
	describe(r *ib.Report)
	// verify checks the results across jobs, after the run; it returns
	// the reference digest in hex, if one was learnt.
	verify(res *ib.Result) string
}

// transfers is the transfers mode.
type transfers struct {
	o      *options
	expect *ib.Digest
}

func (t *transfers) job(addr string) ib.Job {
	tr := &ib.Transfer{
		Client: tftp.Client{BlockSize: t.o.blksize, WindowSize: t.o.windowsize, Timeout: t.o.timeout, Retries: t.o.retries},
		Addr:   addr, File: t.o.file, Expect: t.expect,
	}
	return tr.Job
}

func (t *transfers) describe(r *ib.Report) {
	r.Mode, r.File, r.BlockSize, r.WindowSize = "transfers", t.o.file, t.o.blksize, t.o.windowsize
}

func (t *transfers) verify(res *ib.Result) string {
	if t.expect != nil {
		return hex.EncodeToString(t.expect.Sum[:])
	}
	if ref, ok := ib.VerifyMajority(res); ok {
		return hex.EncodeToString(ref[:])
	}
	return ""
}

func newTransfers(o *options) (*transfers, error) {
	t := &transfers{o: o}
	switch {
	case o.sha != "":
		b, err := hex.DecodeString(o.sha)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("--sha256 %q: want 64 hex digits", o.sha)
		}
		d := &ib.Digest{Size: -1}
		copy(d.Sum[:], b)
		t.expect = d
	case o.expect != "":
		d, err := ib.FileDigest(o.expect)
		if err != nil {
			return nil, fmt.Errorf("--expect: %w", err)
		}
		t.expect = &d
	}
	return t, nil
}

// Main runs "nobodd-go bench" with args (not including the subcommand
// name) and returns the process exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = "bench [flags] HOST:PORT"
	var o options
	fs := newFlagSet(stderr, &o)
	fs.Usage = cli.Usage(stderr, fs, synopsis, "")
	err := parse(fs, args, &o)
	if errors.Is(err, flag.ErrHelp) {
		return cli.ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "nobodd-go bench: %v\n", err)
		return cli.ExitUsage
	}
	var p point
	switch o.mode {
	case "transfers":
		p, err = newTransfers(&o)
	case "boots":
		p, err = newBoots(&o)
	}
	if err != nil {
		fmt.Fprintf(stderr, "nobodd-go bench: %v\n", err)
		return cli.ExitUsage
	}
	var server netip.AddrPort
	if o.loss > 0 || o.relay {
		server, err = tftp.ResolveServer(ctx, o.addr)
		if err != nil {
			fmt.Fprintf(stderr, "nobodd-go bench: %v\n", err)
			return cli.ExitUsage
		}
	}

	status := cli.ExitOK
	var reports []*ib.Report
	enc := json.NewEncoder(stdout)
	for _, c := range o.concs {
		if ctx.Err() != nil {
			break
		}
		r, err := runPoint(ctx, &o, p, server, c)
		if err != nil {
			fmt.Fprintf(stderr, "nobodd-go bench: %v\n", err)
			return cli.ExitFailure
		}
		if r.Failed > 0 || r.NotRun > 0 {
			status = cli.ExitFailure
		}
		if o.json {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintf(stderr, "nobodd-go bench: writing the report: %v\n", err)
				return cli.ExitFailure
			}
		} else {
			reports = append(reports, r)
		}
	}
	if !o.json {
		if err := ib.WriteTable(stdout, reports); err != nil {
			fmt.Fprintf(stderr, "nobodd-go bench: writing the report: %v\n", err)
			return cli.ExitFailure
		}
		for _, r := range reports {
			if r.FirstError != "" {
				fmt.Fprintf(stderr, "nobodd-go bench: %s: first failure: %s\n", r.Point, r.FirstError)
			}
			if r.MeterError != "" {
				fmt.Fprintf(stderr, "nobodd-go bench: %s: server usage: %s\n", r.Point, r.MeterError)
			}
		}
	}
	return status
}

// meter returns the meter the flags ask for, or nil.
func meter(o *options) ib.Meter {
	switch {
	case o.pid != 0:
		return &ib.ProcMeter{PID: o.pid}
	case o.cgroup != "":
		return &ib.CgroupMeter{Paths: strings.Split(o.cgroup, ",")}
	}
	return nil
}

// runPoint runs one load point of concurrency c and reports it.
func runPoint(ctx context.Context, o *options, p point, server netip.AddrPort, c int) (rep *ib.Report, err error) {
	addr := o.addr
	var relay *ib.Relay
	if server.IsValid() {
		relay = &ib.Relay{Server: server, Loss: o.loss, Seed: o.seed}
		if err := relay.Start(); err != nil {
			return nil, err
		}
		defer func() {
			if cerr := relay.Close(); cerr != nil && err == nil {
				rep, err = nil, fmt.Errorf("closing the relay: %w", cerr)
			}
		}()
		addr = relay.Addr()
	}
	total := o.count
	if total == 0 {
		total = c
	}
	r := &ib.Report{
		Point:  strings.TrimSpace(fmt.Sprintf("%s %s c=%d n=%d", o.label, o.mode, c, total)),
		Server: o.addr, Loss: o.loss, Total: total, Concurrency: c,
		Tags: o.tags,
	}
	p.describe(r)
	load := ib.Load{Total: total, Concurrency: c, Deadline: o.deadline}
	if o.mode == "transfers" {
		load.JobTimeout = o.fileTimeout
	}
	m := meter(o)
	if m != nil {
		if err := m.Start(); err != nil {
			r.MeterError = err.Error()
			m = nil
		}
	}
	res, err := ib.Run(ctx, load, p.job(addr))
	if err != nil {
		return nil, err
	}
	var usage *ib.Usage
	if m != nil {
		u, err := m.Stop()
		if err != nil {
			r.MeterError = err.Error()
		} else {
			usage = &u
		}
	}
	r.ReferenceSHA256 = p.verify(res)
	var rs *ib.RelayStats
	if relay != nil {
		s := relay.Stats()
		rs = &s
	}
	r.Fill(ib.Summarize(res), rs, usage)
	for _, out := range res.Outcomes {
		if out.Err != nil {
			r.FirstError = out.Err.Error()
			break
		}
	}
	return r, nil
}
