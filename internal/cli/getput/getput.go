// Package getput implements the "get" and "put" subcommands of nobodd-go: a
// command-line TFTP client built on tftp.Client.
//
// Limits: one file per invocation; flags must come before or between the
// positional arguments as the standard flag package parses them; "put -"
// (standard input) needs REMOTE and sends no tsize, its size being unknown;
// the progress bar is drawn only when standard error is a terminal and needs
// the server to answer tsize (or, for put, a regular file) to show a
// percentage.
//
// Usage:
//
//	nobodd-go get [flags] HOST[:PORT] REMOTE [LOCAL]
//	nobodd-go put [flags] HOST[:PORT] LOCAL [REMOTE]
//
// HOST may be a name, an IPv4 address or an IPv6 address in brackets
// ([::1]:6969); PORT defaults to 69. For get, LOCAL defaults to the base name
// of REMOTE (also inside LOCAL when it is a directory), and "-" writes to
// standard output; the local file is written to a
// temporary file beside it and renamed into place only when the transfer
// succeeds, so a failed get leaves nothing behind. For put, REMOTE defaults to
// the base name of LOCAL, and LOCAL "-" reads standard input.
//
// Exit status: 0 on success, 1 when the transfer fails, 2 on a usage error.
package getput

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/cli"
	"github.com/nobodd-go/nobodd-go/tftp"
)

// options are the flags common to get and put.
type options struct {
	client tftp.Client
	mode   string
}

func newFlagSet(name string, stderr io.Writer, o *options) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.client.BlockSize, "blksize", 0, "block size to ask for (8-65464; 0: the client default)")
	fs.IntVar(&o.client.WindowSize, "windowsize", 0, "window size to ask for (1-65535; 0: 1, lock-step)")
	fs.DurationVar(&o.client.Timeout, "timeout", 0, "retransmit timeout (0: the client default)")
	fs.IntVar(&o.client.Retries, "retries", 0, "retransmissions before giving up (0: the client default)")
	fs.StringVar(&o.mode, "mode", "octet", `transfer mode: "octet" or "netascii"`)
	return fs
}

// parse parses flags interleaved with positional arguments and checks the
// common ones.
func parse(fs *flag.FlagSet, args []string, o *options) ([]string, error) {
	pos, err := cli.ParseInterleaved(fs, args)
	if err != nil {
		return nil, err
	}
	switch o.mode {
	case "octet", "binary":
		o.client.Mode = "octet"
	case "netascii", "ascii":
		o.client.Mode = "netascii"
	default:
		return nil, fmt.Errorf("--mode %q: want octet or netascii", o.mode)
	}
	if o.client.BlockSize != 0 && (o.client.BlockSize < 8 || o.client.BlockSize > 65464) {
		return nil, fmt.Errorf("--blksize %d: want 8 to 65464", o.client.BlockSize)
	}
	if o.client.WindowSize < 0 || o.client.WindowSize > 65535 {
		return nil, fmt.Errorf("--windowsize %d: want 1 to 65535", o.client.WindowSize)
	}
	if o.client.Timeout < 0 {
		return nil, fmt.Errorf("--timeout %v: must not be negative", o.client.Timeout)
	}
	if o.client.Retries < 0 {
		return nil, fmt.Errorf("--retries %d: must not be negative", o.client.Retries)
	}
	return pos, nil
}

// hostPort turns HOST[:PORT] into host:port, defaulting the port to 69 and
// accepting a bracketed IPv6 address.
func hostPort(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty HOST")
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if host == "" {
			return "", fmt.Errorf("host %q: empty host", s)
		}
		return net.JoinHostPort(host, port), nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return net.JoinHostPort(s[1:len(s)-1], "69"), nil
	}
	if strings.Contains(s, ":") {
		// A bare IPv6 address (no brackets, no port) is unambiguous only
		// when it parses as an address.
		if ip := net.ParseIP(s); ip != nil {
			return net.JoinHostPort(s, "69"), nil
		}
		return "", fmt.Errorf("host %q: cannot split HOST[:PORT] (bracket IPv6 addresses)", s)
	}
	return net.JoinHostPort(s, "69"), nil
}

// command parses the command line of get or put (name, whose operands after
// HOST[:PORT] are described by operands) and returns the options, the server
// address and the one or two operands after it. A status of 0 or more means
// exit with it: the usage was asked for or wrong (and said so on stderr).
func command(name, operands string, args []string, stderr io.Writer) (o *options, addr string, pos []string, status int) {
	synopsis := name + " [--blksize N] [--windowsize N] [--timeout D] [--retries N] [--mode M] HOST[:PORT] " + operands
	o = &options{}
	fs := newFlagSet(name, stderr, o)
	fs.Usage = cli.Usage(stderr, fs, synopsis, "")
	pos, err := parse(fs, args, o)
	if errors.Is(err, flag.ErrHelp) {
		return nil, "", nil, cli.ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "nobodd-go %s: %v\n", name, err)
		return nil, "", nil, cli.ExitUsage
	}
	if len(pos) < 2 || len(pos) > 3 {
		fs.Usage()
		return nil, "", nil, cli.ExitUsage
	}
	if addr, err = hostPort(pos[0]); err != nil {
		fmt.Fprintf(stderr, "nobodd-go %s: %v\n", name, err)
		return nil, "", nil, cli.ExitUsage
	}
	return o, addr, pos[1:], -1
}

