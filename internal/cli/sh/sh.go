// Package sh implements "nobodd-go sh": ls, cat, cp, mv, rm, rmdir, mkdir
// and touch for files inside the FAT partitions of disk images, and
// between images and the host.
//
// Limits, first:
//
//   - One command per invocation. Without a command, commands are read
//     from standard input one per line (with a prompt on a terminal),
//     split into words with shell quoting but no expansion, and each run
//     as its own invocation; they cannot read standard input themselves.
//   - Options are a subset of GNU coreutils' (see "nobodd-go sh help"),
//     parsed like getopt_long: clustered short options, options after
//     operands, "--". Messages and exit statuses follow coreutils.
//   - FAT stores no owners, permissions or links: ls -l shows what fatfs
//     reports (0555 directories, 0444 files), and host symbolic links are
//     followed.
//   - Names inside an image are matched without regard to case, as FAT
//     does. ls -a shows names that begin with a dot; FAT's hidden and
//     system attributes are not consulted. ls -l shows times in UTC.
//   - A command that writes to an image holds the image's exclusive lock
//     (see imgfs) for its whole run; a second writer fails at once.
//
// Paths: IMAGE:N/PATH is PATH in partition N of the image file IMAGE,
// IMAGE:/PATH is PATH in its first FAT partition, anything else is a host
// path (see imgfs.ParsePath).
package sh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nobodd-go/nobodd-go/image"
	"github.com/nobodd-go/nobodd-go/internal/imgfs"
)

// cmd is one command's implementation; it returns the exit status.
type cmd struct {
	name  string
	usage string
	spec  optSpec
	// run parses its operands, marks the images it writes
	// (session.markWrite) and does the work.
	run func(s *session, p *parsed) int
	// badUsage is the exit status for a usage error (2 for ls, 1 for most
	// others, as coreutils).
	badUsage int
}

// commands returns every command, in the order help lists them.
func commands() []*cmd {
	return []*cmd{lsCmd(), catCmd(), cpCmd(), mvCmd(), rmCmd(), rmdirCmd(), mkdirCmd(), touchCmd()}
}

func lookup(name string) *cmd {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// Main runs "nobodd-go sh CMD ARGS..." with args (the arguments after
// "sh") and returns the exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return repl(session{ctx: ctx, stdout: stdout, stderr: stderr}, stdin)
	}
	if args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		help(stdout, args[1:])
		return 0
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "nobodd-go sh: unknown command '%s'; try 'nobodd-go sh help'\n", args[0])
		return 2
	}
	p, err := parseOpts(c.spec, args[1:])
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\nTry 'nobodd-go sh help %s' for more information.\n", c.name, err, c.name)
		return c.badUsage
	}
	s := &session{ctx: ctx, prog: c.name, stdin: stdin, stdout: stdout, stderr: stderr, images: map[string]*imgfs.Image{}}
	code := c.run(s, p)
	if err := s.close(); err != nil {
		s.errorf("%v", err)
		code = 1
	}
	return code
}

func help(w io.Writer, args []string) {
	if len(args) == 1 {
		if c := lookup(args[0]); c != nil {
			fmt.Fprintf(w, "usage: nobodd-go sh %s\n", c.usage)
			return
		}
	}
	fmt.Fprintln(w, "usage: nobodd-go sh COMMAND [OPTION]... [ARG]...")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %s\n", c.usage)
	}
	fmt.Fprintln(w, "  help [COMMAND]")
	fmt.Fprintln(w, "Without a COMMAND, commands are read from standard input, one per line; exit [N] ends.")
	fmt.Fprintln(w, `
Paths: IMAGE:N/PATH is PATH in partition N of the image file IMAGE;
IMAGE:/PATH is PATH in its first FAT partition; anything else is on the host.`)
}

// loc is a resolved path: a file system and a name in it.
type loc struct {
	p    imgfs.Path
	fsys imgfs.FS
	name string
	// key identifies the file system, so that two locations on the same
	// one can be compared and renamed between.
	key string
}

