package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

func newFileServer(t *testing.T, files map[string][]byte) *tftptest.Server {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, b := range files {
		fsys[name] = &fstest.MapFile{Data: b}
	}
	return tftptest.Start(t, tftp.FileServer(fsys))
}

func TestTransfersAgainstServer(t *testing.T) {
	data := fixture.Pseudo(1, 150_000+7)
	s := newFileServer(t, map[string][]byte{"kernel.img": data})
	d := Digest{Size: int64(len(data)), Sum: sha256.Sum256(data)}
	tr := &Transfer{Client: tftp.Client{BlockSize: 1468}, Addr: s.Addr, File: "kernel.img", Expect: &d}
	res, err := Run(t.Context(), Load{Total: 12, Concurrency: 4, JobTimeout: 30 * time.Second, Deadline: time.Minute}, tr.Job)
	if err != nil {
		t.Fatal(err)
	}
	sum := Summarize(res)
	if sum.OK != 12 || sum.Failed != 0 || sum.NotRun != 0 || len(sum.Failures) != 0 {
		t.Fatalf("summary %+v, want 12 OK and no failures", sum)
	}
	if want := int64(12 * len(data)); sum.Bytes != want || sum.Files != 12 {
		t.Errorf("bytes %d files %d, want %d and 12", sum.Bytes, sum.Files, want)
	}
	if sum.P50 <= 0 || sum.P50 > sum.P99 || sum.P99 > sum.Max {
		t.Errorf("percentiles p50 %v p99 %v max %v out of order", sum.P50, sum.P99, sum.Max)
	}
	// The same without an expected digest: every transfer agrees.
	tr.Expect = nil
	res, err = Run(t.Context(), Load{Total: 6, Concurrency: 3, JobTimeout: 30 * time.Second}, tr.Job)
	if err != nil {
		t.Fatal(err)
	}
	ref, ok := VerifyMajority(res)
	if !ok || ref != d.Sum {
		t.Errorf("majority digest %x (%v), want %x", ref, ok, d.Sum)
	}
	if sum := Summarize(res); sum.OK != 6 {
		t.Errorf("learned digest: %d OK of 6, failures %v", sum.OK, sum.Failures)
	}
}

// corruptOnce serves data, except that request number bad (counting from
// 1) gets a copy with one byte flipped.
func corruptOnce(data []byte, bad int64) tftp.Handler {
	var n atomic.Int64
	return tftp.HandlerFunc(func(r *tftp.Request) (io.ReaderAt, int64, error) {
		b := data
		if n.Add(1) == bad {
			b = bytes.Clone(data)
			b[len(b)/2] ^= 0x40
		}
		return bytes.NewReader(b), int64(len(b)), nil
	})
}

