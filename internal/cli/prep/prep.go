// Package prep implements "nobodd-go prep": it customises a Raspberry Pi OS
// or Ubuntu disk image for netbooting, as nobodd-prep does.
//
// Limits, first:
//
//   - Only the boot partition's files and the root partition's table entry
//     are changed; the file system inside the root partition is not grown
//     (the OS grows it on first boot, as it does on an SD card).
//   - The image must hold a FAT boot partition and a root partition after
//     which the root partition can grow: growing stops at the next
//     partition.
//   - The image file is enlarged sparsely; nothing is ever shrunk.
//   - The kernel command line's first line is rewritten; see
//     RewriteCmdline.
//
// Usage:
//
//	nobodd-go prep [flags] IMAGE
//
// The work is done in this order: detect the boot and root partitions,
// enlarge the image and grow the root partition, remove the -R paths from
// the boot partition, copy the -C paths into it, rewrite the command line.
// Every check (the partitions exist, the boot partition is FAT, the command
// line and the -C files exist, the changes fit in the free space) is made
// before anything is changed, and a step that would change nothing is left
// out, so that running prep twice leaves the image byte for byte as the
// first run left it. While it writes, prep holds an exclusive lock on the
// image (see imgfs): a second writer fails at once.
//
// Exit status: 0 on success, 1 on failure, 2 on a usage error.
package prep

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nobodd-go/nobodd-go/config"
	"github.com/nobodd-go/nobodd-go/internal/cli"
	"github.com/nobodd-go/nobodd-go/internal/imgfs"
)

// DefaultSize is the size images are grown to without --size: 16 GiB.
const DefaultSize = 16 << 30

// Options are prep's settings; the zero value of each field means its
// default.
type Options struct {
	Image         string
	Size          int64    // 0: DefaultSize
	NBDHost       string   // "": this host's fully qualified name
	NBDName       string   // "": the image file's name without its extension
	Cmdline       string   // "": cmdline.txt, or current/cmdline.txt when only that exists
	BootPartition int      // 0: the first FAT partition
	RootPartition int      // 0: the first Linux partition other than the boot partition (image.RootPartition)
	Copy          []string // host files and directories to copy into the boot partition
	Remove        []string // paths to remove from the boot partition
	Serial        string   // for TFTPDConf
	TFTPDConf     string   // "-": standard output; "": none
	NBDConf       string   // "-": standard output; "": none
	Verbose       bool
	Quiet         bool
	DryRun        bool
}

type listFlag struct{ l *[]string }

func (f listFlag) String() string {
	if f.l == nil {
		return ""
	}
	return strings.Join(*f.l, ",")
}
func (f listFlag) Set(s string) error { *f.l = append(*f.l, s); return nil }

type sizeFlag struct{ n *int64 }

func (f sizeFlag) String() string {
	if f.n == nil || *f.n == 0 {
		return "16GB"
	}
	return fmt.Sprint(*f.n)
}
func (f sizeFlag) Set(s string) error {
	n, err := ParseSize(s)
	if err != nil {
		return err
	}
	if n <= 0 {
		return fmt.Errorf("size must be positive")
	}
	*f.n = n
	return nil
}

