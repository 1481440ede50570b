package tftptest

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
)

// LogBuffer collects what a server (or any program under test) logs from
// several goroutines, and can be read while they still write. Its zero value
// is ready to use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// NewLogger returns a text-format logger at level (and above) that writes
// into a new LogBuffer, and the buffer.
func NewLogger(level slog.Level) (*slog.Logger, *LogBuffer) {
	lb := &LogBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: level})), lb
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines returns the lines written so far that contain every one of words.
func (l *LogBuffer) Lines(words ...string) []string { return Lines(l.String(), words...) }

// Lines returns the non-empty lines of text that contain every one of words,
// in order.
func Lines(text string, words ...string) []string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		ok := line != ""
		for _, w := range words {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}
