package tftp_test

import (
	"bytes"
	"net"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// BenchmarkLossyPi4File measures how long a Pi 4-style read (blksize 1024,
// lock-step) of a 2.2 MB file takes with 5% of the packets lost each way,
// with the server's default timers (adaptive, floor MinTimeout 100 ms). A
// Pi gives up on a file after 30 s (TFTP_FILE_TIMEOUT). MinTimeout=0s is the
// default floor (100 ms); 50ms shows what a lower floor buys.
//
//	go test -run '^$' -bench LossyPi4File -benchtime 5x ./tftp/
func BenchmarkLossyPi4File(b *testing.B) {
	for _, min := range []time.Duration{0, 50 * time.Millisecond} {
		b.Run("MinTimeout="+min.String(), func(b *testing.B) { benchLossyPi4File(b, min) })
	}
}

func benchLossyPi4File(b *testing.B, minTimeout time.Duration) {
	data := lossPattern(2200 * 1000)
	srv := tftptest.NewUnstartedServer(tftp.FileServer(fstest.MapFS{"initrd": {Data: data}}))
	srv.Server.MinTimeout = minTimeout
	stats := make(chan *tftp.TransferStats, 1)
	srv.Server.OnTransfer = func(st *tftp.TransferStats) { stats <- st }
	srv.Start()
	defer func() {
		if err := srv.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	}()
	opts := tftp.Options{{Name: "tsize", Value: "0"}, {Name: "blksize", Value: "1024"}}
	var worst, total time.Duration
	var timeouts int64
	for i := 0; b.Loop(); i++ {
		raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		lc := tftptest.NewLossyConn(raw, int64(i+1), tftptest.Loss{Drop: 0.05})
		start := time.Now()
		// The client resends its ACK after 1 s, as a Pi does after its
		// own timeout; the server's adaptive timer acts long before.
		got, err := tftp.ClientGetForTest(lc, net.UDPAddrFromAddrPort(srv.AddrPort), "initrd", opts, time.Second, 30)
		d := time.Since(start)
		lc.Close()
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			b.Fatalf("got %d bytes, want %d", len(got), len(data))
		}
		worst, total = max(worst, d), total+d
		select {
		case st := <-stats:
			timeouts += st.Timeouts
		case <-time.After(10 * time.Second):
			b.Fatal("no TransferStats")
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/file")
	b.ReportMetric(worst.Seconds(), "worst-s/file")
	b.ReportMetric(float64(timeouts)/float64(b.N), "timeouts/file")
	b.ReportMetric(0, "ns/op")
}