func newFlagSet(stderr io.Writer, o *Options) *flag.FlagSet {
	fs := flag.NewFlagSet("prep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	both := func(short, long string, v flag.Value, usage string) {
		fs.Var(v, long, usage)
		if short != "" {
			fs.Var(v, short, "short for --"+long)
		}
	}
	both("s", "size", sizeFlag{&o.Size}, "grow the image file to this size (16GB, 512M, 1GiB or bytes; K, M, G, T are powers of 1024); never shrinks")
	fs.StringVar(&o.NBDHost, "nbd-host", "", "NBD server host name for nbdroot= (default: this host's FQDN)")
	fs.StringVar(&o.NBDName, "nbd-name", "", "NBD export name (default: the image's file name without extension)")
	fs.StringVar(&o.Cmdline, "cmdline", "", "kernel command line file in the boot partition (default: cmdline.txt, or current/cmdline.txt)")
	fs.IntVar(&o.BootPartition, "boot-partition", 0, "boot partition number (default: the first FAT partition)")
	fs.IntVar(&o.RootPartition, "root-partition", 0, "root partition number (default: the first Linux partition other than the boot one)")
	both("C", "copy", listFlag{&o.Copy}, "copy this host file or directory into the boot partition (repeatable; directories merge)")
	both("R", "remove", listFlag{&o.Remove}, "remove this file or directory from the boot partition (repeatable)")
	fs.StringVar(&o.Serial, "serial", "", "the Pi's serial number, for --tftpd-conf")
	fs.StringVar(&o.TFTPDConf, "tftpd-conf", "", "write a [board.NAME] table for nobodd-go's configuration to FILE (- for standard output)")
	fs.StringVar(&o.NBDConf, "nbd-conf", "", "write an nbd-server export section to FILE (- for standard output)")
	boolVal := func(v *bool) flag.Value { return boolFlag{v} }
	both("v", "verbose", boolVal(&o.Verbose), "say what is done, step by step")
	both("q", "quiet", boolVal(&o.Quiet), "say nothing but errors")
	fs.BoolVar(&o.DryRun, "dry-run", false, "print what would change and change nothing")
	fs.Usage = cli.Usage(stderr, fs, "prep [flags] IMAGE", "Customise a disk image for netbooting.")
	return fs
}

type boolFlag struct{ b *bool }

func (f boolFlag) String() string {
	if f.b != nil && *f.b {
		return "true"
	}
	return "false"
}
func (f boolFlag) Set(s string) error {
	v, err := parseBool(s)
	*f.b = v
	return err
}
func (f boolFlag) IsBoolFlag() bool { return true }

func parseBool(s string) (bool, error) {
	switch s {
	case "true", "1", "t", "T", "TRUE", "True":
		return true, nil
	case "false", "0", "f", "F", "FALSE", "False":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}

// parseArgs parses flags interleaved with the one positional argument.
func parseArgs(args []string, stderr io.Writer) (Options, error) {
	var o Options
	fs := newFlagSet(stderr, &o)
	pos, err := cli.ParseInterleaved(fs, args)
	if err != nil {
		return o, err
	}
	if len(pos) != 1 {
		fs.Usage()
		return o, fmt.Errorf("want exactly one IMAGE, got %d arguments", len(pos))
	}
	o.Image = pos[0]
	if o.Verbose && o.Quiet {
		return o, errors.New("-v and -q exclude each other")
	}
	if o.TFTPDConf != "" && o.Serial == "" {
		return o, errors.New("--tftpd-conf needs --serial: a board is matched by its serial number")
	}
	if o.BootPartition < 0 || o.RootPartition < 0 {
		return o, errors.New("partition numbers must be positive")
	}
	return o, nil
}

// Main runs "nobodd-go prep" with args (the arguments after "prep") and
// returns the exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cli.ExitOK
		}
		fmt.Fprintf(stderr, "nobodd-go prep: %v\n", err)
		return cli.ExitUsage
	}
	if err := Run(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "nobodd-go prep: %v\n", err)
		return cli.ExitFailure
	}
	return cli.ExitOK
}

