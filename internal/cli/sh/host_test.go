package sh

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run runs one sh command in dir and returns its exit status and output.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpts(t *testing.T) {
	spec := optSpec{short: "alr", shortArg: "o", long: map[string]string{"all": "a", "sort": "=sort", "output": "=o"}}
	p, err := parseOpts(spec, []string{"-la", "x", "--sort=size", "-oOUT", "--al", "--", "-r"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.has('l') || !p.has('a') || p.has('r') || p.values["sort"] != "size" || p.values["o"] != "OUT" {
		t.Errorf("parsed = %+v", p)
	}
	if strings.Join(p.operands, ",") != "x,-r" {
		t.Errorf("operands = %q", p.operands)
	}
	p, err = parseOpts(spec, []string{"-o", "F", "--sort", "time", "-"})
	if err != nil || p.values["o"] != "F" || p.values["sort"] != "time" || len(p.operands) != 1 || p.operands[0] != "-" {
		t.Errorf("parsed = %+v, %v", p, err)
	}
	for _, bad := range [][]string{{"-z"}, {"--bogus"}, {"-o"}, {"--sort"}, {"--all=1"}} {
		if _, err := parseOpts(spec, bad); err == nil {
			t.Errorf("parseOpts(%q) accepted it", bad)
		}
	}
}

func TestHostCommands(t *testing.T) {
	d := t.TempDir()
	t.Chdir(d)
	write(t, "a/one.txt", "one\n")
	write(t, "a/sub/two.bin", "two two\n")
	write(t, "a/.hidden", "h")

	code, out, errs := run(t, "", "ls", "a")
	if code != 0 || out != "one.txt\nsub\n" {
		t.Errorf("ls a = %d %q %q", code, out, errs)
	}
	code, out, _ = run(t, "", "ls", "-a", "a")
	if code != 0 || out != ".\n..\n.hidden\none.txt\nsub\n" {
		t.Errorf("ls -a a = %d %q", code, out)
	}
	code, out, _ = run(t, "", "ls", "-r", "a")
	if code != 0 || out != "sub\none.txt\n" {
		t.Errorf("ls -r a = %d %q", code, out)
	}
	code, out, _ = run(t, "", "ls", "a/one.txt", "a/sub")
	if code != 0 || out != "a/one.txt\n\na/sub:\ntwo.bin\n" {
		t.Errorf("ls file dir = %d %q", code, out)
	}
	code, _, errs = run(t, "", "ls", "nope")
	if code != 2 || errs != "ls: cannot access 'nope': No such file or directory\n" {
		t.Errorf("ls nope = %d %q", code, errs)
	}
	code, _, errs = run(t, "", "ls", "--sort=bogus")
	if code != 2 || !strings.Contains(errs, "invalid argument 'bogus' for '--sort'") {
		t.Errorf("ls --sort=bogus = %d %q", code, errs)
	}

	code, out, _ = run(t, "stdin\n", "cat", "a/one.txt", "-", "a/sub/two.bin")
	if code != 0 || out != "one\nstdin\ntwo two\n" {
		t.Errorf("cat = %d %q", code, out)
	}
	code, out, errs = run(t, "", "cat", "a/one.txt", "nope", "a/one.txt")
	if code != 1 || out != "one\none\n" || errs != "cat: nope: No such file or directory\n" {
		t.Errorf("cat nope = %d %q %q", code, out, errs)
	}
	code, _, errs = run(t, "", "cat", "a")
	if code != 1 || errs != "cat: a: Is a directory\n" {
		t.Errorf("cat dir = %d %q", code, errs)
	}
	if code, _, errs = run(t, "from stdin", "cat", "-o", "out.txt", "-"); code != 0 || read(t, "out.txt") != "from stdin" {
		t.Errorf("cat -o = %d %q", code, errs)
	}

	if code, _, errs = run(t, "", "cp", "a", "b"); code != 1 || errs != "cp: -r not specified; omitting directory 'a'\n" {
		t.Errorf("cp dir = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "cp", "-r", "a", "b"); code != 0 || read(t, "b/sub/two.bin") != "two two\n" {
		t.Errorf("cp -r = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "cp", "-r", "a", "b"); code != 0 || read(t, "b/a/one.txt") != "one\n" {
		t.Errorf("cp -r into dir = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "cp", "-r", "a", "a/sub"); code != 1 || !strings.Contains(errs, "into itself") {
		t.Errorf("cp into itself = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "cp", "a/one.txt", "a/sub/two.bin", "a/one.txt"); code != 1 || errs != "cp: target 'a/one.txt' is not a directory\n" {
		t.Errorf("cp many to file = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "cp", "a/one.txt", "./a/../a/one.txt"); code != 1 || errs != "cp: 'a/one.txt' and './a/../a/one.txt' are the same file\n" {
		t.Errorf("cp same file = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "cp", "nope", "x"); code != 1 || errs != "cp: cannot stat 'nope': No such file or directory\n" {
		t.Errorf("cp nope = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "cp", "a/one.txt"); code != 1 || !strings.Contains(errs, "missing destination file operand after 'a/one.txt'") {
		t.Errorf("cp one operand = %d %q", code, errs)
	}

	if code, _, errs = run(t, "", "mv", "b/a", "c"); code != 0 || read(t, "c/one.txt") != "one\n" {
		t.Errorf("mv = %d %q", code, errs)
	}
	if _, err := os.Stat("b/a"); !os.IsNotExist(err) {
		t.Errorf("mv left b/a: %v", err)
	}
	if code, _, errs = run(t, "", "mv", "c", "c/sub"); code != 1 || !strings.Contains(errs, "subdirectory of itself") {
		t.Errorf("mv into itself = %d %q", code, errs)
	}

	if code, _, errs = run(t, "", "rmdir", "c"); code != 1 || errs != "rmdir: failed to remove 'c': Directory not empty\n" {
		t.Errorf("rmdir full = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "rmdir", "nope"); code != 1 || errs != "rmdir: failed to remove 'nope': No such file or directory\n" {
		t.Errorf("rmdir nope = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "rmdir", "out.txt"); code != 1 || errs != "rmdir: failed to remove 'out.txt': Not a directory\n" {
		t.Errorf("rmdir file = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "rm", "c"); code != 1 || errs != "rm: cannot remove 'c': Is a directory\n" {
		t.Errorf("rm dir = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "rm", "nope"); code != 1 || errs != "rm: cannot remove 'nope': No such file or directory\n" {
		t.Errorf("rm nope = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "rm", "-f", "nope"); code != 0 || errs != "" {
		t.Errorf("rm -f nope = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "rm", "-rf", "c"); code != 0 {
		t.Errorf("rm -rf = %d %q", code, errs)
	}
	if _, err := os.Stat("c"); !os.IsNotExist(err) {
		t.Errorf("rm -rf left c: %v", err)
	}
	// rm -r does not follow a link to a directory.
	if err := os.Symlink(filepath.Join(d, "a"), "link"); err != nil {
		t.Fatal(err)
	}
	if code, _, errs = run(t, "", "rm", "-r", "link"); code != 0 || read(t, "a/one.txt") != "one\n" {
		t.Errorf("rm -r link = %d %q", code, errs)
	}

	if code, _, errs = run(t, "", "mkdir", "m/n"); code != 1 || errs != "mkdir: cannot create directory 'm/n': No such file or directory\n" {
		t.Errorf("mkdir m/n = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "mkdir", "-p", "m/n"); code != 0 {
		t.Errorf("mkdir -p = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "mkdir", "m"); code != 1 || errs != "mkdir: cannot create directory 'm': File exists\n" {
		t.Errorf("mkdir exists = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "touch", "m/n/t"); code != 0 || read(t, "m/n/t") != "" {
		t.Errorf("touch = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "touch", "zz/t"); code != 1 || errs != "touch: cannot touch 'zz/t': No such file or directory\n" {
		t.Errorf("touch zz/t = %d %q", code, errs)
	}

	if code, _, errs = run(t, "", "frob"); code != 2 || !strings.Contains(errs, "unknown command 'frob'") {
		t.Errorf("frob = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "rm", "-z", "x"); code != 1 || !strings.Contains(errs, "rm: invalid option -- 'z'") {
		t.Errorf("rm -z = %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "ls", "-z"); code != 2 {
		t.Errorf("ls -z = %d %q", code, errs)
	}
	if code, out, _ = run(t, "", "help"); code != 0 || !strings.Contains(out, "cp [-r] SOURCE... DEST") {
		t.Errorf("help = %d %q", code, out)
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"ls -l  disk.img:1/", []string{"ls", "-l", "disk.img:1/"}},
		{`cp 'a b' "c \"d\"" e\ f`, []string{"cp", "a b", `c "d"`, "e f"}},
		{"  # comment", nil},
		{"rm x # trailing", []string{"rm", "x"}},
		{"a#b ''", []string{"a#b", ""}},
	}
	for _, tt := range tests {
		got, err := splitWords(tt.in)
		if err != nil || strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"'open", `"open`, `end\`} {
		if _, err := splitWords(bad); err == nil {
			t.Errorf("splitWords(%q) accepted it", bad)
		}
	}
}

func TestREPL(t *testing.T) {
	t.Chdir(t.TempDir())
	script := "mkdir d\\ir\n\n# nothing\ntouch 'dir/a file'\nls dir\nls nope\nls dir\n"
	code, out, errs := run(t, script)
	if code != 0 || out != "a file\na file\n" || errs != "ls: cannot access 'nope': No such file or directory\n" {
		t.Errorf("repl = %d %q %q", code, out, errs)
	}
	code, _, _ = run(t, "ls nope\n")
	if code != 2 {
		t.Errorf("repl status = %d, want that of the last command (2)", code)
	}
	code, out, _ = run(t, "exit 3\nls\n")
	if code != 3 || out != "" {
		t.Errorf("exit 3 = %d %q", code, out)
	}
}
