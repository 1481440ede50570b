package sh

import (
	"fmt"
	"strings"
)

// optSpec describes a command's options, getopt_long style: short options
// may be clustered (-rf), options and operands may be mixed (GNU argument
// permutation), and "--" ends the options.
type optSpec struct {
	short    string            // short boolean options, e.g. "alrUStX"
	shortArg string            // short options taking an argument, e.g. "o"
	long     map[string]string // long option -> short letter it stands for, or "=name" when it takes an argument
}

// parsed holds a command line after option parsing.
type parsed struct {
	flags    map[byte]bool
	values   map[string]string // by short letter or long name
	operands []string
}

func (p *parsed) has(c byte) bool { return p.flags[c] }

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func parseOpts(spec optSpec, args []string) (*parsed, error) {
	p := &parsed{flags: map[byte]bool{}, values: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			p.operands = append(p.operands, args[i+1:]...)
			return p, nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			target, ok := spec.long[name]
			if !ok {
				// Unique prefixes are accepted, as getopt_long does.
				var cands []string
				for l := range spec.long {
					if strings.HasPrefix(l, name) {
						cands = append(cands, l)
					}
				}
				if len(cands) != 1 {
					return nil, &usageError{fmt.Sprintf("unrecognized option '%s'", a)}
				}
				name, target = cands[0], spec.long[cands[0]]
			}
			if strings.HasPrefix(target, "=") {
				if !hasVal {
					if i+1 >= len(args) {
						return nil, &usageError{fmt.Sprintf("option '--%s' requires an argument", name)}
					}
					i++
					val = args[i]
				}
				p.values[target[1:]] = val
				continue
			}
			if hasVal {
				return nil, &usageError{fmt.Sprintf("option '--%s' doesn't allow an argument", name)}
			}
			p.flags[target[0]] = true
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				c := a[j]
				switch {
				case strings.IndexByte(spec.short, c) >= 0:
					p.flags[c] = true
				case strings.IndexByte(spec.shortArg, c) >= 0:
					val := a[j+1:]
					if val == "" {
						if i+1 >= len(args) {
							return nil, &usageError{fmt.Sprintf("option requires an argument -- '%c'", c)}
						}
						i++
						val = args[i]
					}
					p.values[string(c)] = val
					j = len(a)
				default:
					return nil, &usageError{fmt.Sprintf("invalid option -- '%c'", c)}
				}
			}
		default:
			p.operands = append(p.operands, a)
		}
	}
	return p, nil
}
