package tftp

import (
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func named(name string) Handler {
	return HandlerFunc(func(r *Request) (io.ReaderAt, int64, error) {
		s := name + ":" + r.Filename
		return strings.NewReader(s), int64(len(s)), nil
	})
}

func serveString(t *testing.T, h Handler, file string) (string, error) {
	t.Helper()
	ra, size, err := h.ServeTFTP(&Request{Filename: file})
	if err != nil {
		return "", err
	}
	b := make([]byte, size)
	if _, err := ra.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return string(b), nil
}

func TestServeMux(t *testing.T) {
	m := NewServeMux()
	m.Handle("", named("root"))
	m.Handle("1234abcd/", named("board"))
	m.Handle("/1234abcd/overlays/", named("overlays"))
	for file, want := range map[string]string{
		"bootcode.bin":              "root:bootcode.bin",
		"1234abcd/start4.elf":       "board:1234abcd/start4.elf",
		"/1234abcd/config.txt":      "board:/1234abcd/config.txt",
		"1234abcd/overlays/x.dtbo":  "overlays:1234abcd/overlays/x.dtbo",
		"1234abcdX/overlays/x.dtbo": "root:1234abcdX/overlays/x.dtbo",
	} {
		got, err := serveString(t, m, file)
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", file, got, err, want)
		}
	}
	var empty ServeMux
	if _, err := serveString(t, &empty, "x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty mux: %v", err)
	}
	if _, err := empty.ReceiveTFTP(&Request{Filename: "x"}); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("mux without writes: %v", err)
	}
}

func TestChainAndStripPrefix(t *testing.T) {
	a := FileServer(fstest.MapFS{"a.txt": {Data: []byte("A")}})
	b := FileServer(fstest.MapFS{"b.txt": {Data: []byte("B")}, "a.txt": {Data: []byte("shadowed")}})
	denied := errHandler(fs.ErrPermission)
	h := Chain(a, b)
	if got, err := serveString(t, h, "b.txt"); err != nil || got != "B" {
		t.Errorf("b.txt: %q %v", got, err)
	}
	if got, err := serveString(t, h, "a.txt"); err != nil || got != "A" {
		t.Errorf("a.txt: %q %v", got, err)
	}
	if _, err := serveString(t, h, "c.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("c.txt: %v", err)
	}
	// Errors other than "not found" stop the chain.
	if _, err := serveString(t, Chain(denied, a), "a.txt"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("denied: %v", err)
	}
	// A directory counts as not found, so the chain moves on.
	dirs := FileServer(fstest.MapFS{"d/x": {Data: []byte("x")}})
	if got, err := serveString(t, Chain(dirs, named("next")), "d"); err != nil || got != "next:d" {
		t.Errorf("directory: %q %v", got, err)
	}
	sp := StripPrefix("1234abcd/", a)
	if got, err := serveString(t, sp, "/1234abcd/a.txt"); err != nil || got != "A" {
		t.Errorf("strip: %q %v", got, err)
	}
	if _, err := serveString(t, sp, "a.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("strip without prefix: %v", err)
	}
}

// plainFS yields files that are neither io.ReaderAt nor io.Seeker.
type plainFS struct{ fstest.MapFS }

type plainFile struct{ f fs.File }

func (p plainFile) Read(b []byte) (int, error) { return p.f.Read(b) }
func (p plainFile) Stat() (fs.FileInfo, error) { return p.f.Stat() }
func (p plainFile) Close() error               { return p.f.Close() }

func (p plainFS) Open(name string) (fs.File, error) {
	f, err := p.MapFS.Open(name)
	if err != nil {
		return nil, err
	}
	return plainFile{f}, nil
}

func TestFileServerReaders(t *testing.T) {
	data := pattern(3000)
	h := FileServer(plainFS{fstest.MapFS{"f": {Data: data}}})
	ra, size, err := h.ServeTFTP(&Request{Filename: "f"})
	if err != nil || size != 3000 {
		t.Fatal(size, err)
	}
	defer ra.(io.Closer).Close()
	b := make([]byte, 1024)
	for off := int64(0); off < 3000; off += 1024 {
		n, err := ra.ReadAt(b, off)
		if (err != nil && err != io.EOF) || string(b[:n]) != string(data[off:min(off+1024, 3000)]) {
			t.Fatalf("sequential ReadAt at %d: %d %v", off, n, err)
		}
	}
	if _, err := ra.ReadAt(b, 0); err == nil {
		t.Error("out-of-order ReadAt on a plain file succeeded")
	}
}
