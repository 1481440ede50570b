package sh

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nobodd-go/nobodd-go/internal/cli"
)

// splitWords splits a command line into words like a POSIX shell does for
// quoting only: white space separates words; 'single quotes' keep
// everything; "double quotes" keep everything but a backslash before " \ $
// or `; a backslash outside quotes keeps the next character; # at the start
// of a word begins a comment. There is no expansion of any kind.
func splitWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			return words, nil
		case c == '\\':
			if i+1 >= len(line) {
				return nil, errors.New("line ends with a backslash")
			}
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// repl reads commands from stdin, one per line, and runs each as its own
// invocation (each takes and releases its images' locks). Commands read
// no standard input ("cat -" reads nothing). It returns the exit status
// of the last command; "exit [N]" ends it.
func repl(s session, stdin io.Reader) int {
	prompt := cli.IsTerminal(stdin) // a prompt only for a terminal
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	code := 0
	for {
		if err := s.ctx.Err(); err != nil {
			return code
		}
		if prompt {
			fmt.Fprint(s.stderr, "nobodd-go sh> ")
		}
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				fmt.Fprintf(s.stderr, "nobodd-go sh: reading commands: %v\n", err)
				return 1
			}
			return code
		}
		words, err := splitWords(sc.Text())
		if err != nil {
			fmt.Fprintf(s.stderr, "nobodd-go sh: %v\n", err)
			code = 2
			continue
		}
		if len(words) == 0 {
			continue
		}
		if words[0] == "exit" {
			if len(words) > 1 {
				if _, err := fmt.Sscanf(words[1], "%d", &code); err != nil {
					fmt.Fprintf(s.stderr, "nobodd-go sh: exit: %s: numeric argument required\n", words[1])
					return 2
				}
			}
			return code
		}
		code = Main(s.ctx, words, strings.NewReader(""), s.stdout, s.stderr)
	}
}
