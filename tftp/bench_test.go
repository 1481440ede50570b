package tftp

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
)

// BenchmarkTransfer measures a loopback read of a 4 MiB file through the
// server and the in-package client.
func BenchmarkTransfer(b *testing.B) {
	data := pattern(4 << 20)
	srv := &Server{Handler: HandlerFunc(func(*Request) (io.ReaderAt, int64, error) {
		return bytes.NewReader(data), int64(len(data)), nil
	})}
	addr := net.UDPAddrFromAddrPort(startServer(b, srv, "udp4", "127.0.0.1:0"))
	for _, blk := range []int{512, 1468, 65464} {
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
