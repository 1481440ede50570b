package tftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// rtoTimer is the adaptive retransmission timer (RFC 6298 with Karn's rule:
// only ACKs of blocks sent once give samples).
type rtoTimer struct {
	rto, min, max  time.Duration
	srtt, rttvar   time.Duration
	fixed, sampled bool
}

func newRTO(min, max, fixed time.Duration) rtoTimer {
	if fixed > 0 {
		return rtoTimer{rto: fixed, min: fixed, max: fixed, fixed: true}
	}
	return rtoTimer{rto: max, min: min, max: max}
}

func (r *rtoTimer) sample(d time.Duration) {
	if r.fixed {
		return
	}
	if !r.sampled {
		r.srtt, r.rttvar, r.sampled = d, d/2, true
	} else {
		delta := r.srtt - d
		if delta < 0 {
			delta = -delta
		}
		r.rttvar = (3*r.rttvar + delta) / 4
		r.srtt = (7*r.srtt + d) / 8
	}
	r.rto = min(max(r.srtt+max(4*r.rttvar, time.Millisecond), r.min), r.max)
}

// progress undoes the backoff of earlier timeouts once the peer acknowledged
// new data, even through a retransmitted block (which gives no sample): the
// path works again, so the timer returns to the estimate.
func (r *rtoTimer) progress() {
	if r.fixed || !r.sampled {
		return
	}
	r.rto = min(max(r.srtt+max(4*r.rttvar, time.Millisecond), r.min), r.max)
}

// backoff doubles the timer after the consecutive-th expiry in a row. A
// first expiry while the estimate (SRTT + 4·RTTVAR) lies below the floor
// keeps the floor: the round trip is then far shorter than the floor, so
// the expiry means a lost packet, not a slower path, and doubling would
// make every single loss cost two floors. From the second expiry in a row
// the timer doubles, as RFC 6298 asks.
func (r *rtoTimer) backoff(consecutive int) {
	if consecutive <= 1 && r.sampled && !r.fixed && r.srtt+4*r.rttvar < r.min {
		return
	}
	r.rto = min(2*r.rto, r.max)
}

// transfer is one transfer's state, owned by its goroutine.
type transfer struct {
	s      *Server
	ctx    context.Context
	tr     transport
	req    *Request
	neg    negotiation
	rto    rtoTimer
	rbuf   []byte // receive buffer
	sbuf   []byte // small packets: ACK, OACK, ERROR
	stats  *TransferStats
	rolled Rollover
	peer   *peerEntry // the server's entry for the client; nil in tests

	// Blocks and payload bytes not yet added to the server's counters:
	// 200 transfers adding to the same atomic counters for every block
	// fight over one cache line, so each adds its share every
	// counterBatch blocks and when it ends.
	pendBlocks, pendBytes int64
}

// counterBatch is how many blocks a transfer counts before adding them to
// the server's counters.
const counterBatch = 64

// count records a block of n payload bytes sent (read) or received (write)
// for the first time.
func (t *transfer) count(n int64) {
	t.stats.Blocks++
	t.stats.Bytes += n
	t.pendBlocks++
	t.pendBytes += n
	if t.pendBlocks >= counterBatch {
		t.flushCounters()
	}
}

// flushCounters adds the pending blocks and bytes to the server's counters.
func (t *transfer) flushCounters() {
	if t.pendBlocks == 0 {
		return
	}
	c := &t.s.counters
	c.blocks.Add(t.pendBlocks)
	if t.stats.Op == OpWRQ {
		c.bytesReceived.Add(t.pendBytes)
	} else {
		c.bytesSent.Add(t.pendBytes)
	}
	t.pendBlocks, t.pendBytes = 0, 0
}

// wire returns the block number sent for sequence number seq (1-based,
// never wrapping).
func (t *transfer) wire(seq int64) uint16 {
	if t.rolled == RolloverOne && seq > 0 {
		return uint16((seq-1)%65535 + 1)
	}
	return uint16(seq)
}

// seqAtOrBefore returns the largest sequence number <= ref whose block number
// is w.
func (t *transfer) seqAtOrBefore(w uint16, ref int64) int64 {
	if t.rolled == RolloverOne {
		if w == 0 {
			return 0
		}
		d := ((int64(t.wire(ref))-int64(w))%65535 + 65535) % 65535
		return ref - d
	}
	return ref - int64(t.wire(ref)-w)
}

// seqNear returns the sequence number for block number w nearest to ref
// (within half the block-number space either way).
func (t *transfer) seqNear(w uint16, ref int64) int64 {
	p := int64(65536)
	if t.rolled == RolloverOne {
		p = 65535
	}
	s := t.seqAtOrBefore(w, ref+p/2-1)
	return s
}

