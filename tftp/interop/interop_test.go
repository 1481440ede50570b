package interop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
)

// blockSizes are the blksize values tried wherever a client can set one.
var blockSizes = []int{512, 1024, 1468, 8192, 65464}

// windowSizes are the windowsize values tried wherever a client can set one.
var windowSizes = []int{1, 4, 16}

// sizes are the file sizes tried for a block size: empty, one byte, exactly
// one block, a multiple of the block size, and a few MB.
func sizes(blksize int) []int {
	return []int{0, 1, blksize, 3 * blksize, 3<<20 + 17}
}

// content returns size reproducible pseudo-random bytes.
func content(size int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(size), byte(size >> 8), byte(size >> 16), byte(size >> 24), 'i'}))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// fixture is a running server: its files, its upload directory, and what
// its clients asked for.
type fixture struct {
	addr   string // host:port the clients use
	port   int
	files  string // served directory
	upload string // DirWriter's directory
	sums   map[string][sha256.Size]byte

	mu      sync.Mutex
	options map[string]tftp.Options // last request's options, by file name

	// abandoned is set when a client is known to have walked away from a
	// transfer without an ERROR packet: the server then retransmits until
	// its retries run out, and Shutdown may have to cut that short.
	abandoned atomic.Bool
}

// fileName is the served file of size bytes.
func fileName(size int) string { return fmt.Sprintf("f%d.bin", size) }

