package tftp_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// clPattern returns n reproducible pseudo-random bytes.
func clPattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 0x5a}))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// clSizes are the file sizes every block size is tried with: empty, one
// byte, exactly one block, a multiple of the block size, and about 2 MB.
func clSizes(blksize int) []int {
	return []int{0, 1, blksize, 4 * blksize, 2<<20 + 3}
}

// clStartInTFTPD runs in.tftpd on 127.0.0.1 serving dir (see
// testpeer.InTFTPD); kept for client_bench_test.go.
func clStartInTFTPD(tb testing.TB, dir string, extra ...string) string {
	tb.Helper()
	return testpeer.InTFTPD(tb, "udp4", dir, extra...)
}

// clProgress records what a Client reports.
type clProgress struct {
	calls int
	last  tftp.Progress
}

func (p *clProgress) hook(pr tftp.Progress) {
	p.calls++
	if pr.Bytes < p.last.Bytes {
		panic(fmt.Sprintf("progress went backwards: %d after %d", pr.Bytes, p.last.Bytes))
	}
	p.last = pr
}

// TestClientInTFTPD downloads and uploads the size × blksize × windowsize
// matrix against tftp-hpa's in.tftpd and compares SHA-256 sums. in.tftpd does
// not implement windowsize, so the windowed cases check the fallback to
// lock-step.
func TestClientInTFTPD(t *testing.T) {
	dir := t.TempDir()
	addr := testpeer.InTFTPD(t, "udp4", dir)
	files := map[int][]byte{}
	for _, bs := range []int{512, 1024, 1468, 8192, 65464} {
		for _, size := range clSizes(bs) {
			if _, ok := files[size]; ok {
				continue
			}
			files[size] = clPattern(size, uint64(size))
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", size)), files[size], 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, bs := range []int{512, 1024, 1468, 8192, 65464} {
		for _, size := range clSizes(bs) {
			for _, ws := range []int{1, 4, 16} {
				want := sha256.Sum256(files[size])
				name := fmt.Sprintf("blksize=%d/size=%d/windowsize=%d", bs, size, ws)
				t.Run("get/"+name, func(t *testing.T) {
					var pr clProgress
					c := tftp.Client{BlockSize: bs, WindowSize: ws, TransferSize: true, Progress: pr.hook}
					var buf bytes.Buffer
					n, err := c.Get(tftptest.Context(t, 60*time.Second), addr, fmt.Sprintf("f%d", size), &buf)
					if err != nil {
						t.Fatal(err)
					}
					if n != int64(size) || sha256.Sum256(buf.Bytes()) != want {
						t.Fatalf("got %d bytes (returned %d), want %d with the same SHA-256", buf.Len(), n, size)
					}
					if pr.last.Bytes != int64(size) || pr.last.Total != int64(size) {
						t.Errorf("last progress %+v, want Bytes and Total %d", pr.last, size)
					}
					if pr.last.BlockSize != bs || pr.last.WindowSize != 1 {
						t.Errorf("negotiated blksize %d windowsize %d, want %d and 1 (in.tftpd has no windowsize)", pr.last.BlockSize, pr.last.WindowSize, bs)
					}
					if want := size/bs + 1; pr.calls != want {
						t.Errorf("%d progress calls, want one per block: %d", pr.calls, want)
					}
				})
				t.Run("put/"+name, func(t *testing.T) {
					var pr clProgress
					c := tftp.Client{BlockSize: bs, WindowSize: ws, TransferSize: true, Progress: pr.hook}
					remote := fmt.Sprintf("up-%d-%d-%d", bs, size, ws)
					if err := c.Put(tftptest.Context(t, 60*time.Second), addr, remote, bytes.NewReader(files[size]), int64(size)); err != nil {
						t.Fatal(err)
					}
					got, err := os.ReadFile(filepath.Join(dir, remote))
					if err != nil {
						t.Fatal(err)
					}
					if sha256.Sum256(got) != want {
						t.Fatalf("uploaded file has %d bytes, want %d with the same SHA-256", len(got), size)
					}
					if pr.last.Bytes != int64(size) || pr.last.BlockSize != bs {
						t.Errorf("last progress %+v, want Bytes %d, BlockSize %d", pr.last, size, bs)
					}
				})
			}
		}
	}
}

// TestClientInTFTPDRollover moves a file of more than 65535 blocks (8-byte
// blocks) both ways: the block number must wrap to 0 as in.tftpd does.
func TestClientInTFTPDRollover(t *testing.T) {
	if testing.Short() {
		t.Skip("70,000 round trips")
	}
	dir := t.TempDir()
	addr := testpeer.InTFTPD(t, "udp4", dir)
	data := clPattern(70000*8+5, 7)
	if err := os.WriteFile(filepath.Join(dir, "big"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	c := tftp.Client{BlockSize: 8}
	var buf bytes.Buffer
	if _, err := c.Get(tftptest.Context(t, 120*time.Second), addr, "big", &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("get: %d bytes differ from the %d served", buf.Len(), len(data))
	}
	if err := c.Put(tftptest.Context(t, 120*time.Second), addr, "big-up", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "big-up"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("put: server stored %d bytes, want the %d sent", len(got), len(data))
	}
	// With rollover refused the same file cannot be fetched.
	off := tftp.Client{BlockSize: 8, Rollover: tftp.RolloverOff}
	if _, err := off.Get(tftptest.Context(t, 120*time.Second), addr, "big", &bytes.Buffer{}); err == nil {
		t.Fatal("RolloverOff: a 70,000-block get succeeded")
	}
}

// TestClientInTFTPDNoOptions: with every option refused in.tftpd answers the
// RRQ with DATA 1 (and the WRQ with ACK 0); the client falls back to 512-byte
// lock-step.
func TestClientInTFTPDNoOptions(t *testing.T) {
	dir := t.TempDir()
	addr := testpeer.InTFTPD(t, "udp4", dir, "-r", "blksize", "-r", "tsize", "-r", "timeout", "-r", "blksize2", "-r", "utimeout")
	data := clPattern(5000, 3)
	if err := os.WriteFile(filepath.Join(dir, "plain"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	var pr clProgress
	c := tftp.Client{BlockSize: 1468, WindowSize: 8, Timeout: 2 * time.Second, TransferSize: true, Progress: pr.hook}
	var buf bytes.Buffer
	if _, err := c.Get(tftptest.Context(t, 30*time.Second), addr, "plain", &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Fatal("get without options: data differs")
	}
	if pr.last.BlockSize != 512 || pr.last.WindowSize != 1 || pr.last.Total != -1 {
		t.Errorf("last progress %+v, want blksize 512, windowsize 1, total unknown", pr.last)
	}
	pr = clProgress{}
	if err := c.Put(tftptest.Context(t, 30*time.Second), addr, "plain-up", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "plain-up"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("put without options: stored %d bytes (%v), want %d", len(got), err, len(data))
	}
	if pr.last.BlockSize != 512 || pr.last.Total != int64(len(data)) {
		t.Errorf("put: last progress %+v, want blksize 512, total %d", pr.last, len(data))
	}
}

// TestClientInTFTPDErrors: a missing file is ERROR 1, which is a *tftp.Error
// and matches fs.ErrNotExist.
func TestClientInTFTPDErrors(t *testing.T) {
	dir := t.TempDir()
	addr := testpeer.InTFTPD(t, "udp4", dir)
	var c tftp.Client
	_, err := c.Get(tftptest.Context(t, 30*time.Second), addr, "no-such-file", &bytes.Buffer{})
	var te *tftp.Error
	if !errors.As(err, &te) || te.Code != tftp.ErrNotFound {
		t.Fatalf("get of a missing file: %v, want a *tftp.Error with code 1", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%v does not match fs.ErrNotExist", err)
	}
}

// TestClientInTFTPDNetascii fetches and stores text in netascii mode: the
// file on the server has LF line ends both ways.
func TestClientInTFTPDNetascii(t *testing.T) {
	dir := t.TempDir()
	addr := testpeer.InTFTPD(t, "udp4", dir)
	text := []byte("one\ntwo\r\nthree\rfour\n")
	text = append(text, bytes.Repeat([]byte("line of text\n"), 200)...)
	if err := os.WriteFile(filepath.Join(dir, "text"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	c := tftp.Client{Mode: "netascii", BlockSize: 512}
	var buf bytes.Buffer
	if _, err := c.Get(tftptest.Context(t, 30*time.Second), addr, "text", &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), text) {
		t.Fatalf("netascii get: got %q..., want %q...", buf.Bytes()[:20], text[:20])
	}
	if err := c.Put(tftptest.Context(t, 30*time.Second), addr, "text-up", bytes.NewReader(text), int64(len(text))); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "text-up"))
	if err != nil || !bytes.Equal(got, text) {
		t.Fatalf("netascii put: stored %q... (%v)", got[:min(20, len(got))], err)
	}
}