func (t *transfer) sendError(code ErrorCode, msg string) {
	t.sbuf = AppendError(t.sbuf[:0], code, msg)
	_ = t.tr.send(t.sbuf)
}

var (
	errTimedOut = errors.New("timeout")
)

// clientError wraps an ERROR packet received from the client.
type clientError struct{ e *Error }

func (c *clientError) Error() string { return "client sent " + c.e.Error() }
func (c *clientError) Unwrap() error { return c.e }

// fromClient is the error for an ERROR packet p the client sent; a
// malformed one still ends the transfer.
func fromClient(p []byte) *clientError {
	e, err := ParseError(p)
	if err != nil {
		e = &Error{Code: ErrUndefined, Message: "malformed ERROR packet"}
	}
	return &clientError{e}
}

// await receives the next packet for the transfer. It returns the packet,
// or errTimedOut when deadline passes, or another error that ends the
// transfer (cancellation).
func (t *transfer) await(deadline time.Time) ([]byte, error) {
	n, err := t.tr.recv(t.ctx, t.rbuf, deadline)
	if err != nil {
		if errors.Is(err, errTimeout) {
			return nil, errTimedOut
		}
		return nil, err
	}
	return t.rbuf[:n], nil
}

// fail ends a transfer on the server's side: it tells the client (unless the
// client itself ended it) and returns the outcome.
func (t *transfer) fail(err error) (Outcome, error) {
	var ce *clientError
	switch {
	case errors.As(err, &ce):
		return Aborted, err
	case errors.Is(err, errTimedOut):
		t.sendError(ErrUndefined, "timeout")
		return TimedOut, err
	case t.ctx.Err() != nil:
		t.sendError(ErrUndefined, "server shutting down")
		return Failed, err
	}
	te := t.s.toError(err, t.req)
	t.sendError(te.Code, te.Message)
	return Failed, err
}

// blockSource reads the blocks of a read transfer, each exactly once and in
// order.
type blockSource struct {
	ra      io.ReaderAt
	lender  Lender    // ra, when it lends its bytes (octet mode only)
	seq     io.Reader // netascii: the translated stream
	blksize int64
	size    int64 // bytes to send, or -1 when unknown

	// Read-ahead (when aheadMax > 0): ahead[:aheadLen] holds the content
	// from aheadOff on, and the content ends there if aheadEOF. ahead is
	// either bytes lent by lender (never written) or buf, filled by one
	// ReadAt of up to aheadMax bytes: a lock-step transfer of 1468-byte
	// blocks then makes one pread(2) per 22 blocks instead of one per
	// block. buf is made at the first ReadAt, so content that always
	// lends never costs one.
	aheadMax int
	buf      []byte
	ahead    []byte
	aheadOff int64
	aheadLen int
	aheadEOF bool
}

// readAheadSize is the read-ahead of a transfer's content; blocks of more
// than half of it are read one at a time.
const readAheadSize = 32 << 10

func newBlockSource(ra io.ReaderAt, blksize, size int64) *blockSource {
	b := &blockSource{ra: ra, blksize: blksize, size: size}
	b.lender, _ = ra.(Lender)
	if n := readAheadSize / blksize * blksize; n >= 2*blksize {
		if size >= 0 && size < n {
			n = size
		}
		b.aheadMax = int(n)
	}
	return b
}

// read fills p with block seq; fewer bytes than len(p) means the end.
func (b *blockSource) read(p []byte, seq int64) (int, error) {
	if b.seq != nil {
		n, err := io.ReadFull(b.seq, p)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = nil
		}
		return n, err
	}
	off := (seq - 1) * b.blksize
	if b.size >= 0 && int64(len(p)) > b.size-off {
		// Never send more than the size announced, even if the content
		// has grown since.
		p = p[:max(b.size-off, 0)]
	}
	if b.aheadMax == 0 {
		return b.readAt(p, off)
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= b.aheadOff && pos < b.aheadOff+int64(b.aheadLen) {
			n += copy(p[n:], b.ahead[pos-b.aheadOff:b.aheadLen])
			continue
		}
		if b.aheadEOF && pos >= b.aheadOff+int64(b.aheadLen) {
			break
		}
		want := b.aheadMax
		if b.size >= 0 && int64(want) > b.size-pos {
			want = int(b.size - pos)
		}
		if b.lender != nil {
			if l, ok := b.lender.LendAt(pos, want); ok && len(l) > 0 {
				b.ahead, b.aheadOff, b.aheadLen, b.aheadEOF = l, pos, min(len(l), want), false
				continue
			}
		}
		if b.buf == nil {
			b.buf = make([]byte, b.aheadMax)
		}
		q := b.buf[:want]
		m, err := b.readAt(q, pos)
		b.ahead, b.aheadOff, b.aheadLen, b.aheadEOF = b.buf, pos, m, m < len(q)
		if err != nil {
			b.aheadLen = 0
			return n, err
		}
		if m == 0 {
			break
		}
	}
	return n, nil
}

