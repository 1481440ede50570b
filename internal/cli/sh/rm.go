package sh

import (
	"errors"
	"io"
	"io/fs"
	"syscall"
	"time"
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

func runRm(s *session, p *parsed) int {
	force, recursive := p.has('f'), p.has('r') || p.has('R')
	if len(p.operands) == 0 {
		if force {
			return 0
		}
		return s.missingOperand()
	}
	paths, ok := s.parse(p.operands)
	code := 0
	if !ok {
		code = 1
	}
	s.markWrite(paths...)
	for _, pa := range paths {
		l, err := s.resolve(pa)
		if err != nil {
			s.report("cannot remove", pa, err)
			code = 1
			continue
		}
		if (pa.InImage() && l.name == ".") || (!pa.InImage() && (l.name == "/" || baseName(l.name) == "." || baseName(l.name) == "..")) {
			s.errorf("refusing to remove '.' or '..' or the root directory: skipping '%s'", pa.Arg)
			code = 1
			continue
		}
		st, err := lstat(l)
		if err != nil {
			if force && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			s.report("cannot remove", pa, err)
			code = 1
			continue
		}
		if st.IsDir() && !recursive {
			if p.has('d') {
				if err := l.fsys.Remove(l.name); err != nil {
					s.report("cannot remove", pa, err)
					code = 1
				}
				continue
			}
			s.report("cannot remove", pa, syscall.EISDIR)
			code = 1
			continue
		}
		if err := s.removeTree(l, st); err != nil {
			s.errorf("%v", err)
			code = 1
		}
	}
	return code
}

func runRmdir(s *session, p *parsed) int {
	if len(p.operands) == 0 {
		return s.missingOperand()
	}
	paths, ok := s.parse(p.operands)
	code := 0
	if !ok {
		code = 1
	}
	s.markWrite(paths...)
	for _, pa := range paths {
		l, err := s.resolve(pa)
		if err == nil {
			var st fs.FileInfo
			if st, err = lstat(l); err == nil {
				switch {
				case !st.IsDir():
					err = syscall.ENOTDIR
				case pa.InImage() && l.name == ".":
					err = syscall.EBUSY
				default:
					var ents []fs.DirEntry
					if ents, err = l.fsys.ReadDir(l.name); err == nil {
						if len(ents) > 0 {
							err = syscall.ENOTEMPTY
						} else {
							err = l.fsys.Remove(l.name)
						}
					}
				}
			}
		}
		if err != nil {
			s.report("failed to remove", pa, err)
			code = 1
		}
	}
	return code
}

func runMkdir(s *session, p *parsed) int {
	if len(p.operands) == 0 {
		return s.missingOperand()
	}
	paths, ok := s.parse(p.operands)
	code := 0
	if !ok {
		code = 1
	}
	s.markWrite(paths...)
	for _, pa := range paths {
		l, err := s.resolve(pa)
		if err == nil {
			if p.has('p') {
				err = s.mkdirAll(l)
			} else {
				err = l.fsys.Mkdir(l.name)
			}
		}
		if err != nil {
			s.report("cannot create directory", pa, err)
			code = 1
		}
	}
	return code
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
	paths, ok := s.parse(p.operands)
	code := 0
	if !ok {
		code = 1
	}
	s.markWrite(paths...)
	now := time.Now()
	for _, pa := range paths {
		l, err := s.resolve(pa)
		if err == nil {
			_, err = l.fsys.Stat(l.name)
			switch {
			case err == nil:
				err = l.fsys.Chtimes(l.name, now)
			case errors.Is(err, fs.ErrNotExist) && p.has('c'):
				err = nil
			case errors.Is(err, fs.ErrNotExist):
				var w io.WriteCloser
				if w, err = l.fsys.Create(l.name); err == nil {
					err = w.Close()
				}
			}
		}
		if err != nil {
			s.report("cannot touch", pa, err)
			code = 1
		}
	}
	return code
}
