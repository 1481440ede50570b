package config

import (
	"errors"
	"fmt"
	"sort"
)

// CommandLine is the File of an Error about a command-line flag.
const CommandLine = "command line"

// Error is one problem in the configuration. Load returns every problem it
// finds, each an *Error, joined with errors.Join in the order the files were
// read and then by line; command-line problems come last.
type Error struct {
	// File is the configuration file at fault, or CommandLine.
	File string
	// Line is the 1-based line in File, or 0 when not known.
	Line int
	// Key is the dotted key at fault ("tftp.port", "board.pi4.serial"), the
	// table ("board.pi4") for problems of a whole board, the flag ("--port")
	// for command-line problems, or "" for problems of a whole file.
	Key string
	// Msg says what is wrong and what is accepted.
	Msg string
	// Err is the underlying error, such as an *fs.PathError, or nil.
	Err error

	order int // position of File in reading order, for sorting
}

// Error returns "file:line: message" (or "file: message" without a line).
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// joinErrors sorts errs by reading order and line and joins them; nil when
// there are none.
func joinErrors(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].order != errs[j].order {
			return errs[i].order < errs[j].order
		}
		return errs[i].Line < errs[j].Line
	})
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}
