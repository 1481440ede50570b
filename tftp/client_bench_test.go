package tftp_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nobodd-go/nobodd-go/tftp"
)

// BenchmarkClientGet measures tftp.Client fetching a 4 MiB file over
// loopback from the project's server and, for comparison, from tftp-hpa's
// in.tftpd (which has no windowsize).
func BenchmarkClientGet(b *testing.B) {
	body := clPattern(4<<20, 1)
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), body, 0o644); err != nil {
		b.Fatal(err)
	}
	servers := map[string]string{
		"own":      clOwnServer(b, dir, b.TempDir(), nil, nil).Addr,
		"in.tftpd": clStartInTFTPD(b, dir),
	}
	for _, name := range []string{"own", "in.tftpd"} {
		for _, bs := range []int{512, 1468, 65464} {
			for _, ws := range []int{1, 16} {
				if name == "in.tftpd" && ws > 1 {
					continue
				}
				b.Run(fmt.Sprintf("server=%s/blksize=%d/windowsize=%d", name, bs, ws), func(b *testing.B) {
					c := tftp.Client{BlockSize: bs, WindowSize: ws}
					var buf bytes.Buffer
					b.SetBytes(int64(len(body)))
					for b.Loop() {
						buf.Reset()
						if _, err := c.Get(b.Context(), servers[name], "f", &buf); err != nil {
							b.Fatal(err)
						}
						if buf.Len() != len(body) {
							b.Fatalf("got %d bytes", buf.Len())
						}
					}
				})
			}
		}
	}
}
