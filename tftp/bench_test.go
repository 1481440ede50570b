package tftp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
)

// BenchmarkTransfer measures a loopback read of a 4 MiB file through the
// server and the in-package client.
func BenchmarkTransfer(b *testing.B) {
	benchTransfer(b, false, []int{512, 1468, 65464})
}

// BenchmarkTransferSinglePort is BenchmarkTransfer through the main socket.
func BenchmarkTransferSinglePort(b *testing.B) {
	benchTransfer(b, true, []int{1468})
}

func benchTransfer(b *testing.B, single bool, sizes []int) {
	data := pattern(4 << 20)
	srv := &Server{SinglePort: single, Handler: HandlerFunc(func(*Request) (io.ReaderAt, int64, error) {
		return bytes.NewReader(data), int64(len(data)), nil
	})}
	addr := net.UDPAddrFromAddrPort(startServer(b, srv, "udp4", "127.0.0.1:0"))
	for _, blk := range sizes {
		for _, win := range []int{1, 16} {
			b.Run(fmt.Sprintf("blksize=%d/window=%d", blk, win), func(b *testing.B) {
				opts := Options{{"blksize", fmt.Sprint(blk)}, {"windowsize", fmt.Sprint(win)}}
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					// A new port per transfer, as real clients do.
					pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
					if err != nil {
						b.Fatal(err)
					}
					// A windowed client must be able to queue a whole
					// window (16 × 64 KiB overflows the default 208 KiB).
					if err := pc.(*net.UDPConn).SetReadBuffer(4 << 20); err != nil {
						b.Fatal(err)
					}
					res, err := clientGet(pc, addr, "f", getOpts{opts: opts})
					pc.Close()
					if err != nil {
						b.Fatal(err)
					}
					if len(res.data) != len(data) {
						b.Fatalf("got %d bytes", len(res.data))
					}
				}
			})
		}
	}
}

// fastGet is an allocation-free lock-step reader (window 1, no options), so
// that allocations measured by BenchmarkServerHotPath are the server's.
func fastGet(conn *net.UDPConn, srv netip.AddrPort, req, buf, ack []byte) (int64, error) {
	if _, err := conn.WriteToUDPAddrPort(req, srv); err != nil {
		return 0, err
	}
	var total int64
	for want := uint16(1); ; want++ {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return total, err
		}
		blk, data, err := ParseData(buf[:n])
		if err != nil || blk != want {
			return total, errors.New("unexpected packet")
		}
		total += int64(len(data))
		ack = AppendAck(ack[:0], blk)
		if _, err := conn.WriteToUDPAddrPort(ack, from); err != nil {
			return total, err
		}
		if len(data) < DefaultBlockSize {
			return total, nil
		}
	}
}

// BenchmarkServerHotPath reports allocations per transfer of 1 MiB in
// 512-byte blocks (2049 blocks): a constant handful means the per-block
// path allocates nothing.
func BenchmarkServerHotPath(b *testing.B) {
	data := pattern(1 << 20)
	srv := &Server{Handler: HandlerFunc(func(*Request) (io.ReaderAt, int64, error) {
		return bytes.NewReader(data), int64(len(data)), nil
	})}
	ap := startServer(b, srv, "udp4", "127.0.0.1:0")
	req := AppendRequest(nil, OpRRQ, "f", "octet", nil)
	buf, ack := make([]byte, 1024), make([]byte, 0, 4)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		n, err := fastGet(conn, ap, req, buf, ack)
		conn.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatal(n, err)
		}
	}
}

// TestServerAllocsPerBlock guards the per-block path: a lock-step transfer
// of 2049 blocks may allocate a handful of objects for the transfer, never
// one per block (a closure made per wait of an event loop once cost three),
// whether the content is read with ReadAt or lends its bytes (Lender).
func TestServerAllocsPerBlock(t *testing.T) {
	data := pattern(1 << 20)
	for _, tc := range []struct {
		name    string
		content func() io.ReaderAt
	}{
		{"ReaderAt", func() io.ReaderAt { return bytes.NewReader(data) }},
		{"Lender", func() io.ReaderAt { return &lendingReaderAt{data: data, grid: 64 << 10} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &Server{Handler: HandlerFunc(func(*Request) (io.ReaderAt, int64, error) {
				return tc.content(), int64(len(data)), nil
			})}
			ap := startServer(t, srv, "udp4", "127.0.0.1:0")
			req := AppendRequest(nil, OpRRQ, "f", "octet", nil)
			buf, ack := make([]byte, 1024), make([]byte, 0, 4)
			var failed error
			allocs := testing.AllocsPerRun(3, func() {
				conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					failed = err
					return
				}
				n, err := fastGet(conn, ap, req, buf, ack)
				conn.Close()
				if err == nil && n != int64(len(data)) {
					err = fmt.Errorf("got %d bytes, want %d", n, len(data))
				}
				if err != nil {
					failed = err
				}
			})
			if failed != nil {
				t.Fatal(failed)
			}
			const blocks = 1<<20/DefaultBlockSize + 1
			t.Logf("%.0f allocations per transfer of %d blocks", allocs, blocks)
			if allocs > blocks/8 {
				t.Errorf("%.0f allocations for a transfer of %d blocks: the per-block path allocates", allocs, blocks)
			}
		})
	}
}