func (l loc) join(elem string) loc {
	q := l
	q.p = l.p.Join(elem)
	q.name = q.p.Name
	return q
}

func (l loc) base() string {
	if l.p.InImage() {
		if l.name == "." {
			return ""
		}
		return l.name[strings.LastIndexByte(l.name, '/')+1:]
	}
	return filepath.Base(l.name)
}

func (l loc) String() string { return l.p.Arg }

// session holds what one command opened.
type session struct {
	ctx            context.Context
	prog           string
	stdin          io.Reader
	stdout, stderr io.Writer
	images         map[string]*imgfs.Image // by absolute path
	order          []string
	writable       map[string]bool
}

func (s *session) errorf(format string, args ...any) {
	fmt.Fprintf(s.stderr, "%s: %s\n", s.prog, fmt.Sprintf(format, args...))
}

// parse parses operands into paths; a syntax error is reported and false
// returned.
func (s *session) parse(args []string) ([]imgfs.Path, bool) {
	out := make([]imgfs.Path, 0, len(args))
	ok := true
	for _, a := range args {
		p, err := imgfs.ParsePath(a, nil)
		if err != nil {
			s.errorf("%v", err)
			ok = false
			continue
		}
		out = append(out, p)
	}
	return out, ok
}

// markWrite notes that the images of paths are written, before any is
// opened.
func (s *session) markWrite(paths ...imgfs.Path) {
	if s.writable == nil {
		s.writable = map[string]bool{}
	}
	for _, p := range paths {
		if p.InImage() {
			s.writable[absKey(p.Image)] = true
		}
	}
}

func absKey(name string) string {
	if a, err := filepath.Abs(name); err == nil {
		return a
	}
	return name
}

// resolve opens the file system of p.
func (s *session) resolve(p imgfs.Path) (loc, error) {
	if !p.InImage() {
		return loc{p: p, fsys: imgfs.Dir(""), name: p.Name, key: "host"}, nil
	}
	key := absKey(p.Image)
	im, ok := s.images[key]
	if !ok {
		var err error
		im, err = imgfs.OpenImage(p.Image, s.writable[key])
		if err != nil {
			return loc{}, err
		}
		s.images[key] = im
		s.order = append(s.order, key)
	}
	v, err := im.FS(p.Part, p.HasPart)
	if err != nil {
		return loc{}, err
	}
	return loc{p: p, fsys: v, name: p.Name, key: fmt.Sprintf("%s:%d", key, v.Partition().Number)}, nil
}

func (s *session) close() error {
	var errs []error
	for _, k := range s.order {
		if err := s.images[k].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.images, s.order = map[string]*imgfs.Image{}, nil
	return errors.Join(errs...)
}

// isImageError reports whether err is about an image or partition rather
// than a file: such errors are printed whole.
func isImageError(err error) bool {
	var ie *image.Error
	var nf *imgfs.NotFATError
	var le *imgfs.LockedError
	var se *imgfs.SyntaxError
	return errors.As(err, &ie) || errors.As(err, &nf) || errors.As(err, &le) || errors.As(err, &se)
}

// errText returns the strerror-like text of a file error, as coreutils
// prints it after the file name.
func errText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		t := errno.Error()
		return strings.ToUpper(t[:1]) + t[1:]
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, fs.ErrExist):
		return "File exists"
	case errors.Is(err, fs.ErrPermission):
		return "Permission denied"
	case errors.Is(err, fs.ErrInvalid):
		return "Invalid argument"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// report prints a failure about l the coreutils way ("what 'l': text",
// or "l: text" when what is empty), or an image error whole.
func (s *session) report(what string, l imgfs.Path, err error) {
	if isImageError(err) {
		s.errorf("%v", err)
		return
	}
	name := l.Arg
	var pe *fs.PathError
	if errors.As(err, &pe) && l.InImage() && pe.Path == l.Image {
		name = l.Image // the image file itself is missing or unreadable
	}
	if what == "" {
		s.errorf("%s: %s", name, errText(err))
		return
	}
	s.errorf("%s '%s': %s", what, name, errText(err))
}
