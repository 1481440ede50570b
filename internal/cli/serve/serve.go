// Package serve implements the nobodd-go daemon: "nobodd-go [flags]" serves
// Raspberry Pi boot files out of OS images over TFTP.
//
// # Limits
//
//   - A reload (SIGHUP) applies the boards, the root directory, cache-size
//     and log.verbose at once, without closing the socket or disturbing a
//     transfer in flight. The other [tftp] settings (listen, port, timeouts,
//     block and window sizes, rollover, max-transfers, single-port,
//     port-range, batch-scheduling) and log.format need a restart; a reload that changes them
//     logs a warning naming them.
//   - writable (--writable) is not reloaded; uploads go to the root
//     directory current at the time of the request. shutdown-timeout is
//     reloaded.
//   - One socket: one listen address (or the one socket systemd or inetd
//     passes). "::" is dual-stack where the kernel allows it.
//   - The garbage collector runs with GOGC=50 unless the environment sets
//     GOGC: peak memory then stays nearer the live heap (chunk cache plus
//     transfer buffers), at no measured CPU cost.
//   - On Linux the threads run under SCHED_BATCH unless batch-scheduling is
//     false (see package config); the daemon is the whole process, so it
//     sets the policy of every thread. Embedders of package tftp choose
//     their own.
//
// # Usage
//
//	nobodd-go [--board SERIAL,IMAGE[,PART[,IP]]]... [--config FILE]...
//	          [--listen ADDR|systemd|stdin] [--port PORT] [--root DIR [--writable]]
//	          [--log-format text|json] [-v] [other [tftp] settings as flags]
//
// Every [tftp] and [log] key of the configuration file is also a flag of
// the same name (log.format is --log-format, log.verbose is --verbose or -v);
// flags win over files and keep winning after a reload. --config replaces the
// default search path (config.DefaultPaths) and may be repeated.
//
// # Signals and systemd
//
// SIGHUP reloads the configuration: the routing table is swapped atomically
// and the change logged (config.Diff); a configuration that fails to load
// leaves the old one serving and logs every error. SIGTERM and SIGINT stop
// taking requests, give transfers in flight up to --shutdown-timeout (30s)
// to finish, and exit 0. Under systemd (NOTIFY_SOCKET) the daemon sends
// READY=1 once serving, RELOADING=1 with MONOTONIC_USEC and READY=1 around a
// reload, STOPPING=1 when stopping, and WATCHDOG=1 when WatchdogSec= is set.
//
// Exit status: 0 after SIGTERM or SIGINT, 1 on a runtime failure (including
// a configuration that does not load at start-up), 2 on a usage error.
package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lmittmann/tint"
	"github.com/nobodd-go/nobodd-go/config"
	"github.com/nobodd-go/nobodd-go/internal/activation"
	"github.com/nobodd-go/nobodd-go/internal/cli"
	"github.com/nobodd-go/nobodd-go/internal/netboot"
	"github.com/nobodd-go/nobodd-go/internal/sdnotify"
	"github.com/nobodd-go/nobodd-go/tftp"
	"golang.org/x/sys/unix"
)

// DefaultShutdownTimeout is how long transfers in flight may take to finish
// after SIGTERM before they are cancelled.
const DefaultShutdownTimeout = config.DefaultShutdownTimeout

// Env is the process environment Main runs in. Its zero value is the real
// process; tests replace fields to run the daemon in-process.
type Env struct {
	// Stdout and Stderr; nil means os.Stdout and os.Stderr. Logs go to
	// Stderr.
	Stdout, Stderr io.Writer
	// Signals delivers SIGHUP, SIGTERM and SIGINT; nil means Main subscribes
	// to the process's own signals.
	Signals <-chan os.Signal
	// LookupEnv reads environment variables (configuration paths,
	// NOTIFY_SOCKET, WATCHDOG_USEC); nil means os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// PID is this process's id for WATCHDOG_PID; 0 means os.Getpid().
	PID int
	// PacketConn, when not nil, is served instead of the socket the
	// configuration names (listen and port are then ignored). Main closes it.
	PacketConn net.PacketConn
	// Listening, when not nil, is called with the local address once the
	// daemon serves.
	Listening func(addr net.Addr)
}

