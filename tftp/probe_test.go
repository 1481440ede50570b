package tftp_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// probeRecorder wraps a handler, recording each request's options as the
// client sent them, and collects the server's transfer statistics.
type probeRecorder struct {
	mu        sync.Mutex
	opts      []tftp.Options
	transfers tftptest.Transfers
	log       *tftptest.LogBuffer // the server's log at Info level and above
}

func newProbeServer(t *testing.T, h tftp.Handler) (*tftptest.Server, *probeRecorder) {
	t.Helper()
	rec := &probeRecorder{log: &tftptest.LogBuffer{}}
	srv := tftptest.NewUnstartedServer(tftp.HandlerFunc(func(r *tftp.Request) (io.ReaderAt, int64, error) {
		rec.mu.Lock()
		rec.opts = append(rec.opts, append(tftp.Options(nil), r.Options...))
		rec.mu.Unlock()
		return h.ServeTFTP(r)
	}))
	// Only Info and above: a probe's abort must stay below.
	srv.Server.Logger = slog.New(slog.NewTextHandler(rec.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv.Server.OnTransfer = rec.transfers.Record
	srv.Start()
	srv.CloseAtEnd(t)
	return srv, rec
}

// wait waits until n transfers have finished in all and returns their
// stats.
func (r *probeRecorder) wait(t *testing.T, n int) []*tftp.TransferStats {
	t.Helper()
	return r.transfers.Wait(t, n, 5*time.Second)
}

func TestProbeSize(t *testing.T) {
	fsys := fstest.MapFS{
		"1234abcd/start4.elf": {Data: make([]byte, 70000)},
		"empty":               {Data: nil},
	}
	srv, rec := newProbeServer(t, tftp.FileServer(fsys))
	cases := []struct {
		blksize  int
		file     string
		size     int64
		wantOpts string
	}{
		{1024, "1234abcd/start4.elf", 70000, "tsize=0 blksize=1024"},
		{1468, "/1234abcd/start4.elf", 70000, "tsize=0 blksize=1468"},
		{512, "empty", 0, "tsize=0"},
	}
	for i, tc := range cases {
		c := &tftp.Client{BlockSize: tc.blksize}
		size, err := c.Probe(context.Background(), srv.Addr, tc.file)
		if err != nil {
			t.Fatalf("probe %q: %v", tc.file, err)
		}
		if size != tc.size {
			t.Errorf("probe %q: size %d, want %d", tc.file, size, tc.size)
		}
		st := rec.wait(t, i+1)[i]
		if st.Outcome != tftp.Aborted {
			t.Errorf("probe %q: server saw outcome %v (%v), want aborted", tc.file, st.Outcome, st.Err)
		}
		var te *tftp.Error
		if !errors.As(st.Err, &te) || te.Code != tftp.ErrUndefined || te.Message != tftp.EarlyTerminate {
			t.Errorf("probe %q: server's error %v, want the client's ERROR 0 %q", tc.file, st.Err, tftp.EarlyTerminate)
		}
		if st.Bytes != 0 {
			t.Errorf("probe %q: server sent %d bytes of data", tc.file, st.Bytes)
		}
		rec.mu.Lock()
		got := rec.opts[i].Text()
		rec.mu.Unlock()
		if got != tc.wantOpts {
			t.Errorf("probe %q: request options %q, want %q", tc.file, got, tc.wantOpts)
		}
	}
	if n := srv.Server.Stats().Aborted; n != int64(len(cases)) {
		t.Errorf("server counted %d aborted transfers, want %d", n, len(cases))
	}
	if n := srv.Server.Stats().Failed; n != 0 {
		t.Errorf("server counted %d failed transfers, want 0", n)
	}
	if l := rec.log.String(); l != "" {
		t.Errorf("the server logged probes at Info level or above:\n%s", l)
	}
}

func TestProbeMissing(t *testing.T) {
	srv, rec := newProbeServer(t, tftp.FileServer(fstest.MapFS{"a": {Data: []byte("x")}}))
	c := &tftp.Client{BlockSize: 1024}
	size, err := c.Probe(context.Background(), srv.Addr, "1234abcd/start4.elf")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("probe of a missing file: size %d, err %v; want fs.ErrNotExist", size, err)
	}
	var te *tftp.Error
	if !errors.As(err, &te) || te.Code != tftp.ErrNotFound {
		t.Fatalf("probe of a missing file: err %v, want a *tftp.Error with code 1", err)
	}
	if !strings.Contains(err.Error(), "1234abcd/start4.elf") {
		t.Errorf("error %q does not name the file", err)
	}
	if st := rec.wait(t, 1)[0]; st.Outcome != tftp.Failed {
		t.Errorf("server saw outcome %v, want failed (refused)", st.Outcome)
	}
	if l := rec.log.String(); !strings.Contains(l, "start4.elf") {
		t.Errorf("the server's Info log %q does not show the refused request (is the log captured?)", l)
	}
}

func TestProbeUnknownSize(t *testing.T) {
	h := tftp.HandlerFunc(func(r *tftp.Request) (io.ReaderAt, int64, error) {
		return strings.NewReader("stream"), -1, nil
	})
	srv, rec := newProbeServer(t, h)
	size, err := (&tftp.Client{BlockSize: 1024}).Probe(context.Background(), srv.Addr, "stream")
	if err != nil || size != -1 {
		t.Fatalf("probe: size %d, err %v; want -1, nil (OACK without tsize)", size, err)
	}
	if st := rec.wait(t, 1)[0]; st.Outcome != tftp.Aborted {
		t.Errorf("server saw outcome %v, want aborted", st.Outcome)
	}
}

// scripted is a server that answers each request with what reply returns,
// sent from a new transfer socket, and hands the client's next packet to
// the test.
type scripted struct {
	pc   net.PacketConn
	got  chan tftp.Packet // packets the client sent to a transfer socket
	reqs chan *tftp.RequestPacket
}

func newScripted(t *testing.T, reply func(n int, rq *tftp.RequestPacket) tftp.Packet) *scripted {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{pc: pc, got: make(chan tftp.Packet, 16), reqs: make(chan *tftp.RequestPacket, 16)}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() { close(done); pc.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for n := 0; n < 16; n++ {
			m, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			p, err := tftp.ParsePacket(buf[:m])
			if err != nil {
				continue
			}
			rq, ok := p.(*tftp.RequestPacket)
			if !ok {
				continue
			}
			s.reqs <- rq
			out := reply(n, rq)
			if out == nil {
				continue // silence
			}
			tc, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				return
			}
			if _, err := tc.WriteTo(out.AppendTo(nil), from); err != nil {
				tc.Close()
				return
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-done
				tc.Close() // ends the reader below
			}()
			go func() {
				defer wg.Done()
				b := make([]byte, 2048)
				if err := tc.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
					return
				}
				k, _, err := tc.ReadFrom(b)
				if err != nil {
					return
				}
				if p, err := tftp.ParsePacket(b[:k]); err == nil {
					s.got <- p
				}
			}()
		}
	}()
	return s
}