// readAt fills p from offset off, short only at the end of the content.
func (b *blockSource) readAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := b.ra.ReadAt(p[n:], off+int64(n))
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.ErrNoProgress
		}
	}
	return n, nil
}

type slot struct {
	buf    []byte
	n      int // packet length
	sentAt time.Time
	resent bool
}

// reader is the sending side of an RRQ as a state machine: a driver feeds it
// the packets that arrive from the client and the expiry of its deadline,
// and it sends what the protocol asks for through the transfer's transport.
// The goroutine driver (serveRead) and the event loops (loop_linux.go) run
// the same machine, so both behave identically on the wire.
type reader struct {
	t       *transfer
	src     *blockSource
	B, W    int64
	lastSeq int64 // the final block, or -1 while the size is unknown
	slots   []slot
	batch   [][]byte

	// OACK handshake: the OACK, when it was sent, and whether it has been
	// resent (no RTT sample then). oack is nil once ACK 0 arrived.
	oack       []byte
	oackSentAt time.Time
	oackResent bool

	base, filled, sent int64 // first unacknowledged, next to read, last sent
	timeouts           int   // consecutive timeouts
	deadline           time.Time

	done    bool
	outcome Outcome
	err     error
}

func newReader(t *transfer, src *blockSource, size int64) *reader {
	r := &reader{t: t, src: src, B: int64(t.neg.blockSize), W: int64(t.neg.windowSize), lastSeq: -1,
		base: 1, filled: 1}
	if size >= 0 {
		r.lastSeq = size/r.B + 1
	}
	nslots := r.W
	if r.lastSeq >= 0 && r.lastSeq < nslots {
		nslots = r.lastSeq
	}
	r.slots = make([]slot, nslots)
	for i := range r.slots {
		r.slots[i].buf = make([]byte, 4+r.B)
	}
	r.batch = make([][]byte, 0, r.W)
	return r
}

// end finishes the transfer with the outcome of t.fail or of success.
func (r *reader) end(o Outcome, err error) {
	r.done, r.outcome, r.err = true, o, err
	if p := r.t.peer; p != nil {
		p.ended.Store(true) // a new request from the client's port is new
	}
}

// start sends the OACK, or the first window when no option was accepted.
func (r *reader) start(now time.Time) {
	t := r.t
	if len(t.neg.reply) == 0 {
		r.sendWindow(now)
		return
	}
	r.oack = AppendOACK(nil, t.neg.reply)
	r.oackSentAt = now
	r.deadline = now.Add(t.rto.rto)
	if err := t.tr.send(r.oack); err != nil {
		r.end(t.fail(err))
	}
}

// sendWindow reads and sends what the window allows.
func (r *reader) sendWindow(now time.Time) {
	t := r.t
	end := r.base + r.W - 1
	if r.lastSeq >= 0 && end > r.lastSeq {
		end = r.lastSeq
	}
	nslots := int64(len(r.slots))
	for seq := r.base; seq <= end; seq++ {
		sl := &r.slots[seq%nslots]
		if seq >= r.filled {
			if t.rolled == RolloverOff && seq > 65535 {
				if seq > r.base {
					break // send and get ACKs for the blocks before it first
				}
				r.end(t.fail(&Error{Code: ErrUndefined, Message: fmt.Sprintf(
					"file needs more than 65535 blocks of %d bytes and block number rollover is off", r.B)}))
				return
			}
			n, err := r.src.read(sl.buf[4:], seq)
			if err != nil {
				r.end(t.fail(fmt.Errorf("reading block %d of %q: %w", seq, t.req.Filename, err)))
				return
			}
			PutDataHeader(sl.buf, t.wire(seq))
			sl.n = 4 + n
			r.filled = seq + 1
			if int64(n) < r.B {
				r.lastSeq, end = seq, seq
			}
		}
		if seq > r.sent {
			r.batch = append(r.batch, sl.buf[:sl.n])
			sl.sentAt, sl.resent = now, false
			r.sent = seq
			t.count(int64(sl.n - 4))
			r.deadline = now.Add(t.rto.rto)
		}
	}
	if err := t.flush(&r.batch); err != nil {
		r.end(t.fail(err))
		return
	}
	if r.lastSeq >= 0 && r.sent >= r.lastSeq && t.peer != nil {
		t.peer.lastSent.Store(true) // see Server.handle
	}
}