// Run customises the image as o says. Messages go to stderr (none with
// Quiet), the dry run's plan and configuration written to "-" to stdout.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	say := func(format string, args ...any) {
		if !o.Quiet {
			fmt.Fprintf(stderr, format+"\n", args...)
		}
	}
	detail := func(format string, args ...any) {
		if o.Verbose {
			fmt.Fprintf(stderr, format+"\n", args...)
		}
	}
	if o.Size == 0 {
		o.Size = DefaultSize
	}
	abs, err := filepath.Abs(o.Image)
	if err != nil {
		return err
	}
	if o.NBDName == "" {
		base := filepath.Base(o.Image)
		o.NBDName = strings.TrimSuffix(base, filepath.Ext(base))
	}
	if err := checkNBDName("--nbd-name", o.NBDName); err != nil {
		return err
	}
	if o.NBDHost == "" {
		o.NBDHost = fqdn(ctx)
	}
	if err := checkNBDName("--nbd-host", o.NBDHost); err != nil {
		return err
	}
	var serial config.Serial
	if o.Serial != "" {
		if serial, err = config.ParseSerial(o.Serial); err != nil {
			return fmt.Errorf("--serial: %w", err)
		}
	}
	for _, c := range o.Copy {
		if _, err := os.Stat(c); err != nil {
			return fmt.Errorf("-C %s: %w", c, err)
		}
	}
	// Configuration files are opened (not yet truncated) before the image
	// changes, so that an unwritable one stops prep early.
	tftpdOut, err := openConf(o.TFTPDConf, o.DryRun, stdout)
	if err != nil {
		return err
	}
	defer tftpdOut.Close()
	nbdOut, err := openConf(o.NBDConf, o.DryRun, stdout)
	if err != nil {
		return err
	}
	defer nbdOut.Close()

	// Detect.
	wim, err := imgfs.OpenImage(o.Image, !o.DryRun)
	if err != nil {
		return err
	}
	defer wim.Close()
	table := wim.Table()
	for _, w := range table.Warnings() {
		say("warning: %s", w)
	}
	boot, err := wim.Partition(o.BootPartition, o.BootPartition != 0)
	if err != nil {
		return err
	}
	// The boot partition is read through a second, read-only view for
	// planning; the writable one stays free of open file systems until the
	// image has been enlarged.
	rim, err := imgfs.OpenImage(o.Image, false)
	if err != nil {
		return err
	}
	defer rim.Close()
	rvol, err := rim.FS(boot.Number, true)
	if err != nil {
		return err
	}
	if o.RootPartition == 0 {
		root, err := table.RootPartition()
		if err != nil {
			return err
		}
		o.RootPartition = root.Number
	} else if _, err := table.Partition(o.RootPartition); err != nil {
		return err
	}
	if o.RootPartition == boot.Number {
		return fmt.Errorf("%s: partition %d cannot be both the boot and the root partition", o.Image, boot.Number)
	}
	detail("%s: boot partition %d, root partition %d", o.Image, boot.Number, o.RootPartition)
	pl := newPlanner(rvol, rvol.String())
	for _, r := range o.Remove {
		if err := pl.remove(r); err != nil {
			return err
		}
	}
	for _, c := range o.Copy {
		if err := pl.copy(c); err != nil {
			return err
		}
	}
	cmdline, err := findCmdline(pl, o.Cmdline)
	if err != nil {
		return err
	}
	if err := pl.cmdline(cmdline, func(s string) string {
		return RewriteCmdline(s, o.NBDHost, o.NBDName, o.RootPartition)
	}); err != nil {
		return err
	}
	if err := pl.checkSpace(); err != nil {
		return err
	}
	if err := rim.Close(); err != nil {
		return err
	}
	for _, w := range pl.warn {
		say("warning: %s", w)
	}

	grow := o.Size > table.Size()
	if !grow {
		say("%s is already %s, not less than %s: not resized", o.Image, FormatSize(table.Size()), FormatSize(o.Size))
	}
	if o.DryRun {
		if grow {
			fmt.Fprintf(stdout, "would grow %s from %s to %s and grow partition %d to fill it\n", o.Image, FormatSize(table.Size()), FormatSize(o.Size), o.RootPartition)
		}
		for _, op := range pl.ops {
			fmt.Fprintf(stdout, "would %s in partition %d\n", op, boot.Number)
		}
		if !grow && len(pl.ops) == 0 {
			fmt.Fprintf(stdout, "%s needs no changes\n", o.Image)
		}
	} else {
		if grow {
			from := table.Size()
			if err := wim.Extend(o.Size); err != nil {
				return err
			}
			table = wim.Table()
			if err := table.GrowPartition(o.RootPartition, 0); err != nil {
				return err
			}
			root, err := table.Partition(o.RootPartition)
			if err != nil {
				return err
			}
			say("grew %s from %s to %s; partition %d now %s", o.Image, FormatSize(from), FormatSize(o.Size), o.RootPartition, FormatSize(root.Size))
		}
		if len(pl.ops) > 0 {
			vol, err := wim.FS(boot.Number, true)
			if err != nil {
				return err
			}
			a := &applier{fsys: vol, where: vol.String(), log: detail}
			if !o.Quiet {
				a.progress = stderr
			}
			if err := a.apply(pl.ops); err != nil {
				return err
			}
			summarise(say, pl.ops, vol.String())
		} else {
			say("%s partition %d: nothing to change", o.Image, boot.Number)
		}
		if err := wim.Close(); err != nil {
			return err
		}
	}
	if o.TFTPDConf != "" {
		if err := tftpdOut.write(TFTPDConf(o.NBDName, serial, abs, boot.Number)); err != nil {
			return err
		}
	}
	if o.NBDConf != "" {
		if err := nbdOut.write(NBDConf(o.NBDName, abs)); err != nil {
			return err
		}
	}
	return nil
}