func (s *scripted) next(t *testing.T, what string) tftp.Packet {
	t.Helper()
	select {
	case p := <-s.got:
		return p
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s from the client within 5s", what)
		return nil
	}
}

func wantEarlyTerminate(t *testing.T, p tftp.Packet) {
	t.Helper()
	e, ok := p.(*tftp.Error)
	if !ok || e.Code != tftp.ErrUndefined || e.Message != tftp.EarlyTerminate {
		t.Fatalf("client sent %#v to the transfer port, want ERROR 0 %q", p, tftp.EarlyTerminate)
	}
}

func TestProbeOptionsIgnored(t *testing.T) {
	s := newScripted(t, func(int, *tftp.RequestPacket) tftp.Packet {
		return &tftp.DataPacket{Block: 1, Data: make([]byte, 512)}
	})
	size, err := (&tftp.Client{BlockSize: 1024}).Probe(context.Background(), s.pc.LocalAddr().String(), "f")
	if err != nil || size != -1 {
		t.Fatalf("probe: size %d, err %v; want -1, nil", size, err)
	}
	wantEarlyTerminate(t, s.next(t, "ERROR"))
}

func TestProbeRetriesAndOptionRefusal(t *testing.T) {
	// The first request goes unanswered, the second is refused with
	// ERROR 8, the third (without options) gets DATA 1.
	s := newScripted(t, func(n int, rq *tftp.RequestPacket) tftp.Packet {
		switch n {
		case 0:
			return nil
		case 1:
			return &tftp.Error{Code: tftp.ErrOption, Message: "no options here"}
		}
		return &tftp.DataPacket{Block: 1, Data: []byte("short")}
	})
	c := &tftp.Client{BlockSize: 1024, Timeout: 50 * time.Millisecond, Retries: 3}
	size, err := c.Probe(context.Background(), s.pc.LocalAddr().String(), "f")
	if err != nil || size != -1 {
		t.Fatalf("probe: size %d, err %v; want -1, nil", size, err)
	}
	var got []string
	for i := 0; i < 3; i++ {
		select {
		case rq := <-s.reqs:
			got = append(got, rq.Options.Text())
		case <-time.After(5 * time.Second):
			t.Fatalf("server got %d requests, want 3", i)
		}
	}
	want := []string{"tsize=0 blksize=1024", "tsize=0 blksize=1024", ""}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("requests' options %q, want %q", got, want)
		}
	}
	wantEarlyTerminate(t, s.next(t, "ERROR after DATA 1"))
}

func TestProbeTimeout(t *testing.T) {
	s := newScripted(t, func(int, *tftp.RequestPacket) tftp.Packet { return nil })
	c := &tftp.Client{Timeout: 20 * time.Millisecond, Retries: 2}
	_, err := c.Probe(context.Background(), s.pc.LocalAddr().String(), "f")
	if err == nil || !strings.Contains(err.Error(), "no reply") {
		t.Fatalf("probe of a silent server: %v, want a no-reply error", err)
	}
	for i := 0; i < 3; i++ { // the request and 2 retries
		select {
		case <-s.reqs:
		case <-time.After(5 * time.Second):
			t.Fatalf("server got %d requests, want 3 (1 + 2 retries)", i)
		}
	}
}

func TestProbeCancel(t *testing.T) {
	s := newScripted(t, func(int, *tftp.RequestPacket) tftp.Packet { return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := (&tftp.Client{}).Probe(ctx, s.pc.LocalAddr().String(), "f")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("probe with a short context: %v, want context.DeadlineExceeded", err)
	}
}
