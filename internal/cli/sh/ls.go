package sh

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func lsCmd() *cmd {
	return &cmd{
		name:  "ls",
		usage: "ls [-alrtSUX] [--sort=name|size|time|extension|none] [PATH]...",
		spec: optSpec{short: "alrtSUX1", long: map[string]string{
			"all": "a", "reverse": "r", "sort": "=sort",
		}},
		badUsage: 2,
		run:      runLs,
	}
}

type lsEntry struct {
	name string
	info fs.FileInfo
}

func runLs(s *session, p *parsed) int {
	order := "name"
	switch {
	case p.has('U'):
		order = "none"
	case p.has('S'):
		order = "size"
	case p.has('t'):
		order = "time"
	case p.has('X'):
		order = "extension"
	}
	if v, ok := p.values["sort"]; ok {
		switch v {
		case "name", "size", "time", "extension", "none":
			order = v
		default:
			s.errorf("invalid argument '%s' for '--sort'\nValid arguments are: 'name', 'none', 'size', 'time', 'extension'", v)
			return 2
		}
	}
	args := p.operands
	if len(args) == 0 {
		args = []string{"."}
	}
	paths, ok := s.parse(args)
	code := 0
	if !ok {
		code = 2
	}
	var files []lsEntry
	type dirArg struct {
		l    loc
		info fs.FileInfo
	}
	var dirs []dirArg
	for _, pa := range paths {
		l, err := s.resolve(pa)
		if err == nil {
			var st fs.FileInfo
			st, err = l.fsys.Stat(l.name)
			if err == nil {
				if st.IsDir() {
					dirs = append(dirs, dirArg{l, st})
				} else {
					files = append(files, lsEntry{pa.Arg, st})
				}
				continue
			}
		}
		s.report("cannot access", pa, err)
		code = 2
	}
	sortEntries(files, order, p.has('r'))
	s.print(files, p.has('l'))
	for i, d := range dirs {
		if len(files) > 0 || i > 0 {
			fmt.Fprintln(s.stdout)
		}
		if len(paths) > 1 {
			fmt.Fprintf(s.stdout, "%s:\n", d.l.p.Arg)
		}
		ents, err := d.l.fsys.ReadDir(d.l.name)
		if err != nil {
			s.report("cannot open directory", d.l.p, err)
			code = 2
			continue
		}
		var list []lsEntry
		if p.has('a') {
			list = append(list, lsEntry{".", d.info})
			parent := d.info
			if up, err := d.l.fsys.Stat(parentOf(d.l)); err == nil {
				parent = up
			}
			list = append(list, lsEntry{"..", parent})
		}
		for _, e := range ents {
			if !p.has('a') && strings.HasPrefix(e.Name(), ".") {
				continue
			}
			info, err := e.Info()
			if err != nil {
				s.report("cannot access", d.l.join(e.Name()).p, err)
				code = 1
				continue
			}
			list = append(list, lsEntry{e.Name(), info})
		}
		sortEntries(list, order, p.has('r'))
		s.print(list, p.has('l'))
	}
	return code
}

func parentOf(l loc) string {
	if l.p.InImage() {
		return path.Dir(l.name)
	}
	return l.name + "/.."
}

// hostDir is filepath.Dir for mkdir -p.
func hostDir(name string) string { return filepath.Dir(name) }

func sortEntries(list []lsEntry, order string, reverse bool) {
	byName := func(a, b lsEntry) int { return strings.Compare(a.name, b.name) }
	var f func(a, b lsEntry) int
	switch order {
	case "none":
		if reverse {
			slices.Reverse(list)
		}
		return
	case "size":
		f = func(a, b lsEntry) int { return cmp.Or(cmp.Compare(b.info.Size(), a.info.Size()), byName(a, b)) }
	case "time":
		f = func(a, b lsEntry) int { return cmp.Or(b.info.ModTime().Compare(a.info.ModTime()), byName(a, b)) }
	case "extension":
		f = func(a, b lsEntry) int { return cmp.Or(strings.Compare(ext(a.name), ext(b.name)), byName(a, b)) }
	default:
		f = byName
	}
	slices.SortStableFunc(list, f)
	if reverse {
		slices.Reverse(list)
	}
}

func ext(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}

// print writes names one per line, or with -l as
// "MODE SIZE YYYY-MM-DD HH:MM NAME" with sizes aligned.
func (s *session) print(list []lsEntry, long bool) {
	if !long {
		for _, e := range list {
			fmt.Fprintln(s.stdout, e.name)
		}
		return
	}
	w := 1
	for _, e := range list {
		w = max(w, len(fmt.Sprint(e.info.Size())))
	}
	for _, e := range list {
		fmt.Fprintf(s.stdout, "%s %*d %s %s\n", e.info.Mode(), w, e.info.Size(), e.info.ModTime().UTC().Format(time.DateOnly+" 15:04"), e.name)
	}
}
