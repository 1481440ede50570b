// Package cli holds the command-line conventions that the nobodd-go
// subcommands (the packages below it) share: exit statuses, flags mixed with operands, the
// usage text, and whether an output is a terminal.
//
// Limits: it knows nothing of what the subcommands do; "nobodd-go sh" parses
// its commands getopt style and does not use ParseInterleaved.
package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit statuses of the subcommands ("nobodd-go sh" follows coreutils
// instead).
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // the work failed
	ExitUsage   = 2 // a usage error: nothing was done
)

// ParseInterleaved parses the flags of fs from args, accepting them before,
// between and after the operands (package flag alone stops at the first
// operand), and returns the operands in order. Everything after "--" is an
// operand. Errors are those of fs.Parse, flag.ErrHelp included.
func ParseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" && (n < 2 || !takesValue(fs, args[n-2])) {
			// fs.Parse stopped at "--" and consumed it.
			return append(operands, rest...), nil
		}
		if len(rest) == 0 {
			return operands, nil
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

// takesValue reports whether arg is a flag of fs given without "=value"
// that takes its value from the next argument.
func takesValue(fs *flag.FlagSet, arg string) bool {
	name, ok := strings.CutPrefix(arg, "-")
	if !ok || strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(strings.TrimPrefix(name, "-"))
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// Usage returns a function for fs.Usage that writes "usage: nobodd-go
// SYNOPSIS" to w, then about between blank lines when it is not empty, then
// the flags with their defaults (to fs's output).
func Usage(w io.Writer, fs *flag.FlagSet, synopsis, about string) func() {
	return func() {
		fmt.Fprintf(w, "usage: nobodd-go %s\n", synopsis)
		if about != "" {
			fmt.Fprintf(w, "\n%s\n\n", about)
		}
		fs.PrintDefaults()
	}
}

// IsTerminal reports whether v (a standard stream) is an *os.File open on a
// character device such as a terminal.
func IsTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
