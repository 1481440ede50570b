package prep

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/imgfs"
)

// opKind is what one step of a plan does to the boot partition.
type opKind int

const (
	opRemove  opKind = iota // remove a file or an empty directory
	opMkdir                 // make a directory
	opCopy                  // copy a host file over or into a new file
	opChtimes               // only set the time: the content is already there
	opWrite                 // write data (the command line)
)

// op is one step of a plan.
type op struct {
	kind  opKind
	name  string    // io/fs name in the boot partition
	host  string    // opCopy: the host file
	size  int64     // opCopy: bytes to copy
	mtime time.Time // opCopy, opChtimes, opMkdir: modification time to set; zero: leave
	data  []byte    // opWrite
	old   []byte    // opWrite: what was there, for messages
	why   string    // for messages: the -C or -R argument
}

func (o op) String() string {
	switch o.kind {
	case opRemove:
		return "remove " + o.name
	case opMkdir:
		return "make directory " + o.name
	case opCopy:
		return fmt.Sprintf("copy %s to %s (%s)", o.host, o.name, FormatSize(o.size))
	case opChtimes:
		return fmt.Sprintf("set the time of %s to %s (content unchanged)", o.name, o.mtime.UTC().Format(time.RFC3339))
	default:
		return fmt.Sprintf("rewrite %s: %q -> %q", o.name, firstLine(o.old), firstLine(o.data))
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(s, "\r")
}

// planner builds the list of changes to the boot partition from what is
// there now, without changing anything.
type planner struct {
	fsys    imgfs.FS
	where   string   // "image.img partition 1", for errors
	removed []string // lower-cased names removed so far
	made    map[string]bool
	ops     []op
	warn    []string
	need    int64 // bytes in allocation units the plan adds (negative: frees)
	unit    int64
}

func newPlanner(fsys imgfs.FS, where string) *planner {
	p := &planner{fsys: fsys, where: where, made: make(map[string]bool), unit: 1}
	if s, ok := fsys.(imgfs.Spacer); ok {
		if _, u, err := s.Free(); err == nil && u > 0 {
			p.unit = u
		}
	}
	return p
}

// pathErr words err about name in the partition: "image.img partition 1:
// name: what", without repeating the name an *fs.PathError carries.
func (p *planner) pathErr(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %s: %w", p.where, name, err)
}

func (p *planner) units(n int64) int64 { return (n + p.unit - 1) / p.unit * p.unit }

// gone reports whether name was removed by an earlier step.
func (p *planner) gone(name string) bool {
	l := strings.ToLower(name)
	for _, r := range p.removed {
		if l == r || strings.HasPrefix(l, r+"/") {
			return true
		}
	}
	return false
}

// stat is Stat as the partition will be after the steps so far.
func (p *planner) stat(name string) (fs.FileInfo, error) {
	if p.made[strings.ToLower(name)] {
		return dirInfo{}, nil
	}
	if p.gone(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return p.fsys.Stat(name)
}

// remove plans the removal of name and everything under it.
func (p *planner) remove(arg string) error {
	name := imgfs.Clean(arg)
	if name == "." {
		return fmt.Errorf("%s: -R %s: will not remove the root directory", p.where, arg)
	}
	st, err := p.stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		p.warn = append(p.warn, fmt.Sprintf("%s: -R %s: no such file or directory; nothing removed", p.where, arg))
		return nil
	}
	if err != nil {
		return p.pathErr(name, err)
	}
	if err := p.removeTree(name, st, arg); err != nil {
		return err
	}
	p.removed = append(p.removed, strings.ToLower(name))
	return nil
}

func (p *planner) removeTree(name string, st fs.FileInfo, arg string) error {
	if st.IsDir() {
		ents, err := p.fsys.ReadDir(name)
		if err != nil {
			return fmt.Errorf("%s: -R %s: %w", p.where, arg, err)
		}
		for _, e := range ents {
			info, err := e.Info()
			if err != nil {
				return fmt.Errorf("%s: -R %s: %w", p.where, arg, err)
			}
			if err := p.removeTree(path.Join(name, e.Name()), info, arg); err != nil {
				return err
			}
		}
	} else {
		p.need -= p.units(st.Size())
	}
	p.ops = append(p.ops, op{kind: opRemove, name: name, why: "-R " + arg})
	return nil
}

// copy plans copying the host file or directory src into the root of the
// partition, merging directories.
func (p *planner) copy(src string) error {
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("-C %s: %w", src, err)
	}
	base := filepath.Base(filepath.Clean(src))
	if base == "/" || base == "." || base == ".." {
		return fmt.Errorf("-C %s: cannot copy a directory without a name; name it (-C dir/sub)", src)
	}
	return p.copyTree(src, base, st, src, 0)
}

