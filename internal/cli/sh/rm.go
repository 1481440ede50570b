package sh

import (
	"errors"
	"io/fs"
	"syscall"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/imgfs"
)

func rmCmd() *cmd {
	return &cmd{
		name:     "rm",
		usage:    "rm [-rf] FILE...",
		spec:     optSpec{short: "rRfd", long: map[string]string{"recursive": "r", "force": "f", "dir": "d"}},
		badUsage: 1,
		run:      runRm,
	}
}

func rmdirCmd() *cmd {
	return &cmd{
		name:     "rmdir",
		usage:    "rmdir DIRECTORY...",
		spec:     optSpec{long: map[string]string{}},
		badUsage: 1,
		run:      runRmdir,
	}
}

func mkdirCmd() *cmd {
	return &cmd{
		name:     "mkdir",
		usage:    "mkdir [-p] DIRECTORY...",
		spec:     optSpec{short: "p", long: map[string]string{"parents": "p"}},
		badUsage: 1,
		run:      runMkdir,
	}
}

func touchCmd() *cmd {
	return &cmd{
		name:     "touch",
		usage:    "touch [-c] FILE...",
		spec:     optSpec{short: "c", long: map[string]string{"no-create": "c"}},
		badUsage: 1,
		run:      runTouch,
	}
}

func (s *session) missingOperand() int {
	s.errorf("missing operand\nTry 'nobodd-go sh help %s' for more information.", s.prog)
	return 1
}

// errReported is returned by an eachWrite function that has already said
// what went wrong.
var errReported = errors.New("reported")

// eachWrite runs do on every operand of a command that writes (rm, rmdir,
// mkdir, touch), after parsing them all and marking their images for
// writing. An operand that cannot be parsed, resolved or done makes the exit
// status 1; the error is reported after what ("cannot remove") unless it is
// errReported.
func (s *session) eachWrite(operands []string, what string, do func(pa imgfs.Path, l loc) error) int {
	paths, ok := s.parse(operands)
	code := 0
	if !ok {
		code = 1
	}
	s.markWrite(paths...)
	for _, pa := range paths {
		l, err := s.resolve(pa)
		if err == nil {
			err = do(pa, l)
		}
		if err != nil {
			if !errors.Is(err, errReported) {
				s.report(what, pa, err)
			}
			code = 1
		}
	}
	return code
}

func runRm(s *session, p *parsed) int {
	force, recursive := p.has('f'), p.has('r') || p.has('R')
	if len(p.operands) == 0 {
		if force {
			return 0
		}
		return s.missingOperand()
	}
	return s.eachWrite(p.operands, "cannot remove", func(pa imgfs.Path, l loc) error {
		if (pa.InImage() && l.name == ".") || (!pa.InImage() && (l.name == "/" || baseName(l.name) == "." || baseName(l.name) == "..")) {
			s.errorf("refusing to remove '.' or '..' or the root directory: skipping '%s'", pa.Arg)
			return errReported
		}
		st, err := lstat(l)
		if err != nil {
			if force && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st.IsDir() && !recursive {
			if p.has('d') {
				return l.fsys.Remove(l.name)
			}
			return syscall.EISDIR
		}
		if err := s.removeTree(l, st); err != nil {
			s.errorf("%v", err)
			return errReported
		}
		return nil
	})
}

func runRmdir(s *session, p *parsed) int {
	if len(p.operands) == 0 {
		return s.missingOperand()
	}
	return s.eachWrite(p.operands, "failed to remove", func(pa imgfs.Path, l loc) error {
		st, err := lstat(l)
		switch {
		case err != nil:
			return err
		case !st.IsDir():
			return syscall.ENOTDIR
		case pa.InImage() && l.name == ".":
			return syscall.EBUSY
		}
		ents, err := l.fsys.ReadDir(l.name)
		switch {
		case err != nil:
			return err
		case len(ents) > 0:
			return syscall.ENOTEMPTY
		}
		return l.fsys.Remove(l.name)
	})
}

func runMkdir(s *session, p *parsed) int {
	if len(p.operands) == 0 {
		return s.missingOperand()
	}
	return s.eachWrite(p.operands, "cannot create directory", func(_ imgfs.Path, l loc) error {
		if p.has('p') {
			return s.mkdirAll(l)
		}
		return l.fsys.Mkdir(l.name)
	})
}

// mkdirAll makes l and its missing parents; an existing directory is fine.
func (s *session) mkdirAll(l loc) error {
	st, err := l.fsys.Stat(l.name)
	if err == nil {
		if st.IsDir() {
			return nil
		}
		return syscall.EEXIST
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := l
	if l.p.InImage() {
		parent.name = parentOf(l)
	} else {
		parent.name = hostDir(l.name)
	}
	if parent.name != l.name {
		if err := s.mkdirAll(parent); err != nil {
			return err
		}
	}
	return l.fsys.Mkdir(l.name)
}

func runTouch(s *session, p *parsed) int {
	if len(p.operands) == 0 {
		s.errorf("missing file operand\nTry 'nobodd-go sh help touch' for more information.")
		return 1
	}
	now := time.Now()
	return s.eachWrite(p.operands, "cannot touch", func(_ imgfs.Path, l loc) error {
		_, err := l.fsys.Stat(l.name)
		switch {
		case err == nil:
			return l.fsys.Chtimes(l.name, now)
		case errors.Is(err, fs.ErrNotExist) && p.has('c'):
			return nil
		case errors.Is(err, fs.ErrNotExist):
			w, err := l.fsys.Create(l.name)
			if err != nil {
				return err
			}
			return w.Close()
		}
		return err
	})
}