func (e Env) withDefaults() Env {
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.LookupEnv == nil {
		e.LookupEnv = os.LookupEnv
	}
	if e.PID == 0 {
		e.PID = os.Getpid()
	}
	return e
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// options are the parsed command line.
type options struct {
	boards  []config.Board
	configs []string
	overlay config.Overlay
}

// settingHelp describes a flag that mirrors a configuration key.
func settingHelp(key string) string {
	return map[string]string{
		"listen":           `IP address to listen on ("::" dual-stack), or "systemd" (socket activation) or "stdin" (inetd) (default "::")`,
		"port":             "UDP port number or service name; ignored with --listen systemd|stdin (default 69)",
		"root":             "directory served to requests no board answers (e.g. the Pi 3 ROM's bootcode.bin)",
		"timeout":          `retransmit timeout ceiling (default "1s")`,
		"min-timeout":      `adaptive retransmit timer floor (default "100ms")`,
		"retries":          "retransmissions before a transfer is given up, 1-1000 (default 5)",
		"max-block-size":   "cap on the blksize option, 8-65464 (default 65464)",
		"max-window-size":  "cap on the windowsize option, 1-65535 (default 64)",
		"rollover":         `block number after 65535: 0, 1 or "off" (default 0)`,
		"max-transfers":    "concurrent transfers, 0 = unlimited (default 0)",
		"single-port":      "run every transfer through the listening socket",
		"port-range":       `ports of per-transfer sockets, "MIN-MAX" (default any)`,
		"includedir":       "directory of *.toml configuration snippets",
		"writable":         "accept uploads into --root (create-only; never overwrites)",
		"shutdown-timeout": `how long transfers in flight may finish after SIGTERM (default "30s")`,
		"cache-size":       `memory for boot-file chunks read from images, shared by all boards; 0 = off (default "16MiB")`,
		"batch-scheduling": "run the daemon's threads under SCHED_BATCH (Linux); --batch-scheduling=false leaves the policy as started (default true)",
		"log-format":       `log format, "text" or "json" (default "text")`,
		"verbose":          "log at debug level",
	}[key]
}

const synopsis = `usage: nobodd-go [flags]
       nobodd-go get|put|demo|bench ... (see nobodd-go COMMAND --help)

Serves Raspberry Pi boot files straight out of OS images over TFTP.

  nobodd-go --board 1234abcd,raspios.img --port 6969

Flags:
`

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, synopsis)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// parseFlags parses the command line; a status >= 0 means exit with it.
// flagValues are where newFlags stores what it parses.
type flagValues struct {
	boards, configs multiFlag
	short           bool
}

// newFlags defines the daemon's flags.
func newFlags(stderr io.Writer) (*flag.FlagSet, *flagValues) {
	v := &flagValues{}
	fs := flag.NewFlagSet("nobodd-go", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	fs.Var(&v.boards, "board", "a board: `SERIAL,IMAGE[,PART[,IP]]` (repeatable; PART defaults to 1, 0 for no partition table)")
	fs.Var(&v.configs, "config", "configuration `FILE` (repeatable); replaces the default search path")
	fs.BoolVar(&v.short, "v", false, "log at debug level (same as --verbose)")
	for _, k := range config.OverlayKeys() {
		if k == "single-port" || k == "verbose" || k == "writable" {
			fs.Bool(k, false, settingHelp(k))
		} else {
			fs.String(k, "", settingHelp(k))
		}
	}
	return fs, v
}

func parseFlags(args []string, stdout, stderr io.Writer) (*options, int) {
	fs, v := newFlags(stderr)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout, fs)
		return nil, cli.ExitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "Run nobodd-go --help for usage.")
		return nil, cli.ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nobodd-go: unexpected argument %q; the server takes only flags (subcommands: get, put, demo, bench)\n", fs.Arg(0))
		return nil, cli.ExitUsage
	}
	o := &options{}
	for _, value := range v.boards {
		b, err := config.ParseBoardFlag(value)
		if err != nil {
			fmt.Fprintf(stderr, "nobodd-go: %v\n", err)
			return nil, cli.ExitUsage
		}
		if abs, err := filepath.Abs(b.Image); err == nil {
			b.Image = abs
		}
		o.boards = append(o.boards, b)
	}
	o.configs = v.configs
	o.overlay = config.OverlayFromFlags(fs)
	o.overlay.Boards = o.boards
	if _, set := o.overlay.Settings["verbose"]; !set && v.short {
		o.overlay.Settings["verbose"] = "true"
	}
	return o, -1
}

