package sh

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/nobodd-go/nobodd-go/internal/imgfs"
)

func cpCmd() *cmd {
	return &cmd{
		name:     "cp",
		usage:    "cp [-r] SOURCE... DEST",
		spec:     optSpec{short: "rRf", long: map[string]string{"recursive": "r", "force": "f"}},
		badUsage: 1,
		run:      runCp,
	}
}

func mvCmd() *cmd {
	return &cmd{
		name:     "mv",
		usage:    "mv SOURCE... DEST",
		spec:     optSpec{short: "f", long: map[string]string{"force": "f"}},
		badUsage: 1,
		run:      runMv,
	}
}

// step is one change of a copy: make a directory or copy a file.
type step struct {
	src, dst loc
	dir      bool
	exists   bool // the directory is already there (merge)
}

// failure is an error already worded for the user.
type failure string

func (f failure) Error() string { return string(f) }

// sameName reports whether a and b name the same file: FAT folds case; on
// the host, different paths may lead to the same file.
func sameName(a, b loc) bool {
	if a.key != b.key {
		return false
	}
	if a.p.InImage() {
		return strings.EqualFold(a.name, b.name)
	}
	if a.name == b.name {
		return true
	}
	sa, errA := os.Stat(a.name)
	sb, errB := os.Stat(b.name)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// under reports whether b is a itself or inside it.
func under(a, b loc) bool {
	if a.key != b.key {
		return false
	}
	an, bn := a.name, b.name
	if a.p.InImage() {
		an, bn = strings.ToLower(an), strings.ToLower(bn)
		if an == "." {
			return true
		}
	}
	return an == bn || strings.HasPrefix(bn, strings.TrimSuffix(an, "/")+"/")
}

// target resolves the operands of cp and mv: the sources and, for each,
// where it goes. Problems are reported; ok is false on a fatal one.
func (s *session) target(ops []string) (srcs []imgfs.Path, dsts []loc, ok bool) {
	if len(ops) == 0 {
		s.errorf("missing file operand\nTry 'nobodd-go sh help %s' for more information.", s.prog)
		return nil, nil, false
	}
	if len(ops) == 1 {
		s.errorf("missing destination file operand after '%s'\nTry 'nobodd-go sh help %s' for more information.", ops[0], s.prog)
		return nil, nil, false
	}
	paths, ok := s.parse(ops)
	if !ok {
		return nil, nil, false
	}
	srcs, dstPath := paths[:len(paths)-1], paths[len(paths)-1]
	s.markWrite(dstPath)
	if s.prog == "mv" {
		s.markWrite(srcs...)
	}
	dst, err := s.resolve(dstPath)
	if err != nil {
		s.report("cannot access", dstPath, err)
		return nil, nil, false
	}
	st, err := dst.fsys.Stat(dst.name)
	isDir := err == nil && st.IsDir()
	if len(srcs) > 1 && !isDir {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.report("cannot access", dstPath, err)
		} else {
			s.errorf("target '%s' is not a directory", dstPath.Arg)
		}
		return nil, nil, false
	}
	for _, src := range srcs {
		d := dst
		if isDir {
			var b string
			if src.InImage() {
				b = baseName(src.Name)
			} else {
				b = baseName(strings.TrimRight(src.Name, "/"))
			}
			d = dst.join(b)
		}
		dsts = append(dsts, d)
	}
	return srcs, dsts, true
}