// start runs a server on listen ("127.0.0.1:0" unless given) serving every
// size of the matrix, with uploads into a fresh directory.
func start(t *testing.T, listen string) *fixture {
	t.Helper()
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	f := &fixture{
		files:   t.TempDir(),
		upload:  t.TempDir(),
		sums:    map[string][sha256.Size]byte{},
		options: map[string]tftp.Options{},
	}
	for _, bs := range blockSizes {
		for _, size := range sizes(bs) {
			name := fileName(size)
			if _, ok := f.sums[name]; ok {
				continue
			}
			b := content(size)
			f.sums[name] = sha256.Sum256(b)
			if err := os.WriteFile(filepath.Join(f.files, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files := tftp.FileServer(os.DirFS(f.files))
	uploads := tftp.DirWriter(f.upload)
	srv := &tftp.Server{
		Handler: tftp.HandlerFunc(func(r *tftp.Request) (io.ReaderAt, int64, error) {
			f.record(r)
			return files.ServeTFTP(r)
		}),
		WriteHandler: tftp.WriteHandlerFunc(func(r *tftp.Request) (tftp.Upload, error) {
			f.record(r)
			return uploads.ReceiveTFTP(r)
		}),
	}
	pc, err := net.ListenPacket("udp", listen)
	if err != nil {
		t.Fatal(err)
	}
	f.port = pc.LocalAddr().(*net.UDPAddr).Port
	f.addr = fmt.Sprintf("127.0.0.1:%d", f.port)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(pc) }()
	t.Cleanup(func() {
		wait := 10 * time.Second
		if f.abandoned.Load() {
			wait = time.Second // the abandoned transfer would hold it for its retries
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			if f.abandoned.Load() && errors.Is(err, context.DeadlineExceeded) {
				t.Logf("server shutdown cut short a transfer a client abandoned: %v", err)
			} else {
				t.Errorf("server shutdown: %v", err)
			}
		}
		if err := <-done; err != nil && !errors.Is(err, tftp.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return f
}

func (f *fixture) record(r *tftp.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.options[r.Filename] = slices.Clone(r.Options)
}

// sent returns the options of the last request for name.
func (f *fixture) sent(name string) tftp.Options {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.options[name]
}

// checkFile compares the SHA-256 of the file at path with want.
func checkFile(t *testing.T, path string, want [sha256.Size]byte, size int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(b) != want {
		t.Fatalf("%s: %d bytes, want %d bytes with the served SHA-256", path, len(b), size)
	}
}

// run runs an external client with a deadline; on overrun exec kills it by
// its PID. It returns the combined output for failure messages.
func run(t *testing.T, timeout time.Duration, stdin io.Reader, name string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = stdin
	cmd.Dir = t.TempDir()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s overran %v and was killed: %w", name, timeout, err)
	}
	return out.Bytes(), err
}

// clientTimeout bounds one external client run.
const clientTimeout = 60 * time.Second

// optionValue returns an option's value, or "" when absent.
func optionValue(opts tftp.Options, name string) string {
	v, _ := opts.Get(name)
	return v
}

// describe renders options for logs: "blksize=1024 tsize=0".
func describe(opts tftp.Options) string {
	var s []string
	for _, o := range opts {
		s = append(s, o.Name+"="+o.Value)
	}
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, " ")
}

// transferFunc moves one file with one client: remote is the server's name,
// local a path on this side; bs and ws are the block and window sizes to
// ask for (0: do not ask).
type transferFunc func(t *testing.T, f *fixture, remote, local string, bs, ws int) error

// matrix runs get (and put, when not nil) over sizes × bss × wss, comparing
// SHA-256 sums, and calls check with the options the server received.
func matrix(t *testing.T, f *fixture, bss, wss []int, get, put transferFunc, check func(t *testing.T, opts tftp.Options, bs, ws int)) {
	t.Helper()
	seen := map[string]bool{}
	for _, bs := range bss {
		sz := sizes(bs)
		if bs == 0 {
			sz = sizes(512)
		}
		for _, size := range sz {
			for _, ws := range wss {
				if ws > 1 && ws*bs >= 128<<10 && size > 1<<20 {
					// A window of that many bytes overflows the default
					// 208 KiB socket receive buffer on loopback, and
					// each lost datagram costs a full retransmit timeout:
					// seconds per transfer (atftp's uploads, with its 5 s
					// default timeout, outlast the server's retries and
					// fail). The small sizes still run at these sizes.
					continue
				}
				name := fmt.Sprintf("blksize=%d/size=%d/windowsize=%d", bs, size, ws)
				remote := fileName(size)
				t.Run("get/"+name, func(t *testing.T) {
					local := filepath.Join(t.TempDir(), "out")
					if err := get(t, f, remote, local, bs, ws); err != nil {
						var kb knownBug
						if errors.As(err, &kb) {
							t.Logf("known client bug, failure as expected: %s", kb)
							return
						}
						t.Fatal(err)
					}
					checkFile(t, local, f.sums[remote], size)
					opts := f.sent(remote)
					if key := "get " + names(opts); !seen[key] {
						seen[key] = true
						t.Logf("RRQ options sent: %s", describe(opts))
					}
					if check != nil {
						check(t, opts, bs, ws)
					}
				})
				if put == nil {
					continue
				}
				t.Run("put/"+name, func(t *testing.T) {
					local := filepath.Join(t.TempDir(), "in")
					if err := os.WriteFile(local, content(size), 0o644); err != nil {
						t.Fatal(err)
					}
					up := fmt.Sprintf("u%d-%d-%d.bin", bs, size, ws)
					if err := put(t, f, up, local, bs, ws); err != nil {
						t.Fatal(err)
					}
					checkFile(t, filepath.Join(f.upload, up), f.sums[remote], size)
					opts := f.sent(up)
					if key := "put " + names(opts); !seen[key] {
						seen[key] = true
						t.Logf("WRQ options sent: %s", describe(opts))
					}
					if check != nil {
						check(t, opts, bs, ws)
					}
				})
			}
		}
	}
}

// wantOption fails the test unless the request carried name=want.
func wantOption(t *testing.T, opts tftp.Options, name, want string) {
	t.Helper()
	if got, ok := opts.Get(name); !ok || got != want {
		t.Errorf("request options %s: want %s=%s", describe(opts), name, want)
	}
}

// wantNoOption fails the test if the request carried name.
func wantNoOption(t *testing.T, opts tftp.Options, name string) {
	t.Helper()
	if _, ok := opts.Get(name); ok {
		t.Errorf("request options %s: want no %s", describe(opts), name)
	}
}

// names lists the option names of opts, for de-duplicating logs.
func names(opts tftp.Options) string {
	var s []string
	for _, o := range opts {
		s = append(s, o.Name)
	}
	return strings.Join(s, ",")
}

// knownBug is returned by a transferFunc when a client failed exactly in a
// way documented as that client's bug; the case then passes with a log line.
type knownBug string

func (k knownBug) Error() string { return string(k) }
