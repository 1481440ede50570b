package tftptest

import (
	"sync"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
)

// Transfers collects the statistics a server reports of its finished
// transfers: set the server's OnTransfer to the Record method. Record never
// blocks the server. Its zero value is ready to use.
type Transfers struct {
	mu   sync.Mutex
	list []*tftp.TransferStats
	more chan struct{} // closed and replaced by each Record
}

// Record adds st; it is a tftp.Server OnTransfer function.
func (tr *Transfers) Record(st *tftp.TransferStats) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.list = append(tr.list, st)
	if tr.more != nil {
		close(tr.more)
		tr.more = nil
	}
}

// Wait waits until n transfers have been recorded in all, failing the test
// when they have not within timeout, and returns every one recorded so
// far, in the order the server reported them.
func (tr *Transfers) Wait(tb testing.TB, n int, timeout time.Duration) []*tftp.TransferStats {
	tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		tr.mu.Lock()
		if len(tr.list) >= n {
			list := append([]*tftp.TransferStats(nil), tr.list...)
			tr.mu.Unlock()
			return list
		}
		if tr.more == nil {
			tr.more = make(chan struct{})
		}
		more, got := tr.more, len(tr.list)
		tr.mu.Unlock()
		select {
		case <-more:
		case <-timer.C:
			tb.Fatalf("the server reported %d of %d transfers within %v", got, n, timeout)
		}
	}
}

// Outcomes counts the outcomes of stats.
func Outcomes(stats []*tftp.TransferStats) map[tftp.Outcome]int {
	out := make(map[tftp.Outcome]int)
	for _, st := range stats {
		out[st.Outcome]++
	}
	return out
}