func summarise(say func(string, ...any), ops []op, where string) {
	var removed, made, copied, times int
	for _, o := range ops {
		switch o.kind {
		case opRemove:
			removed++
		case opMkdir:
			made++
		case opCopy:
			copied++
		case opChtimes:
			times++
		case opWrite:
			say("%s: rewrote %s: %s", where, o.name, firstLine(o.data))
		}
	}
	if removed+made+copied+times > 0 {
		say("%s: removed %d, made %d directories, copied %d files, set %d times", where, removed, made, copied, times)
	}
}

// findCmdline returns the command line file: name when given, else
// cmdline.txt, else (Ubuntu's A/B layout) current/cmdline.txt.
func findCmdline(pl *planner, name string) (string, error) {
	if name != "" {
		return imgfs.Clean(name), nil
	}
	for _, c := range []string{"cmdline.txt", "current/cmdline.txt"} {
		if _, err := pl.stat(c); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s: no cmdline.txt or current/cmdline.txt; name the file with --cmdline", pl.where)
}

// confOut is a configuration output: a file opened early or stdout.
type confOut struct {
	f      *os.File
	stdout io.Writer
	dry    string // dry run: the file that would be written
}

func openConf(name string, dry bool, stdout io.Writer) (*confOut, error) {
	if name == "" || name == "-" {
		return &confOut{stdout: stdout}, nil
	}
	if dry {
		return &confOut{stdout: stdout, dry: name}, nil
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return &confOut{f: f}, nil
}

func (c *confOut) write(s string) error {
	if c.dry != "" {
		s = fmt.Sprintf("would write %s:\n%s", c.dry, s)
	}
	if c.f == nil {
		_, err := io.WriteString(c.stdout, s)
		return err
	}
	if err := c.f.Truncate(0); err != nil {
		return err
	}
	if _, err := c.f.WriteAt([]byte(s), 0); err != nil {
		return err
	}
	err := c.f.Close()
	c.f = nil
	return err
}

// Close closes a file that was never written.
func (c *confOut) Close() error {
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	return err
}

// fqdn returns this host's fully qualified name, as Python's
// socket.getfqdn does: the host name when it has a dot, else the first name
// with a dot that its addresses resolve back to, else the host name.
func fqdn(ctx context.Context) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "localhost"
	}
	if strings.Contains(host, ".") {
		return host
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var r net.Resolver
	if cname, err := r.LookupCNAME(ctx, host); err == nil {
		if c := strings.TrimSuffix(cname, "."); strings.Contains(c, ".") {
			return c
		}
	}
	addrs, err := r.LookupHost(ctx, host)
	if err != nil {
		return host
	}
	for _, a := range addrs {
		names, err := r.LookupAddr(ctx, a)
		if err != nil {
			continue
		}
		for _, n := range names {
			if n = strings.TrimSuffix(n, "."); strings.Contains(n, ".") {
				return n
			}
		}
	}
	return host
}
