package pisim

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// benchServer serves Files(m) for serials on a tftptest server.
func benchServer(b *testing.B, m Model, serials []string) (*tftptest.Server, Manifest) {
	b.Helper()
	files := Files(m, 0, 0, 1)
	fsys := fstest.MapFS{}
	for _, s := range serials {
		layout(fsys, s, files)
	}
	return tftptest.Start(b, tftp.FileServer(fsys)), NewManifest(files)
}

// BenchmarkBoot boots one board at a time; bytes/s counts verified file
// bytes.
func BenchmarkBoot(b *testing.B) {
	for _, m := range []Model{Pi3BPlus, Pi4, Pi5} {
		b.Run(m.String(), func(b *testing.B) {
			srv, man := benchServer(b, m, []string{"1234abcd"})
			board := &Board{Model: m, Serial: "1234abcd", Server: srv.Addr, Expect: man}
			var bytes int64
			for b.Loop() {
				res, err := board.Boot(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				bytes = res.Bytes
			}
			b.SetBytes(bytes)
		})
	}
}

// BenchmarkStorm boots 50 Pi 4s at once per iteration.
func BenchmarkStorm(b *testing.B) {
	const boards = 50
	serials := make([]string, boards)
	for i := range serials {
		serials[i] = fmt.Sprintf("%08x", 0xdc000000+i)
	}
	srv, man := benchServer(b, Pi4, serials)
	var bytes int64
	for b.Loop() {
		var wg sync.WaitGroup
		res := make([]*Result, boards)
		errs := make([]error, boards)
		for i := range boards {
			wg.Add(1)
			go func() {
				defer wg.Done()
				board := &Board{Model: Pi4, Serial: serials[i], Server: srv.Addr, Expect: man}
				res[i], errs[i] = board.Boot(context.Background())
			}()
		}
		wg.Wait()
		bytes = 0
		for i, err := range errs {
			if err != nil {
				b.Fatalf("board %s: %v", serials[i], err)
			}
			bytes += res[i].Bytes
		}
	}
	b.SetBytes(bytes)
}