func baseName(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// planCopy checks the copy of src to dst and appends its steps.
func (s *session) planCopy(src, dst loc, recursive bool, steps *[]step, need *int64, unit int64, depth int) error {
	if depth > 64 {
		return failure(fmt.Sprintf("%s: directories nested too deep (a symbolic link loop?)", src))
	}
	st, err := src.fsys.Stat(src.name)
	if err != nil {
		return s.wrap("cannot stat", src.p, err)
	}
	dstSt, derr := dst.fsys.Stat(dst.name)
	exists := derr == nil
	if derr != nil && !errors.Is(derr, fs.ErrNotExist) {
		return s.wrap("cannot stat", dst.p, derr)
	}
	if exists && sameName(src, dst) {
		return failure(fmt.Sprintf("'%s' and '%s' are the same file", src, dst))
	}
	if st.IsDir() {
		if !recursive {
			return failure(fmt.Sprintf("-r not specified; omitting directory '%s'", src))
		}
		if under(src, dst) {
			return failure(fmt.Sprintf("cannot copy a directory, '%s', into itself, '%s'", src, dst))
		}
		if exists && !dstSt.IsDir() {
			return failure(fmt.Sprintf("cannot overwrite non-directory '%s' with directory '%s'", dst, src))
		}
		*steps = append(*steps, step{src: src, dst: dst, dir: true, exists: exists})
		if !exists {
			*need += unit
		}
		ents, err := src.fsys.ReadDir(src.name)
		if err != nil {
			return s.wrap("cannot access", src.p, err)
		}
		for _, e := range ents {
			dd := dst.join(e.Name())
			if !exists {
				// Nothing below a new directory exists yet.
				if err := s.planNew(src.join(e.Name()), dd, steps, need, unit, depth+1); err != nil {
					return err
				}
				continue
			}
			if err := s.planCopy(src.join(e.Name()), dd, recursive, steps, need, unit, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if !st.Mode().IsRegular() {
		return failure(fmt.Sprintf("cannot copy '%s': not a regular file", src))
	}
	if exists {
		if dstSt.IsDir() {
			return failure(fmt.Sprintf("cannot overwrite directory '%s' with non-directory", dst))
		}
		*need -= roundUp(dstSt.Size(), unit)
	}
	if dst.p.Slash && !exists {
		return s.wrap("cannot create regular file", dst.p, syscall.ENOTDIR)
	}
	*need += roundUp(st.Size(), unit)
	*steps = append(*steps, step{src: src, dst: dst})
	return nil
}

// planNew plans copying src to dst inside a directory the copy makes.
func (s *session) planNew(src, dst loc, steps *[]step, need *int64, unit int64, depth int) error {
	if depth > 64 {
		return failure(fmt.Sprintf("%s: directories nested too deep (a symbolic link loop?)", src))
	}
	st, err := src.fsys.Stat(src.name)
	if err != nil {
		return s.wrap("cannot stat", src.p, err)
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return failure(fmt.Sprintf("cannot copy '%s': not a regular file", src))
		}
		*need += roundUp(st.Size(), unit)
		*steps = append(*steps, step{src: src, dst: dst})
		return nil
	}
	*need += unit
	*steps = append(*steps, step{src: src, dst: dst, dir: true})
	ents, err := src.fsys.ReadDir(src.name)
	if err != nil {
		return s.wrap("cannot access", src.p, err)
	}
	for _, e := range ents {
		if err := s.planNew(src.join(e.Name()), dst.join(e.Name()), steps, need, unit, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func roundUp(n, unit int64) int64 { return (n + unit - 1) / unit * unit }

// wrap words err about p like report does.
func (s *session) wrap(what string, p imgfs.Path, err error) error {
	if isImageError(err) {
		return err
	}
	return failure(fmt.Sprintf("%s '%s': %s", what, p.Arg, errText(err)))
}

// checkSpace refuses a copy that needs more than the destination has free.
func checkSpace(dst loc, need int64) error {
	sp, ok := dst.fsys.(imgfs.Spacer)
	if !ok || need <= 0 {
		return nil
	}
	free, _, err := sp.Free()
	if err != nil {
		return err
	}
	if need > free {
		return failure(fmt.Sprintf("error writing '%s': %s", dst, errText(syscall.ENOSPC)))
	}
	return nil
}

func unitOf(dst loc) int64 {
	if sp, ok := dst.fsys.(imgfs.Spacer); ok {
		if _, u, err := sp.Free(); err == nil && u > 0 {
			return u
		}
	}
	return 1
}

// copyPlanned checks and carries out one copy; errors are returned worded.
func (s *session) copyOne(src imgfs.Path, dst loc, recursive bool) error {
	sl, err := s.resolve(src)
	if err != nil {
		return s.wrap("cannot stat", src, err)
	}
	var steps []step
	var need int64
	unit := unitOf(dst)
	if err := s.planCopy(sl, dst, recursive, &steps, &need, unit, 0); err != nil {
		return err
	}
	if err := checkSpace(dst, need); err != nil {
		return err
	}
	for _, st := range steps {
		if err := s.doStep(st); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) doStep(st step) error {
	if st.dir {
		if st.exists {
			return nil
		}
		if err := st.dst.fsys.Mkdir(st.dst.name); err != nil {
			return s.wrap("cannot create directory", st.dst.p, err)
		}
		return nil
	}
	in, err := st.src.fsys.Open(st.src.name)
	if err != nil {
		return s.wrap("cannot open", st.src.p, err)
	}
	defer in.Close()
	out, err := st.dst.fsys.Create(st.dst.name)
	if err != nil {
		return s.wrap("cannot create regular file", st.dst.p, err)
	}
	if _, err := io.Copy(errWriter{out}, in); err != nil {
		if cerr := out.Close(); cerr != nil {
			s.errorf("closing '%s': %s", st.dst, errText(cerr))
		}
		var we *writeError
		if errors.As(err, &we) {
			return s.wrap("error writing", st.dst.p, we.err)
		}
		return s.wrap("error reading", st.src.p, err)
	}
	if err := out.Close(); err != nil {
		return s.wrap("error writing", st.dst.p, err)
	}
	return nil
}

func runCp(s *session, p *parsed) int {
	srcs, dsts, ok := s.target(p.operands)
	if !ok {
		return 1
	}
	code := 0
	for i, src := range srcs {
		if err := s.copyOne(src, dsts[i], p.has('r') || p.has('R')); err != nil {
			s.errorf("%v", err)
			code = 1
		}
	}
	return code
}

func runMv(s *session, p *parsed) int {
	srcs, dsts, ok := s.target(p.operands)
	if !ok {
		return 1
	}
	code := 0
	for i, src := range srcs {
		if err := s.moveOne(src, dsts[i]); err != nil {
			s.errorf("%v", err)
			code = 1
		}
	}
	return code
}

func (s *session) moveOne(src imgfs.Path, dst loc) error {
	sl, err := s.resolve(src)
	if err != nil {
		return s.wrap("cannot stat", src, err)
	}
	st, err := sl.fsys.Stat(sl.name)
	if err != nil {
		return s.wrap("cannot stat", src, err)
	}
	if src.InImage() && sl.name == "." {
		return failure(fmt.Sprintf("cannot move '%s': it is the root directory", src))
	}
	dstSt, derr := dst.fsys.Stat(dst.name)
	exists := derr == nil
	if exists && sameName(sl, dst) && sl.name == dst.name {
		return failure(fmt.Sprintf("'%s' and '%s' are the same file", src, dst))
	}
	if st.IsDir() && under(sl, dst) && !sameName(sl, dst) {
		return failure(fmt.Sprintf("cannot move '%s' to a subdirectory of itself, '%s'", src, dst))
	}
	if exists && !sameName(sl, dst) {
		if dstSt.IsDir() && !st.IsDir() {
			return failure(fmt.Sprintf("cannot overwrite directory '%s' with non-directory", dst))
		}
		if !dstSt.IsDir() && st.IsDir() {
			return failure(fmt.Sprintf("cannot overwrite non-directory '%s' with directory '%s'", dst, src))
		}
	}
	if sl.key == dst.key {
		if exists && dstSt.IsDir() && !sameName(sl, dst) {
			// Rename replaces an empty directory only.
			ents, err := dst.fsys.ReadDir(dst.name)
			if err != nil {
				return s.wrap("cannot access", dst.p, err)
			}
			if len(ents) > 0 {
				return failure(fmt.Sprintf("cannot move '%s' to '%s': %s", src, dst, errText(syscall.ENOTEMPTY)))
			}
		}
		if err := sl.fsys.Rename(sl.name, dst.name); err != nil {
			return failure(fmt.Sprintf("cannot move '%s' to '%s': %s", src, dst, errText(err)))
		}
		return nil
	}
	// Across file systems: copy, then remove the source.
	var steps []step
	var need int64
	unit := unitOf(dst)
	if err := s.planCopy(sl, dst, true, &steps, &need, unit, 0); err != nil {
		return err
	}
	if err := checkSpace(dst, need); err != nil {
		return err
	}
	for _, stp := range steps {
		if err := s.doStep(stp); err != nil {
			return err
		}
	}
	lst, err := lstat(sl)
	if err != nil {
		return s.wrap("cannot remove", src, err)
	}
	return s.removeTree(sl, lst)
}

// lstat is Stat, except that a host symbolic link is not followed.
func lstat(l loc) (fs.FileInfo, error) {
	if !l.p.InImage() {
		return os.Lstat(l.name)
	}
	return l.fsys.Stat(l.name)
}

// removeTree removes l (described by st, from lstat) and everything under
// it; symbolic links are removed, not followed.
func (s *session) removeTree(l loc, st fs.FileInfo) error {
	if st.IsDir() {
		ents, err := l.fsys.ReadDir(l.name)
		if err != nil {
			return s.wrap("cannot remove", l.p, err)
		}
		for _, e := range ents {
			c := l.join(e.Name())
			info, err := e.Info()
			if err != nil {
				return s.wrap("cannot remove", c.p, err)
			}
			if err := s.removeTree(c, info); err != nil {
				return err
			}
		}
	}
	if err := l.fsys.Remove(l.name); err != nil {
		return s.wrap("cannot remove", l.p, err)
	}
	return nil
}
