package tftp_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// countConn counts the DATA packets that really arrive, before a LossyConn
// above it plays with them.
type countConn struct {
	net.PacketConn
	mu       sync.Mutex
	total    int
	distinct map[uint16]bool
}

func (c *countConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(p)
	if err == nil && n >= 4 && binary.BigEndian.Uint16(p) == uint16(tftp.OpDATA) {
		c.mu.Lock()
		c.total++
		c.distinct[binary.BigEndian.Uint16(p[2:])] = true
		c.mu.Unlock()
	}
	return n, a, err
}

// newLossServer makes a server of h for the loss tests: fast timers, many
// retries (only starvation of the test process needs this many), and the
// stats of each transfer sent to stats.
func newLossServer(h tftp.Handler, stats chan<- *tftp.TransferStats) *tftptest.Server {
	srv := tftptest.NewUnstartedServer(h)
	srv.Server.MinTimeout = 2 * time.Millisecond
	srv.Server.Timeout = 50 * time.Millisecond
	srv.Server.Retries = 100
	srv.Server.OnTransfer = func(st *tftp.TransferStats) { stats <- st }
	return srv
}

// startClosing starts srv and closes it when the test ends.
func startClosing(t *testing.T, srv *tftptest.Server) {
	t.Helper()
	srv.Start()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

func lossPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i ^ i>>8 ^ i>>16)
	}
	return b
}

func TestLossyTransfers(t *testing.T) {
	loss := tftptest.Loss{Drop: 0.1, Duplicate: 0.1, Reorder: 0.1}
	for _, blk := range []int{512, 1468, 8192, 65464} {
		for _, win := range []int{1, 4, 16} {
			for _, single := range []bool{false, true} {
				if single && blk != 1468 {
					continue
				}
				name := fmt.Sprintf("blksize%d/window%d", blk, win)
				if single {
					name += "/singleport-lossy-both-sides"
				}
				t.Run(name, func(t *testing.T) {
					seed := int64(blk*100 + win)
					data := lossPattern(blk*24 + 17)
					stats := make(chan *tftp.TransferStats, 1)
					srv := newLossServer(tftp.FileServer(fstest.MapFS{"f": {Data: data}}), stats)
					if single {
						srv.Server.SinglePort = true
						srv = wrapLossy(t, srv, seed+7, loss)
					}
					startClosing(t, srv)
					raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
					if err != nil {
						t.Fatal(err)
					}
					cc := &countConn{PacketConn: raw, distinct: map[uint16]bool{}}
					lc := tftptest.NewLossyConn(cc, seed, loss)
					defer lc.Close()
					opts := tftp.Options{{Name: "blksize", Value: fmt.Sprint(blk)}, {Name: "windowsize", Value: fmt.Sprint(win)}}
					got, err := tftp.ClientGetForTest(lc, net.UDPAddrFromAddrPort(srv.AddrPort), "f", opts, 50*time.Millisecond, 200)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, data) {
						t.Fatalf("got %d bytes, want %d, not byte-exact", len(got), len(data))
					}
					var st *tftp.TransferStats
					select {
					case st = <-stats:
					case <-time.After(20 * time.Second):
						t.Fatal("no stats")
					}
					if st.Outcome != tftp.Completed {
						t.Errorf("outcome %v: %v", st.Outcome, st.Err)
					}
					cc.mu.Lock()
					dups := cc.total - len(cc.distinct)
					cc.mu.Unlock()
					if single {
						// The server's own LossyConn duplicates DATA too.
						dups = 0
					}
					// Every DATA packet seen twice was a counted retransmit ...
					if int64(dups) > st.Retransmits {
						t.Errorf("%d duplicate DATA packets arrived but the server retransmitted only %d", dups, st.Retransmits)
					}
					// ... and retransmits only follow a timer expiry or a
					// window rewind (never a duplicate ACK).
					if win == 1 && (st.Retransmits > st.Timeouts || st.Rewinds != 0) {
						t.Errorf("window 1: %d retransmits, %d timeouts, %d rewinds", st.Retransmits, st.Timeouts, st.Rewinds)
					}
					if st.Retransmits > (st.Timeouts+st.Rewinds)*int64(win) {
						t.Errorf("%d retransmits exceed (timeouts %d + rewinds %d) × window %d", st.Retransmits, st.Timeouts, st.Rewinds, win)
					}
					t.Logf("blocks %d, retransmits %d, timeouts %d, rewinds %d, duplicates seen %d", st.Blocks, st.Retransmits, st.Timeouts, st.Rewinds, dups)
				})
			}
		}
	}
}

// wrapLossy replaces an unstarted server's socket with a lossy one.
func wrapLossy(t *testing.T, s *tftptest.Server, seed int64, loss tftptest.Loss) *tftptest.Server {
	t.Helper()
	// tftptest.Server has no hook for its socket, so serve the lossy conn
	// directly and give the test a shim with the same address.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return tftptest.NewUnstartedServerConn(tftptest.NewLossyConn(pc, seed, loss), s.Server)
}

// gridLender is content that lends its bytes up to the next multiple of
// 4096, like the netboot chunk cache, so blocks straddle lent slices.
type gridLender struct{ data []byte }

func (g gridLender) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(g.data)) {
		return 0, io.EOF
	}
	n := copy(p, g.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (g gridLender) LendAt(off int64, n int) ([]byte, bool) {
	if off < 0 || off >= int64(len(g.data)) {
		return nil, false
	}
	end := min(int64(len(g.data)), off+int64(n), (off/4096+1)*4096)
	return g.data[off:end:end], true
}

// TestLossyLentTransfers: blocks sent straight from lent bytes (header and
// body apart) survive drops, duplicates and reordering: resent and rewound
// blocks are byte-exact, and the lent bytes are never written.
func TestLossyLentTransfers(t *testing.T) {
	loss := tftptest.Loss{Drop: 0.1, Duplicate: 0.1, Reorder: 0.1}
	for _, blk := range []int{512, 1468} {
		for _, win := range []int{1, 4, 16} {
			t.Run(fmt.Sprintf("blksize%d/window%d", blk, win), func(t *testing.T) {
				data := lossPattern(blk*40 + 17)
				want := bytes.Clone(data)
				stats := make(chan *tftp.TransferStats, 1)
				srv := newLossServer(tftp.HandlerFunc(func(r *tftp.Request) (io.ReaderAt, int64, error) {
					return gridLender{data}, int64(len(data)), nil
				}), stats)
				startClosing(t, srv)
				raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				lc := tftptest.NewLossyConn(raw, int64(blk+win), loss)
				defer lc.Close()
				opts := tftp.Options{{Name: "blksize", Value: fmt.Sprint(blk)}, {Name: "windowsize", Value: fmt.Sprint(win)}}
				got, err := tftp.ClientGetForTest(lc, net.UDPAddrFromAddrPort(srv.AddrPort), "f", opts, 50*time.Millisecond, 200)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("got %d bytes, want %d, not byte-exact", len(got), len(want))
				}
				if !bytes.Equal(data, want) {
					t.Fatal("the lent bytes were written")
				}
				select {
				case st := <-stats:
					if st.Outcome != tftp.Completed || st.Retransmits == 0 {
						t.Errorf("outcome %v (%v), %d retransmits: want completed with some", st.Outcome, st.Err, st.Retransmits)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("no stats")
				}
			})
		}
	}
}