// expire handles the passing of the deadline: resend, or give up after
// too many timeouts in a row.
func (r *reader) expire(now time.Time) {
	t := r.t
	r.timeouts++
	t.stats.Timeouts++
	if r.timeouts > t.s.retries() {
		if r.oack != nil {
			r.end(t.fail(errTimedOut))
		} else {
			r.end(t.fail(fmt.Errorf("no ACK for block %d after %d timeouts: %w", r.base, r.timeouts-1, errTimedOut)))
		}
		return
	}
	t.rto.backoff(r.timeouts)
	r.deadline = now.Add(t.rto.rto)
	if r.oack != nil {
		r.oackResent = true
		if err := t.tr.send(r.oack); err != nil {
			r.end(t.fail(err))
		}
		return
	}
	nslots := int64(len(r.slots))
	for seq := r.base; seq <= r.sent; seq++ {
		r.batch = t.resend(r.batch, &r.slots[seq%nslots], now)
	}
	if err := t.flush(&r.batch); err != nil {
		r.end(t.fail(err))
	}
}

// packet handles a packet from the client.
func (r *reader) packet(p []byte, now time.Time) {
	t := r.t
	op, _ := ParseOpcode(p)
	switch op {
	case OpACK:
		blk, err := ParseAck(p)
		if err != nil {
			t.s.counters.badPackets.Add(1)
			return
		}
		if r.oack != nil {
			if blk == 0 {
				if !r.oackResent {
					t.rto.sample(now.Sub(r.oackSentAt))
				}
				r.oack, r.timeouts = nil, 0
				r.sendWindow(now)
			}
			return
		}
		seq := t.seqAtOrBefore(blk, r.sent)
		if seq < r.base {
			return // duplicate or stale: never a reason to resend
		}
		nslots := int64(len(r.slots))
		sl := &r.slots[seq%nslots]
		if !sl.resent {
			t.rto.sample(now.Sub(sl.sentAt))
		} else if r.timeouts > 0 {
			t.rto.progress()
		}
		r.timeouts = 0
		if seq == r.lastSeq {
			r.end(Completed, nil)
			return
		}
		if seq < r.sent {
			// RFC 7440: the client missed block seq+1; go back.
			t.stats.Rewinds++
			for s := seq + 1; s <= r.sent; s++ {
				r.batch = t.resend(r.batch, &r.slots[s%nslots], now)
			}
			r.deadline = now.Add(t.rto.rto)
		}
		r.base = seq + 1
		r.sendWindow(now)
	case OpERROR:
		r.end(t.fail(fromClient(p)))
	default:
		t.s.counters.badPackets.Add(1)
	}
}

// serveRead runs the sending side of an RRQ: on an event loop when the
// transport belongs to one, else in this goroutine.
func (t *transfer) serveRead(src *blockSource, size int64) (Outcome, error) {
	r := newReader(t, src, size)
	if lt, ok := t.tr.(*loopTransport); ok {
		return lt.run(r)
	}
	r.start(time.Now())
	for !r.done {
		p, err := t.await(r.deadline)
		switch {
		case errors.Is(err, errTimedOut):
			r.expire(time.Now())
		case err != nil:
			r.end(t.fail(err))
		default:
			r.packet(p, time.Now())
		}
	}
	return r.outcome, r.err
}

// resend queues a block to be sent again.
func (t *transfer) resend(batch [][]byte, sl *slot, now time.Time) [][]byte {
	sl.sentAt, sl.resent = now, true
	t.stats.Retransmits++
	t.s.counters.retransmits.Add(1)
	t.s.counters.bytesSent.Add(int64(sl.n - 4))
	return append(batch, sl.buf[:sl.n])
}

// flush sends the queued packets, in one system call where the transport
// can, and empties the queue.
func (t *transfer) flush(batch *[][]byte) error {
	b := *batch
	*batch = b[:0]
	switch len(b) {
	case 0:
		return nil
	case 1:
		return t.tr.send(b[0])
	}
	return t.tr.sendBatch(b)
}