func TestCorruptedByte(t *testing.T) {
	data := fixture.Pseudo(2, 40_000)
	d := Digest{Size: int64(len(data)), Sum: sha256.Sum256(data)}
	for _, expect := range []*Digest{&d, nil} {
		s := tftptest.Start(t, corruptOnce(data, 5))
		tr := &Transfer{Client: tftp.Client{BlockSize: 1024}, Addr: s.Addr, File: "f", Expect: expect}
		res, err := Run(t.Context(), Load{Total: 16, Concurrency: 4, JobTimeout: 30 * time.Second}, tr.Job)
		if err != nil {
			t.Fatal(err)
		}
		if expect == nil {
			if ref, ok := VerifyMajority(res); !ok || ref != d.Sum {
				t.Errorf("majority digest %x, want %x", ref, d.Sum)
			}
		}
		sum := Summarize(res)
		if sum.Failed != 1 || sum.Failures[CauseHashMismatch] != 1 || len(sum.Failures) != 1 {
			t.Errorf("expect given %v: failed %d, failures %v; want exactly one hash mismatch", expect != nil, sum.Failed, sum.Failures)
		}
		if sum.Bytes != int64(16*len(data)) {
			t.Errorf("bytes %d, want %d", sum.Bytes, 16*len(data))
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestMissingFile(t *testing.T) {
	s := newFileServer(t, map[string][]byte{"there": []byte("x")})
	tr := &Transfer{Addr: s.Addr, File: "not-there"}
	res, err := Run(t.Context(), Load{Total: 5, Concurrency: 5, JobTimeout: 10 * time.Second}, tr.Job)
	if err != nil {
		t.Fatal(err)
	}
	sum := Summarize(res)
	if sum.Failed != 5 || sum.Failures[CauseNotFound] != 5 {
		t.Errorf("failures %v (failed %d), want 5 not found", sum.Failures, sum.Failed)
	}
}

func TestServerErrorCause(t *testing.T) {
	s := tftptest.NewServer(tftp.HandlerFunc(func(*tftp.Request) (io.ReaderAt, int64, error) {
		return nil, 0, &tftp.Error{Code: tftp.ErrAccess, Message: "go away"}
	}))
	defer s.Close()
	tr := &Transfer{Addr: s.Addr, File: "f"}
	res, err := Run(t.Context(), Load{Total: 2}, tr.Job)
	if err != nil {
		t.Fatal(err)
	}
	if got := Summarize(res).Failures["error 2: go away"]; got != 2 {
		t.Errorf("failures %v, want 2 of \"error 2: go away\"", Summarize(res).Failures)
	}
}

// silent returns the address of a UDP socket that never answers.
func silent(t *testing.T) string {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

func TestStalledServer(t *testing.T) {
	addr := silent(t)
	t.Run("file deadline", func(t *testing.T) {
		tr := &Transfer{Addr: addr, File: "f"}
		done := make(chan *Result, 1)
		go func() {
			res, err := Run(t.Context(), Load{Total: 6, Concurrency: 3, JobTimeout: 200 * time.Millisecond, Deadline: 20 * time.Second}, tr.Job)
			if err != nil {
				t.Error(err)
			}
			done <- res
		}()
		select {
		case res := <-done:
			if res == nil {
				return
			}
			sum := Summarize(res)
			if sum.Failures[CauseTimeout] != 6 || sum.OK != 0 {
				t.Errorf("failures %v, OK %d; want 6 timeouts", sum.Failures, sum.OK)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return")
		}
	})
	t.Run("client retries", func(t *testing.T) {
		tr := &Transfer{Client: tftp.Client{Timeout: 50 * time.Millisecond, Retries: 1}, Addr: addr, File: "f"}
		res, err := Run(t.Context(), Load{Total: 2, JobTimeout: 20 * time.Second}, tr.Job)
		if err != nil {
			t.Fatal(err)
		}
		if sum := Summarize(res); sum.Failures[CauseTimeout] != 2 {
			t.Errorf("failures %v, want 2 timeouts", sum.Failures)
		}
	})
	t.Run("total deadline", func(t *testing.T) {
		tr := &Transfer{Addr: addr, File: "f"}
		res, err := Run(t.Context(), Load{Total: 50, Concurrency: 2, JobTimeout: 20 * time.Second, Deadline: 300 * time.Millisecond}, tr.Job)
		if err != nil {
			t.Fatal(err)
		}
		sum := Summarize(res)
		if sum.Failures[CauseDeadline] != 2 || sum.NotRun != 48 {
			t.Errorf("failures %v, not run %d; want 2 deadline and 48 not run", sum.Failures, sum.NotRun)
		}
	})
}

func TestLoadValidation(t *testing.T) {
	for _, l := range []Load{{Concurrency: -1}, {Total: -2}, {Deadline: -time.Second}} {
		if _, err := Run(t.Context(), l, func(context.Context, int) Outcome { return Outcome{} }); err == nil {
			t.Errorf("Run(%+v) accepted", l)
		}
	}
}

func TestRank(t *testing.T) {
	for _, c := range []struct{ n, p, want int }{{1, 50, 0}, {1, 99, 0}, {2, 50, 0}, {100, 50, 49}, {100, 99, 98}, {1000, 99, 989}, {3, 99, 2}} {
		if got := rank(c.n, c.p); got != c.want {
			t.Errorf("rank(%d, %d) = %d, want %d", c.n, c.p, got, c.want)
		}
	}
}