// newLogger makes the daemon's logger: JSON, tinted text on a terminal, or
// plain text.
func newLogger(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
	}
	if cli.IsTerminal(w) {
		return slog.New(tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.DateTime}))
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// logErrors logs every error joined in err, one line each.
func logErrors(log *slog.Logger, msg string, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			log.Error(msg, "err", e.Error())
		}
		return
	}
	log.Error(msg, "err", err.Error())
}

// daemonGCPercent is the garbage collector's target when GOGC is not set:
// the daemon's live heap is mostly the chunk cache and the transfers'
// buffers, and the default target (100) let the heap reach twice that
// between collections, for no CPU saved. Measured with nobodd-go bench,
// 100 emulated Pi 4 boots: peak RSS 62.9 MiB at 100, 49.8 at 50, server
// CPU 4.56 and 4.58 s per GB.
const daemonGCPercent = 50

// gcPercent returns the collector target to set, unless GOGC (read through
// lookup) already says.
func gcPercent(lookup func(string) (string, bool)) (int, bool) {
	if _, set := lookup("GOGC"); set {
		return 0, false
	}
	return daemonGCPercent, true
}

// Main runs the daemon with args (without the program name) and returns the
// exit status. It returns when a SIGTERM or SIGINT arrives, when ctx ends
// (treated like SIGTERM), or on a failure.
func Main(ctx context.Context, args []string, env Env) int {
	env = env.withDefaults()
	sigs := env.Signals
	if sigs == nil {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
		defer signal.Stop(ch)
		sigs = ch
	}
	o, code := parseFlags(args, env.Stdout, env.Stderr)
	if code >= 0 {
		if env.PacketConn != nil {
			_ = env.PacketConn.Close() // nothing was served on it
		}
		return code
	}
	bootFormat := o.overlay.Settings["log-format"]
	bootLog := newLogger(env.Stderr, bootFormat, slog.LevelInfo)
	loader := &config.Loader{
		Paths:     o.configs,
		Required:  len(o.configs) > 0,
		LookupEnv: env.LookupEnv,
		Overlay:   o.overlay,
	}
	cfg, err := loader.Load()
	if err != nil {
		logErrors(bootLog, "configuration error", err)
		bootLog.Error("not starting: the configuration does not load")
		if env.PacketConn != nil {
			_ = env.PacketConn.Close()
		}
		return cli.ExitFailure
	}
	if cfg.TFTP.Writable && cfg.TFTP.Root == "" {
		fmt.Fprintln(env.Stderr, "nobodd-go: --writable (writable in [tftp]) needs a root directory (--root DIR or root in [tftp])")
		if env.PacketConn != nil {
			_ = env.PacketConn.Close()
		}
		return cli.ExitUsage
	}
	if pct, ok := gcPercent(env.LookupEnv); ok {
		debug.SetGCPercent(pct)
	}
	d := &daemon{env: env, opts: o, loader: loader, cfg: cfg, level: new(slog.LevelVar)}
	d.setLevel(cfg.Log.Verbose)
	d.log = newLogger(env.Stderr, cfg.Log.Format, d.level)
	if cfg.TFTP.BatchScheduling {
		// Not fatal: a sandbox may forbid sched_setattr, and the daemon
		// serves the same without it, with more context switches.
		if n, err := setBatchScheduling(); err != nil {
			d.log.Warn("could not move threads to SCHED_BATCH; serving with the policy as started", "moved", n, "err", err)
		} else {
			d.log.Debug("threads moved to SCHED_BATCH", "threads", n)
		}
	}
	return d.run(ctx, sigs)
}

// daemon is one run of the server.
type daemon struct {
	env    Env
	opts   *options
	loader *config.Loader
	cfg    config.Config // the configuration in force
	level  *slog.LevelVar
	log    *slog.Logger
	router *netboot.Router
	root   atomic.Pointer[string] // for uploads
	notify *sdnotify.Notifier
}

func (d *daemon) setLevel(verbose bool) {
	if verbose {
		d.level.Set(slog.LevelDebug)
	} else {
		d.level.Set(slog.LevelInfo)
	}
}