// Get runs "nobodd-go get" with args (not including the subcommand name) and
// returns the process exit status.
func Get(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, addr, pos, status := command("get", "REMOTE [LOCAL]", args, stderr)
	if status >= 0 {
		return status
	}
	remote := pos[0]
	local := path.Base(strings.ReplaceAll(remote, "\\", "/"))
	if len(pos) == 2 {
		local = pos[1]
	}
	if local == "" || local == "." || local == "/" || local == ".." {
		fmt.Fprintf(stderr, "nobodd-go get: cannot name a local file after %q; give LOCAL\n", remote)
		return cli.ExitUsage
	}
	o.client.TransferSize = true
	bar := newBar(stderr, remote)
	o.client.Progress = bar.update

	var err error
	if local == "-" {
		_, err = o.client.Get(ctx, addr, remote, stdout)
	} else {
		// An existing directory receives the file under REMOTE's base name.
		if fi, err := os.Stat(local); err == nil && fi.IsDir() {
			local = filepath.Join(local, path.Base(strings.ReplaceAll(remote, "\\", "/")))
		}
		err = getFile(ctx, &o.client, addr, remote, local)
	}
	bar.finish(err)
	if err != nil {
		fmt.Fprintf(stderr, "nobodd-go get: %v\n", err)
		return cli.ExitFailure
	}
	return cli.ExitOK
}

// getFile fetches remote into a temporary file beside local and renames it
// into place on success; on any failure the temporary file is removed.
func getFile(ctx context.Context, c *tftp.Client, addr, remote, local string) (err error) {
	dir, base := filepath.Split(local)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".part-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			if cerr := f.Close(); cerr != nil && !errors.Is(cerr, os.ErrClosed) {
				err = errors.Join(err, cerr)
			}
			if rerr := os.Remove(tmp); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
	}()
	if _, err = c.Get(ctx, addr, remote, f); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, local); err != nil {
		return err
	}
	return nil
}

// Put runs "nobodd-go put" with args (not including the subcommand name) and
// returns the process exit status. stdout is unused and present so that get
// and put share a signature.
func Put(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	_ = stdout
	o, addr, pos, status := command("put", "LOCAL [REMOTE]", args, stderr)
	if status >= 0 {
		return status
	}
	local := pos[0]
	remote := filepath.Base(local)
	if len(pos) == 2 {
		remote = pos[1]
	}
	var src io.Reader
	size := int64(-1)
	if local == "-" {
		if len(pos) < 2 {
			fmt.Fprintln(stderr, "nobodd-go put: reading standard input (-) needs REMOTE, the name to store it under")
			return cli.ExitUsage
		}
		src = stdin
	} else {
		f, err := os.Open(local)
		if err != nil {
			fmt.Fprintf(stderr, "nobodd-go put: %v\n", err)
			return cli.ExitFailure
		}
		defer f.Close() // read-only: a close error loses nothing
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		src = f
	}
	o.client.TransferSize = size >= 0
	bar := newBar(stderr, remote)
	o.client.Progress = bar.update
	err := o.client.Put(ctx, addr, remote, src, size)
	bar.finish(err)
	if err != nil {
		fmt.Fprintf(stderr, "nobodd-go put: %v\n", err)
		return cli.ExitFailure
	}
	return cli.ExitOK
}

// bar draws a one-line progress bar on a terminal; on anything else it
// draws nothing.
type bar struct {
	w      io.Writer // nil: not a terminal
	name   string
	start  time.Time
	last   time.Time
	drawn  bool
	latest tftp.Progress
}

func newBar(stderr io.Writer, name string) *bar {
	b := &bar{name: name, start: time.Now()}
	if cli.IsTerminal(stderr) {
		b.w = stderr
	}
	return b
}

func (b *bar) update(p tftp.Progress) {
	if b.w == nil {
		return
	}
	b.latest = p
	now := time.Now()
	if b.drawn && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	b.draw(now)
}

func (b *bar) draw(now time.Time) {
	p := b.latest
	line := fmt.Sprintf("%s  %s", b.name, bytesString(p.Bytes))
	if p.Total >= 0 {
		pct := 100.0
		if p.Total > 0 {
			pct = 100 * float64(p.Bytes) / float64(p.Total)
		}
		line += fmt.Sprintf(" / %s  %3.0f%%", bytesString(p.Total), pct)
	}
	if el := now.Sub(b.start).Seconds(); el > 0 {
		line += fmt.Sprintf("  %s/s", bytesString(int64(float64(p.Bytes)/el)))
	}
	// \r and clear to end of line redraw in place.
	if _, err := fmt.Fprintf(b.w, "\r%s\x1b[K", line); err != nil {
		b.w = nil // the terminal went away: stop drawing
		return
	}
	b.drawn = true
}

func (b *bar) finish(err error) {
	if b.w == nil {
		return
	}
	if err == nil {
		b.draw(time.Now())
	}
	if b.drawn {
		if _, err := fmt.Fprintln(b.w); err != nil {
			b.w = nil // the terminal went away; nothing more to draw
		}
	}
}

func bytesString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