// maxDepth bounds directory recursion (symbolic links are followed).
const maxDepth = 64

func (p *planner) copyTree(src, name string, st fs.FileInfo, arg string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("-C %s: %s: directories nested more than %d deep (a symbolic link loop?)", arg, src, maxDepth)
	}
	cur, err := p.stat(name)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return p.pathErr(name, err)
	}
	if st.IsDir() {
		if exists && !cur.IsDir() {
			return fmt.Errorf("-C %s: cannot overwrite non-directory '%s' in %s with directory '%s'", arg, name, p.where, src)
		}
		if !exists {
			p.ops = append(p.ops, op{kind: opMkdir, name: name, why: "-C " + arg})
			p.made[strings.ToLower(name)] = true
			p.need += p.unit
		}
		ents, err := os.ReadDir(src)
		if err != nil {
			return fmt.Errorf("-C %s: %w", arg, err)
		}
		for _, e := range ents {
			s := filepath.Join(src, e.Name())
			info, err := os.Stat(s)
			if err != nil {
				return fmt.Errorf("-C %s: %w", arg, err)
			}
			if !info.IsDir() && !info.Mode().IsRegular() {
				return fmt.Errorf("-C %s: %s is not a regular file or directory", arg, s)
			}
			if err := p.copyTree(s, path.Join(name, e.Name()), info, arg, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("-C %s: not a regular file or directory", arg)
	}
	mtime := st.ModTime()
	if exists {
		if cur.IsDir() {
			return fmt.Errorf("-C %s: cannot overwrite directory '%s' in %s with non-directory '%s'", arg, name, p.where, src)
		}
		same, err := p.sameContent(src, name, st.Size(), cur.Size())
		if err != nil {
			return err
		}
		if same {
			if !sameTime(cur.ModTime(), mtime) {
				p.ops = append(p.ops, op{kind: opChtimes, name: name, mtime: mtime, why: "-C " + arg})
			}
			return nil
		}
		p.need -= p.units(cur.Size())
	}
	p.need += p.units(st.Size())
	p.ops = append(p.ops, op{kind: opCopy, name: name, host: src, size: st.Size(), mtime: mtime, why: "-C " + arg})
	return nil
}

// sameTime reports whether a FAT time (two-second resolution) stands for
// the host time t.
func sameTime(fat, t time.Time) bool {
	d := t.Sub(fat)
	return d >= 0 && d < 2*time.Second
}

// sameContent compares the host file src with name in the partition.
func (p *planner) sameContent(src, name string, hostSize, size int64) (bool, error) {
	if hostSize != size || p.gone(name) {
		return false, nil
	}
	h, err := os.Open(src)
	if err != nil {
		return false, fmt.Errorf("-C %s: %w", src, err)
	}
	defer h.Close()
	f, err := p.fsys.Open(name)
	if err != nil {
		return false, fmt.Errorf("%s: %w", p.where, err)
	}
	defer f.Close()
	a := make([]byte, 64<<10)
	b := make([]byte, 64<<10)
	for {
		n, errA := io.ReadFull(h, a)
		m, errB := io.ReadFull(f, b[:len(a)])
		if n != m || !bytes.Equal(a[:n], b[:m]) {
			return false, nil
		}
		if errA == io.EOF || errA == io.ErrUnexpectedEOF {
			return errB == io.EOF || errB == io.ErrUnexpectedEOF, nil
		}
		if errA != nil {
			return false, fmt.Errorf("-C %s: %w", src, errA)
		}
		if errB != nil {
			return false, fmt.Errorf("%s: %s: %w", p.where, name, errB)
		}
	}
}

// cmdline plans the rewrite of the kernel command line file.
func (p *planner) cmdline(name string, rewrite func(string) string) error {
	if _, err := p.stat(name); err != nil {
		return p.pathErr(name, err)
	}
	var old []byte
	if i := slices.IndexFunc(p.ops, func(o op) bool { return o.kind == opCopy && strings.EqualFold(o.name, name) }); i >= 0 {
		b, err := os.ReadFile(p.ops[i].host)
		if err != nil {
			return err
		}
		old = b
	} else {
		b, err := fs.ReadFile(p.fsys, name)
		if err != nil {
			return p.pathErr(name, err)
		}
		old = b
	}
	nu := []byte(rewrite(string(old)))
	if bytes.Equal(nu, old) {
		return nil
	}
	p.need += p.units(int64(len(nu))) - p.units(int64(len(old)))
	p.ops = append(p.ops, op{kind: opWrite, name: name, data: nu, old: old})
	return nil
}

// checkSpace refuses a plan that cannot fit, when the file system knows its
// free space.
func (p *planner) checkSpace() error {
	s, ok := p.fsys.(imgfs.Spacer)
	if !ok || p.need <= 0 {
		return nil
	}
	free, _, err := s.Free()
	if err != nil {
		return fmt.Errorf("%s: %w", p.where, err)
	}
	if p.need > free {
		return fmt.Errorf("%s: not enough space: the changes need %s more, %s free", p.where, FormatSize(p.need), FormatSize(free))
	}
	return nil
}

type dirInfo struct{}

func (dirInfo) Name() string       { return "" }
func (dirInfo) Size() int64        { return 0 }
func (dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o755 }
func (dirInfo) ModTime() time.Time { return time.Time{} }
func (dirInfo) IsDir() bool        { return true }
func (dirInfo) Sys() any           { return nil }

// applier carries out a plan.
type applier struct {
	fsys     imgfs.FS
	where    string
	log      func(format string, args ...any) // per-step messages (-v)
	progress io.Writer                        // nil: none
}

// progressMin is the size from which copies report their progress.
const progressMin = 32 << 20

func (a *applier) apply(ops []op) error {
	for _, o := range ops {
		a.log("%s", o)
		if err := a.one(o); err != nil {
			return fmt.Errorf("%s: %w", a.where, err)
		}
	}
	return nil
}

func (a *applier) one(o op) error {
	switch o.kind {
	case opRemove:
		return a.fsys.Remove(o.name)
	case opMkdir:
		return a.fsys.Mkdir(o.name)
	case opChtimes:
		return a.fsys.Chtimes(o.name, o.mtime)
	case opWrite:
		w, err := a.fsys.Create(o.name)
		if err != nil {
			return err
		}
		if _, err := w.Write(o.data); err != nil {
			return errors.Join(err, w.Close())
		}
		return w.Close()
	}
	src, err := os.Open(o.host)
	if err != nil {
		return err
	}
	defer src.Close()
	w, err := a.fsys.Create(o.name)
	if err != nil {
		return err
	}
	var r io.Reader = src
	if a.progress != nil && o.size >= progressMin {
		r = &progressReader{r: src, total: o.size, name: o.name, w: a.progress}
	}
	n, err := io.Copy(w, r)
	if err != nil {
		return errors.Join(fmt.Errorf("copying %s to %s: %w", o.host, o.name, err), w.Close())
	}
	if err := w.Close(); err != nil {
		return err
	}
	if n != o.size {
		return fmt.Errorf("copying %s to %s: copied %d bytes, expected %d (the file changed)", o.host, o.name, n, o.size)
	}
	return a.fsys.Chtimes(o.name, o.mtime)
}

// progressReader reports every tenth of a large copy.
type progressReader struct {
	r     io.Reader
	total int64
	done  int64
	tenth int64
	name  string
	w     io.Writer
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if t := p.done * 10 / p.total; t > p.tenth {
		p.tenth = t
		fmt.Fprintf(p.w, "copying %s: %d%% (%d of %d MiB)\n", p.name, t*10, p.done>>20, p.total>>20)
	}
	return n, err
}