// receiveWrite runs the receiving side of a WRQ, writing the blocks to w.
func (t *transfer) receiveWrite(w io.Writer, flush func() error) (Outcome, error) {
	B := t.neg.blockSize
	W := t.neg.windowSize
	c := &t.s.counters
	var ack []byte
	if len(t.neg.reply) > 0 {
		ack = AppendOACK(nil, t.neg.reply)
	} else {
		ack = AppendAck(make([]byte, 0, 4), 0)
	}
	if err := t.tr.send(ack); err != nil {
		return t.fail(err)
	}
	// The time from an ACK to the next block is a round trip: it tunes
	// the timer (and so the dally after the last block).
	ackAt, ackResent := time.Now(), false
	setAck := func(seq int64) error {
		ack = AppendAck(ack[:0], t.wire(seq))
		ackAt, ackResent = time.Now(), false
		return t.tr.send(ack)
	}
	expected := int64(1)
	inWindow := 0
	gapAcked := false
	timeouts := 0
	deadline := time.Now().Add(t.rto.rto)
	for {
		p, err := t.await(deadline)
		if errors.Is(err, errTimedOut) {
			timeouts++
			t.stats.Timeouts++
			if timeouts > t.s.retries() {
				return t.fail(fmt.Errorf("no DATA block %d after %d timeouts: %w", expected, timeouts-1, errTimedOut))
			}
			ackResent = true
			if err := t.tr.send(ack); err != nil {
				return t.fail(err)
			}
			deadline = time.Now().Add(t.rto.rto)
			continue
		}
		if err != nil {
			return t.fail(err)
		}
		op, _ := ParseOpcode(p)
		switch op {
		case OpDATA:
			blk, data, err := ParseData(p)
			if err != nil {
				c.badPackets.Add(1)
				continue
			}
			seq := t.seqNear(blk, expected)
			switch {
			case seq == expected:
				if len(data) > B {
					return t.fail(&Error{Code: ErrIllegalOp, Message: fmt.Sprintf("DATA block %d has %d bytes, more than blksize %d", blk, len(data), B)})
				}
				if t.rolled == RolloverOff && seq > 65535 {
					return t.fail(&Error{Code: ErrIllegalOp, Message: "block number rollover is off"})
				}
				if inWindow == 0 && !ackResent {
					t.rto.sample(time.Since(ackAt))
					ackResent = true // one sample per ACK
				}
				if _, err := w.Write(data); err != nil {
					return t.fail(err)
				}
				t.count(int64(len(data)))
				expected++
				inWindow++
				timeouts = 0
				gapAcked = false
				if len(data) < B {
					if err := flush(); err != nil {
						return t.fail(err)
					}
					if err := setAck(seq); err != nil {
						return t.fail(err)
					}
					t.stats.Duration = time.Since(t.stats.Start)
					t.dally(seq, ack)
					return Completed, nil
				}
				if inWindow >= W {
					inWindow = 0
					if err := setAck(seq); err != nil {
						return t.fail(err)
					}
				}
				deadline = time.Now().Add(t.rto.rto)
			case seq < expected:
				// A block we have: our ACK was lost. Answer the last one
				// of a resent window only.
				if seq == expected-1 && seq > 0 {
					inWindow = 0
					if err := setAck(seq); err != nil {
						return t.fail(err)
					}
				}
			default:
				// A gap: ask for the missing block once (RFC 7440).
				if !gapAcked {
					gapAcked = true
					inWindow = 0
					var err error
					if expected > 1 {
						err = setAck(expected - 1)
					} else {
						err = t.tr.send(ack) // the OACK or ACK 0 again
					}
					if err != nil {
						return t.fail(err)
					}
				}
			}
		case OpERROR:
			return t.fail(fromClient(p))
		default:
			c.badPackets.Add(1)
		}
	}
}

// dally waits after the final ACK of a write, in case the client resends
// the last block because that ACK was lost: as long as the client waits
// before resending (the timeout it asked for, else Server.Timeout, the
// usual client timer), or our own timer if that is longer. Without it, a
// lost final ACK makes the client report a failed upload the server has
// stored. The outcome and duration are settled before; only the socket and
// goroutine stay.
func (t *transfer) dally(last int64, ack []byte) {
	wait := max(t.rto.rto, t.s.timeout())
	if t.neg.timeout > 0 {
		wait = max(t.rto.rto, t.neg.timeout)
	}
	deadline := time.Now().Add(wait)
	for i := 0; i < 4; i++ {
		p, err := t.await(deadline)
		if err != nil {
			return
		}
		if blk, _, err := ParseData(p); err == nil && blk == t.wire(last) {
			if t.tr.send(ack) != nil {
				return
			}
		}
	}
}