// listen opens the socket the configuration names.
func (d *daemon) listen() (net.PacketConn, error) {
	if d.env.PacketConn != nil {
		return d.env.PacketConn, nil
	}
	t := d.cfg.TFTP
	_, portFlag := d.opts.overlay.Settings["port"]
	switch t.Listen {
	case config.ListenSystemd, config.ListenStdin:
		// Take the socket before logging anything: under inetd, standard
		// error is the socket until activation.Stdin redirects it.
		take := activation.Stdin
		if t.Listen == config.ListenSystemd {
			take = activation.Systemd
		}
		pc, err := take()
		if err == nil && (portFlag || t.Port != config.DefaultPort) {
			d.log.Info("the port setting is ignored: the socket is passed in", "listen", t.Listen, "port", t.Port)
		}
		return pc, err
	}
	addr := net.JoinHostPort(t.Listen, strconv.Itoa(t.Port))
	pc, err := net.ListenPacket("udp", addr)
	if err != nil && t.Listen == "::" && errors.Is(err, syscall.EAFNOSUPPORT) {
		// A host with IPv6 disabled: serve IPv4 rather than nothing.
		d.log.Warn("IPv6 is not available; listening on IPv4 only", "err", err)
		addr = net.JoinHostPort("0.0.0.0", strconv.Itoa(t.Port))
		pc, err = net.ListenPacket("udp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("listening on UDP %s: %w", addr, err)
	}
	return pc, nil
}

func (d *daemon) netbootConfig(c config.Config) netboot.Config {
	cache := c.TFTP.CacheSize
	if cache == 0 {
		cache = -1 // netboot's "off"
	}
	return netboot.Config{Boards: c.Boards, Root: c.TFTP.Root, CacheBytes: cache}
}

func (d *daemon) server(pc net.PacketConn) *tftp.Server {
	t := d.cfg.TFTP
	rollover := tftp.RolloverZero
	switch t.Rollover {
	case config.RolloverOne:
		rollover = tftp.RolloverOne
	case config.RolloverOff:
		rollover = tftp.RolloverOff
	}
	s := &tftp.Server{
		Handler:       d.router,
		Timeout:       t.Timeout,
		MinTimeout:    t.MinTimeout,
		Retries:       t.Retries,
		MaxBlockSize:  t.MaxBlockSize,
		MaxWindowSize: t.MaxWindowSize,
		Rollover:      rollover,
		MaxTransfers:  t.MaxTransfers,
		SinglePort:    t.SinglePort,
		PortMin:       t.PortMin,
		PortMax:       t.PortMax,
		Logger:        slog.New(dropTransferLines{d.log.Handler()}),
		OnTransfer:    d.onTransfer,
	}
	if d.cfg.TFTP.Writable {
		s.WriteHandler = tftp.WriteHandlerFunc(d.receive)
	}
	return s
}

// receive stores an upload in the current root directory.
func (d *daemon) receive(r *tftp.Request) (tftp.Upload, error) {
	root := d.root.Load()
	if root == nil || *root == "" {
		return nil, &tftp.Error{Code: tftp.ErrAccess, Message: "writes are not allowed"}
	}
	return tftp.DirWriter(*root).ReceiveTFTP(r)
}

func (d *daemon) run(ctx context.Context, sigs <-chan os.Signal) int {
	pc, err := d.listen()
	if err != nil {
		d.log.Error("cannot open the TFTP socket", "err", err)
		return cli.ExitFailure
	}
	notify, err := sdnotify.Lookup(d.env.LookupEnv, d.env.PID)
	if err != nil {
		d.log.Warn("systemd notification settings", "err", err)
	}
	d.notify = notify
	d.router = netboot.New(d.netbootConfig(d.cfg), d.log)
	root := d.cfg.TFTP.Root
	d.root.Store(&root)
	srv := d.server(pc)
	// STOPPING=1 goes out once the server no longer takes requests, so
	// that nothing asked after it is served.
	srv.RegisterOnShutdown(func() { d.sdnotify("STOPPING=1", d.notify.Stopping) })
	served := make(chan error, 1)
	go func() { served <- srv.Serve(pc) }()

	d.log.Info("serving", "addr", pc.LocalAddr().String(), "boards", len(d.cfg.Boards),
		"root", d.cfg.TFTP.Root, "writable", d.cfg.TFTP.Writable, "config", strings.Join(d.cfg.Files, ","))
	for _, b := range d.cfg.Boards {
		d.log.Info("board", "board", b.Name, "def", b.String(), "source", b.Source)
	}
	if len(d.cfg.Boards) == 0 && d.cfg.TFTP.Root == "" {
		d.log.Warn("no boards and no root directory: every request will get ERROR 1; add --board or --root")
	}
	if d.env.Listening != nil {
		d.env.Listening(pc.LocalAddr())
	}
	d.sdnotify("READY=1", d.notify.Ready)
	d.status()
	wctx, stopWatchdog := context.WithCancel(context.Background())
	watchdogDone := make(chan struct{})
	go func() {
		defer close(watchdogDone)
		if err := d.notify.RunWatchdog(wctx); err != nil {
			d.log.Error("systemd watchdog", "err", err)
		}
	}()
	defer func() {
		stopWatchdog()
		<-watchdogDone
	}()

	for {
		var why string
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				d.reload()
				continue
			}
			why = "signal " + signalName(sig)
		case <-ctx.Done():
			why = "context ended"
		case err := <-served:
			d.log.Error("the TFTP socket failed", "err", err)
			sctx, cancel := context.WithTimeout(context.Background(), d.cfg.TFTP.ShutdownTimeout)
			if err := srv.Shutdown(sctx); err != nil {
				d.log.Warn("grace period over: transfers still running were cancelled", "grace", d.cfg.TFTP.ShutdownTimeout)
			}
			cancel()
			d.closeRouter()
			return cli.ExitFailure
		}
		active := srv.Stats().Active
		d.log.Info("shutting down", "why", why, "active_transfers", active, "grace", d.cfg.TFTP.ShutdownTimeout)
		if err := d.shutdown(srv, sigs); err != nil {
			d.log.Warn("transfers still running were cancelled", "why", err)
		}
		if err := <-served; !errors.Is(err, tftp.ErrServerClosed) {
			d.log.Error("the TFTP socket failed", "err", err)
		}
		d.closeRouter()
		st := srv.Stats()
		d.log.Info("stopped", "requests", st.Requests, "completed", st.Completed, "failed", st.Failed,
			"aborted", st.Aborted, "timed_out", st.TimedOut, "bytes_sent", st.BytesSent)
		return cli.ExitOK
	}
}

