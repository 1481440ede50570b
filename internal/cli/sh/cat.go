package sh

import (
	"errors"
	"io"
	"io/fs"
	"syscall"

	"github.com/nobodd-go/nobodd-go/internal/imgfs"
)

func catCmd() *cmd {
	return &cmd{
		name:     "cat",
		usage:    "cat [-o OUT] [FILE|-]...",
		spec:     optSpec{shortArg: "o", long: map[string]string{"output": "=o"}},
		badUsage: 1,
		run:      runCat,
	}
}

func runCat(s *session, p *parsed) int {
	args := p.operands
	if len(args) == 0 {
		args = []string{"-"}
	}
	var ins []imgfs.Path
	for _, a := range args {
		if a == "-" {
			ins = append(ins, imgfs.Path{Arg: "-"})
			continue
		}
		ps, ok := s.parse([]string{a})
		if !ok {
			return 1
		}
		ins = append(ins, ps[0])
	}
	out := s.stdout
	var closer io.Closer
	var outPath imgfs.Path
	if o, ok := p.values["o"]; ok && o != "-" {
		ps, ok := s.parse([]string{o})
		if !ok {
			return 1
		}
		outPath = ps[0]
		s.markWrite(outPath)
		// Check every input before the output is created or truncated.
		for _, in := range ins {
			if in.Arg == "-" {
				continue
			}
			l, err := s.resolve(in)
			if err == nil {
				var st fs.FileInfo
				if st, err = l.fsys.Stat(l.name); err == nil && st.IsDir() {
					err = syscall.EISDIR
				}
			}
			if err != nil {
				s.report("", in, err)
				return 1
			}
		}
		l, err := s.resolve(outPath)
		if err != nil {
			s.report("", outPath, err)
			return 1
		}
		for _, in := range ins {
			if in.Arg == "-" {
				continue
			}
			if il, err := s.resolve(in); err == nil && sameName(il, l) {
				s.errorf("%s: input file is output file", in.Arg)
				return 1
			}
		}
		if st, err := l.fsys.Stat(l.name); err == nil && st.IsDir() {
			s.report("", outPath, syscall.EISDIR)
			return 1
		}
		w, err := l.fsys.Create(l.name)
		if err != nil {
			s.report("", outPath, err)
			return 1
		}
		out, closer = w, w
	}
	code := 0
	for _, in := range ins {
		if err := s.catOne(in, out); err != nil {
			var we *writeError
			if errors.As(err, &we) {
				s.report("write error:", outPath, we.err)
				code = 1
				break
			}
			s.report("", in, err)
			code = 1
		}
	}
	if closer != nil {
		if err := closer.Close(); err != nil {
			s.report("write error:", outPath, err)
			code = 1
		}
	}
	return code
}

type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

type errWriter struct{ w io.Writer }

func (e errWriter) Write(b []byte) (int, error) {
	n, err := e.w.Write(b)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

func (s *session) catOne(in imgfs.Path, out io.Writer) error {
	if in.Arg == "-" {
		_, err := io.Copy(errWriter{out}, s.stdin)
		return err
	}
	l, err := s.resolve(in)
	if err != nil {
		return err
	}
	f, err := l.fsys.Open(l.name)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return syscall.EISDIR
	}
	_, err = io.Copy(errWriter{out}, f)
	return err
}
