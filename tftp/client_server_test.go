package tftp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// clOwnServer starts the project's server over dir with uploads into up,
// configured by cfg, on pc (a fresh loopback socket when nil).
func clOwnServer(t testing.TB, dir, up string, pc net.PacketConn, cfg func(*tftp.Server)) *tftptest.Server {
	t.Helper()
	if pc == nil {
		var err error
		pc, err = net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
	}
	srv := &tftp.Server{Handler: tftp.FileServer(os.DirFS(dir)), WriteHandler: tftp.DirWriter(up)}
	if cfg != nil {
		cfg(srv)
	}
	ts := tftptest.NewUnstartedServerConn(pc, srv)
	ts.Start()
	ts.CloseAtEnd(t)
	return ts
}

// TestClientOwnServer runs the client against the project's server over the
// size × blksize × windowsize matrix, both ways.
func TestClientOwnServer(t *testing.T) {
	dir, up := t.TempDir(), t.TempDir()
	ts := clOwnServer(t, dir, up, nil, nil)
	for _, bs := range []int{512, 1468, 65464} {
		for _, size := range clSizes(bs) {
			body := clPattern(size, uint64(size))
			name := fmt.Sprintf("f%d", size)
			if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256(body)
			for _, ws := range []int{1, 4, 16} {
				tc := fmt.Sprintf("blksize=%d/size=%d/windowsize=%d", bs, size, ws)
				t.Run("get/"+tc, func(t *testing.T) {
					var pr clProgress
					c := tftp.Client{BlockSize: bs, WindowSize: ws, TransferSize: true, Progress: pr.hook}
					var buf bytes.Buffer
					if _, err := c.Get(tftptest.Context(t, 60*time.Second), ts.Addr, name, &buf); err != nil {
						t.Fatal(err)
					}
					if sha256.Sum256(buf.Bytes()) != want {
						t.Fatalf("got %d bytes, want %d with the same SHA-256", buf.Len(), size)
					}
					if pr.last.BlockSize != bs || pr.last.WindowSize != ws || pr.last.Total != int64(size) {
						t.Errorf("last progress %+v, want blksize %d, windowsize %d, total %d", pr.last, bs, ws, size)
					}
				})
				t.Run("put/"+tc, func(t *testing.T) {
					remote := fmt.Sprintf("up-%d-%d-%d", bs, size, ws)
					c := tftp.Client{BlockSize: bs, WindowSize: ws, TransferSize: true}
					if err := c.Put(tftptest.Context(t, 60*time.Second), ts.Addr, remote, bytes.NewReader(body), int64(size)); err != nil {
						t.Fatal(err)
					}
					got, err := os.ReadFile(filepath.Join(up, remote))
					if err != nil || sha256.Sum256(got) != want {
						t.Fatalf("stored %d bytes (%v), want %d with the same SHA-256", len(got), err, size)
					}
				})
			}
		}
	}
	// An upload the server refuses: the name exists (DirWriter is create-only).
	c := tftp.Client{}
	err := c.Put(tftptest.Context(t, 30*time.Second), ts.Addr, "up-512-0-1", bytes.NewReader(nil), 0)
	var te *tftp.Error
	if !errors.As(err, &te) || te.Code != tftp.ErrFileExists {
		t.Errorf("put over an existing file: %v, want ERROR 6", err)
	}
}

// TestClientOwnServerRollover moves more than 65535 blocks (8-byte blocks)
// both ways, with the server's and client's rollover to 0 and to 1, in
// lock-step and with a window that straddles the wrap.
func TestClientOwnServerRollover(t *testing.T) {
	if testing.Short() {
		t.Skip("70,000 blocks per transfer")
	}
	body := clPattern(70000*8+3, 11)
	for _, tc := range []struct {
		roll tftp.Rollover
		ws   int
	}{{tftp.RolloverZero, 1}, {tftp.RolloverZero, 7}, {tftp.RolloverOne, 7}} {
		t.Run(fmt.Sprintf("%v/windowsize=%d", tc.roll, tc.ws), func(t *testing.T) {
			dir, up := t.TempDir(), t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "big"), body, 0o644); err != nil {
				t.Fatal(err)
			}
			ts := clOwnServer(t, dir, up, nil, func(s *tftp.Server) { s.Rollover = tc.roll })
			c := tftp.Client{BlockSize: 8, WindowSize: tc.ws, Rollover: tc.roll}
			var buf bytes.Buffer
			if _, err := c.Get(tftptest.Context(t, 120*time.Second), ts.Addr, "big", &buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), body) {
				t.Fatalf("get: %d bytes differ from the %d served", buf.Len(), len(body))
			}
			if err := c.Put(tftptest.Context(t, 120*time.Second), ts.Addr, "big", bytes.NewReader(body), int64(len(body))); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(up, "big"))
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("put: stored %d bytes (%v), want %d", len(got), err, len(body))
			}
		})
	}
}