// shutdown stops the server, letting transfers in flight finish for the
// grace period; a second SIGTERM or SIGINT cancels them at once.
func (d *daemon) shutdown(srv *tftp.Server, sigs <-chan os.Signal) error {
	ctx, cancel := context.WithTimeoutCause(context.Background(), d.cfg.TFTP.ShutdownTimeout,
		fmt.Errorf("grace period of %v over", d.cfg.TFTP.ShutdownTimeout))
	defer cancel()
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case sig := <-sigs:
				if sig != syscall.SIGHUP {
					d.log.Warn("second signal: cancelling the transfers still running", "signal", signalName(sig))
					cancel()
					return
				}
				d.log.Info("ignoring SIGHUP while shutting down")
			case <-done:
				return
			}
		}
	}()
	err := srv.Shutdown(ctx)
	close(done)
	<-watched
	if err != nil {
		return context.Cause(ctx)
	}
	return nil
}

func signalName(sig os.Signal) string {
	if s, ok := sig.(syscall.Signal); ok {
		if name := unix.SignalName(s); name != "" {
			return name
		}
	}
	return sig.String()
}

func (d *daemon) closeRouter() {
	if err := d.router.Close(); err != nil {
		d.log.Warn("closing images", "err", err)
	}
}

func (d *daemon) sdnotify(what string, f func() error) {
	if err := f(); err != nil {
		d.log.Warn("systemd notification failed", "msg", what, "err", err)
	}
}

func (d *daemon) status() {
	s := fmt.Sprintf("serving %d board(s)", len(d.cfg.Boards))
	if d.cfg.TFTP.Root != "" {
		s += " and " + d.cfg.TFTP.Root
	}
	d.sdnotify("STATUS", func() error { return d.notify.Status(s) })
}

// isLive reports whether a reload applies a setting; the others need a
// restart.
func isLive(setting string) bool {
	switch setting {
	case "tftp.root", "tftp.includedir", "tftp.shutdown-timeout", "tftp.cache-size", "log.verbose":
		return true
	}
	return false
}

