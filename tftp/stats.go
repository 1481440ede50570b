package tftp

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"
)

// Outcome is how a transfer ended.
type Outcome int

const (
	// Completed: every block was acknowledged (read) or received and
	// committed (write).
	Completed Outcome = iota
	// Aborted: the client ended the transfer with an ERROR packet, such as
	// the Raspberry Pi's "Early terminate" after a tsize probe. Normal
	// traffic, not a failure.
	Aborted
	// TimedOut: the client stopped answering for Server.Retries timeouts.
	TimedOut
	// Failed: the request was refused (file not found, bad option, …) or
	// the transfer failed on the server's side. Err says why.
	Failed
)

// String returns "completed", "aborted", "timed out" or "failed".
func (o Outcome) String() string {
	switch o {
	case Completed:
		return "completed"
	case Aborted:
		return "aborted"
	case TimedOut:
		return "timed out"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// TransferStats describes one finished transfer (or refused request). The
// server passes it to Server.OnTransfer once per request it answered.
type TransferStats struct {
	Op           Opcode         // OpRRQ or OpWRQ
	RemoteAddr   netip.AddrPort // the client, unmapped
	LocalAddr    netip.AddrPort // the address the request arrived on
	Filename     string
	Mode         string
	Options      Options // as negotiated (the OACK), nil if none was sent
	BlockSize    int
	WindowSize   int
	TransferSize int64 // the size announced (tsize) or known, -1 if unknown
	Bytes        int64 // payload bytes sent (RRQ) or received (WRQ), excluding retransmits
	Blocks       int64 // distinct DATA blocks sent or received
	Retransmits  int64 // DATA blocks sent again (after a timeout or a window rewind)
	Timeouts     int64 // retransmit timer expiries
	Rewinds      int64 // window rewinds on an ACK for an earlier block (RFC 7440)
	Start        time.Time
	Duration     time.Duration
	Outcome      Outcome
	Err          error // why it did not complete; nil when Completed
}

// Counters are the server's running totals since it was created. All fields
// are read atomically, but not as one snapshot. A running transfer adds its
// Blocks, BytesSent and BytesReceived every 64 blocks and when it ends, so
// those lag by less than 64 blocks per transfer in progress.
type Counters struct {
	Requests      int64 // RRQ and WRQ packets that started or were refused a transfer
	Duplicates    int64 // retransmitted requests ignored because their transfer runs
	Active        int64 // transfers in progress
	Completed     int64
	Aborted       int64 // ended by the client
	TimedOut      int64
	Failed        int64 // refused requests and server-side failures
	Busy          int64 // requests refused because MaxTransfers was reached
	BytesSent     int64 // DATA payload bytes sent, retransmits included
	BytesReceived int64 // DATA payload bytes received and accepted
	Blocks        int64 // distinct DATA blocks sent or received
	Retransmits   int64 // DATA blocks sent again
	BadPackets    int64 // malformed packets and packets from unknown transfer IDs
}

type counters struct {
	requests, duplicates, active, completed, aborted, timedOut, failed, busy atomic.Int64
	bytesSent, bytesReceived, blocks, retransmits, badPackets                atomic.Int64
}

func (c *counters) snapshot() Counters {
	return Counters{
		Requests:      c.requests.Load(),
		Duplicates:    c.duplicates.Load(),
		Active:        c.active.Load(),
		Completed:     c.completed.Load(),
		Aborted:       c.aborted.Load(),
		TimedOut:      c.timedOut.Load(),
		Failed:        c.failed.Load(),
		Busy:          c.busy.Load(),
		BytesSent:     c.bytesSent.Load(),
		BytesReceived: c.bytesReceived.Load(),
		Blocks:        c.blocks.Load(),
		Retransmits:   c.retransmits.Load(),
		BadPackets:    c.badPackets.Load(),
	}
}