// TestClientOwnServerLossy runs transfers through a server socket that
// drops, duplicates and reorders packets both ways (all transfers go through
// it: SinglePort).
func TestClientOwnServerLossy(t *testing.T) {
	body := clPattern(60_000, 21)
	for _, tc := range []struct{ bs, ws int }{{512, 1}, {1468, 1}, {512, 4}, {1468, 8}} {
		t.Run(fmt.Sprintf("blksize=%d/windowsize=%d", tc.bs, tc.ws), func(t *testing.T) {
			dir, up := t.TempDir(), t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "f"), body, 0o644); err != nil {
				t.Fatal(err)
			}
			pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			lossy := tftptest.NewLossyConn(pc, int64(tc.bs*tc.ws), tftptest.Loss{Drop: 0.03, Duplicate: 0.03, Reorder: 0.03})
			ts := clOwnServer(t, dir, up, lossy, func(s *tftp.Server) {
				s.SinglePort = true
				// The server dallies one retransmit timeout after the
				// final ACK of an upload; it must outlast the client's
				// 100ms timer, or a lost final ACK leaves the client
				// resending its last block into ERROR 5.
				s.Timeout = 250 * time.Millisecond
				s.MinTimeout = 250 * time.Millisecond
				s.Retries = 20
			})
			c := tftp.Client{BlockSize: tc.bs, WindowSize: tc.ws, Timeout: 100 * time.Millisecond, Retries: 20}
			var buf bytes.Buffer
			if _, err := c.Get(tftptest.Context(t, 120*time.Second), ts.Addr, "f", &buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), body) {
				t.Fatalf("get: %d bytes differ from the %d served", buf.Len(), len(body))
			}
			if err := c.Put(tftptest.Context(t, 120*time.Second), ts.Addr, "f-up", bytes.NewReader(body), int64(len(body))); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(up, "f-up"))
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("put: stored %d bytes (%v), want %d", len(got), err, len(body))
			}
		})
	}
}

// TestClientOwnServerCancel cancels a Get and a Put after a few blocks: the
// client returns context.Canceled, the server sees the transfer aborted by
// the client (ERROR 0), and nothing is left in the upload directory.
func TestClientOwnServerCancel(t *testing.T) {
	dir, up := t.TempDir(), t.TempDir()
	body := clPattern(512*100, 4)
	if err := os.WriteFile(filepath.Join(dir, "f"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	outcomes := map[tftp.Opcode]chan tftp.Outcome{tftp.OpRRQ: make(chan tftp.Outcome, 1), tftp.OpWRQ: make(chan tftp.Outcome, 1)}
	ts := clOwnServer(t, dir, up, nil, func(s *tftp.Server) {
		s.OnTransfer = func(st *tftp.TransferStats) {
			mu.Lock()
			defer mu.Unlock()
			outcomes[st.Op] <- st.Outcome
		}
	})
	for _, op := range []tftp.Opcode{tftp.OpRRQ, tftp.OpWRQ} {
		t.Run(op.String(), func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			c := tftp.Client{BlockSize: 512, Progress: func(p tftp.Progress) {
				if p.Block == 10 {
					cancel()
				}
			}}
			var err error
			if op == tftp.OpRRQ {
				_, err = c.Get(ctx, ts.Addr, "f", &bytes.Buffer{})
			} else {
				err = c.Put(ctx, ts.Addr, "cancelled", bytes.NewReader(body), int64(len(body)))
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want context.Canceled", err)
			}
			select {
			case o := <-outcomes[op]:
				if o != tftp.Aborted {
					t.Errorf("server outcome %v, want %v", o, tftp.Aborted)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the server did not report the transfer")
			}
		})
	}
	if ents, err := os.ReadDir(up); err != nil || len(ents) != 0 {
		t.Errorf("upload directory after a cancelled put: %v (%v), want empty", ents, err)
	}
}

// TestClientConcurrent shares one Client among several goroutines fetching
// at once.
func TestClientConcurrent(t *testing.T) {
	dir := t.TempDir()
	bodies := make([][]byte, 6)
	for i := range bodies {
		bodies[i] = clPattern(100_000+i*1000, uint64(i))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), bodies[i], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ts := clOwnServer(t, dir, t.TempDir(), nil, nil)
	c := tftp.Client{WindowSize: 4}
	ctx := tftptest.Context(t, 60*time.Second)
	errs := make(chan error, len(bodies))
	for i := range bodies {
		go func() {
			var buf bytes.Buffer
			_, err := c.Get(ctx, ts.Addr, fmt.Sprint(i), &buf)
			if err == nil && !bytes.Equal(buf.Bytes(), bodies[i]) {
				err = fmt.Errorf("file %d: got %d bytes, want %d", i, buf.Len(), len(bodies[i]))
			}
			errs <- err
		}()
	}
	for range bodies {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