// reload loads the configuration again and applies it; on failure the
// current configuration stays.
func (d *daemon) reload() {
	d.sdnotify("RELOADING=1", d.notify.Reloading)
	defer d.sdnotify("READY=1", d.notify.Ready)
	d.log.Info("reloading the configuration", "signal", "SIGHUP")
	cfg, err := d.loader.Load()
	if err != nil {
		logErrors(d.log, "configuration error", err)
		d.log.Error("reload failed: still serving the previous configuration")
		return
	}
	ch := config.Diff(d.cfg, cfg)
	d.router.Reconfigure(d.netbootConfig(cfg))
	root := cfg.TFTP.Root
	d.root.Store(&root)
	d.setLevel(cfg.Log.Verbose)
	for _, b := range ch.Added {
		d.log.Info("board added", "board", b.Name, "def", b.String(), "source", b.Source)
	}
	for _, b := range ch.Removed {
		d.log.Info("board removed", "board", b.Name, "def", b.String())
	}
	for _, c := range ch.Changed {
		d.log.Info("board changed", "board", c.New.Name, "old", c.Old.String(), "new", c.New.String())
	}
	var restart []string
	for _, s := range ch.Settings {
		if isLive(s) {
			d.log.Info("setting changed", "setting", s)
		} else {
			restart = append(restart, s)
		}
	}
	if len(restart) > 0 {
		d.log.Warn("settings changed that take effect only after a restart", "settings", strings.Join(restart, ","))
	}
	if ch.Empty() {
		d.log.Info("configuration reloaded: no changes", "config", strings.Join(cfg.Files, ","))
	} else {
		d.log.Info("configuration reloaded", "config", strings.Join(cfg.Files, ","), "boards", len(cfg.Boards),
			"added", len(ch.Added), "removed", len(ch.Removed), "changed", len(ch.Changed))
	}
	// Settings that need a restart keep their running values.
	cfg.TFTP = keepRunning(d.cfg.TFTP, cfg.TFTP)
	cfg.Log.Format = d.cfg.Log.Format
	d.cfg = cfg
	d.status()
}

// keepRunning returns cur with the settings a reload cannot apply taken from
// running.
func keepRunning(running, cur config.TFTP) config.TFTP {
	out := running
	out.Root = cur.Root
	out.IncludeDir = cur.IncludeDir
	out.ShutdownTimeout = cur.ShutdownTimeout
	return out
}

// onTransfer logs one line per finished transfer.
func (d *daemon) onTransfer(st *tftp.TransferStats) {
	level := slog.LevelInfo
	switch st.Outcome {
	case tftp.Aborted:
		level = slog.LevelDebug // the Pi's "Early terminate" after a tsize probe
	case tftp.TimedOut:
		level = slog.LevelWarn
	}
	if !d.log.Enabled(context.Background(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("client", st.RemoteAddr.String()),
		slog.String("board", d.router.Board(st.Filename, st.RemoteAddr.Addr())),
		slog.String("file", st.Filename),
		slog.Int64("bytes", st.Bytes),
		slog.Duration("duration", st.Duration.Round(time.Microsecond)),
		slog.Int64("rate_kBps", rate(st.Bytes, st.Duration)),
		slog.Int64("retransmits", st.Retransmits),
		slog.String("outcome", st.Outcome.String()),
	}
	if st.Op == tftp.OpWRQ {
		attrs = append([]slog.Attr{slog.String("op", "write")}, attrs...)
	}
	if st.BlockSize != tftp.DefaultBlockSize {
		attrs = append(attrs, slog.Int("blksize", st.BlockSize))
	}
	if st.Err != nil {
		attrs = append(attrs, slog.String("err", st.Err.Error()))
	}
	d.log.LogAttrs(context.Background(), level, "transfer", attrs...)
}

func rate(bytes int64, dur time.Duration) int64 {
	if dur <= 0 {
		return 0
	}
	return int64(float64(bytes) / dur.Seconds() / 1000)
}

// dropTransferLines removes the tftp.Server's own per-transfer lines, which
// onTransfer replaces with lines that name the board; the server's other
// lines (server busy, transfer errors) pass.
type dropTransferLines struct{ slog.Handler }

func (h dropTransferLines) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "tftp: transfer" {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h dropTransferLines) WithAttrs(attrs []slog.Attr) slog.Handler {
	return dropTransferLines{h.Handler.WithAttrs(attrs)}
}

func (h dropTransferLines) WithGroup(name string) slog.Handler {
	return dropTransferLines{h.Handler.WithGroup(name)}
}
