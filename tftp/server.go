package tftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown.
var ErrServerClosed = errors.New("tftp: server closed")

// Server is a TFTP server. Its exported fields are its configuration; set
// them before calling Serve and do not change them afterwards. The zero
// value serves nothing (every read gets ERROR 1) and refuses writes.
type Server struct {
	// Handler answers read requests; nil answers every RRQ with ERROR 1.
	Handler Handler
	// WriteHandler answers write requests; nil refuses them with ERROR 2.
	WriteHandler WriteHandler

	// Timeout is the ceiling of the adaptive retransmission timer and its
	// initial value; 0 means 1s. A client's timeout or utimeout option
	// replaces the adaptive timer with exactly the value it asked for.
	Timeout time.Duration
	// MinTimeout is the floor of the adaptive retransmission timer; 0 means
	// 100ms. It is capped at Timeout.
	MinTimeout time.Duration
	// Retries is how many consecutive timeouts a transfer survives, each
	// followed by a retransmission; the next one ends it with ERROR 0
	// "timeout". 0 means 5.
	Retries int
	// MaxBlockSize caps the blksize option; 0 means 65464. Larger requests
	// are clamped, not refused.
	MaxBlockSize int
	// MaxWindowSize caps the windowsize option; 0 means 64. It is further
	// capped at 32768 so block numbers stay unambiguous across a rollover.
	MaxWindowSize int
	// Rollover says what follows block 65535: RolloverZero (default),
	// RolloverOne, or RolloverOff to refuse files needing more blocks.
	Rollover Rollover
	// MaxTransfers limits simultaneous transfers; 0 means unlimited. Beyond
	// it requests get ERROR 0 "server busy".
	MaxTransfers int
	// SinglePort sends all transfers through the socket the request came
	// in on, instead of one socket per transfer. Clients are told apart by
	// address and port.
	SinglePort bool
	// EventLoops is the most event loops that run the data phase of read
	// transfers (Linux only). A loop is one goroutine that waits with
	// epoll(7) on the sockets of all its transfers, so a storm of
	// lock-step transfers costs no goroutine wake-up per block. Loops
	// start as they are needed, another only once every running loop has
	// 32 transfers (fewer sockets per wait cost more CPU per block), and
	// stop when they have none. 0 means at most one loop per GOMAXPROCS;
	// a negative value runs every read transfer in its own goroutine, as
	// write transfers and SinglePort always are.
	// A loop reads the content itself: a Handler whose ReaderAt can block
	// for long (a network file system, a slow device) stalls every
	// transfer on that loop, so such servers should set -1.
	EventLoops int
	// PortMin and PortMax bound the local ports of transfer sockets; with
	// PortMax 0 the kernel picks any free port. Unused with SinglePort.
	PortMin, PortMax int
	// Logger receives one Info line per finished transfer (client aborts at
	// Debug); nil discards.
	Logger *slog.Logger
	// OnTransfer, when set, is called once per answered request, from the
	// transfer's goroutine, after it ended.
	OnTransfer func(*TransferStats)

	once      sync.Once
	ctx       context.Context // cancelled to force transfers to end
	cancel    context.CancelFunc
	mu        sync.Mutex
	shutdown  bool
	onStop    []func()
	listeners map[*listener]struct{}
	peers     map[netip.AddrPort]*peerEntry // transfers running, by client
	wg        sync.WaitGroup                // transfers
	serving   sync.WaitGroup                // Serve loops
	counters  counters
	loops     loopSet
}

func (s *Server) init() {
	s.once.Do(func() {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.listeners = make(map[*listener]struct{})
		s.peers = make(map[netip.AddrPort]*peerEntry)
	})
}

func (s *Server) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return time.Second
}

func (s *Server) minTimeout() time.Duration {
	m := s.MinTimeout
	if m <= 0 {
		m = 100 * time.Millisecond
	}
	return min(m, s.timeout())
}

func (s *Server) retries() int {
	if s.Retries > 0 {
		return s.Retries
	}
	return 5
}

func (s *Server) maxBlock() int {
	if s.MaxBlockSize <= 0 || s.MaxBlockSize > MaxBlockSize {
		return MaxBlockSize
	}
	return max(s.MaxBlockSize, MinBlockSize)
}

func (s *Server) maxWindow() int {
	if s.MaxWindowSize <= 0 {
		return 64
	}
	return min(s.MaxWindowSize, 32768)
}

func (s *Server) eventLoops() int {
	if s.EventLoops == 0 {
		return runtime.GOMAXPROCS(0)
	}
	return s.EventLoops
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Stats returns the server's counters.
func (s *Server) Stats() Counters { return s.counters.snapshot() }

// ListenAndServe listens on the UDP address addr and serves requests.
func (s *Server) ListenAndServe(addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	return s.Serve(pc)
}

// Serve answers requests arriving on pc until Shutdown, which closes pc.
// When pc is a *net.UDPConn the server learns each request's destination
// address (IP_PKTINFO / IPV6_PKTINFO) and answers from it; otherwise
// transfer sockets are bound to the unspecified address. It always returns a
// non-nil error: ErrServerClosed after Shutdown. Like net/http's Serve, it
// returns as soon as Shutdown stops it taking requests, not when the
// transfers in flight end: wait for Shutdown to return for that.
func (s *Server) Serve(pc net.PacketConn) error {
	s.init()
	l := newListener(pc)
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		_ = pc.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.serving.Add(1)
	s.mu.Unlock()
	defer s.serving.Done()

	buf := make([]byte, 65536)
	for {
		n, src, dst, ifIndex, err := l.read(buf)
		if err != nil {
			s.mu.Lock()
			down := s.shutdown
			delete(s.listeners, l)
			s.mu.Unlock()
			if down {
				return ErrServerClosed
			}
			return err
		}
		s.handle(l, buf[:n], src, dst, ifIndex)
	}
}

// handle processes one packet from the main socket.
func (s *Server) handle(l *listener, pkt []byte, src netip.AddrPort, dst netip.Addr, ifIndex int) {
	op, err := ParseOpcode(pkt)
	if err != nil {
		s.counters.badPackets.Add(1)
		return
	}
	if op != OpRRQ && op != OpWRQ {
		if s.SinglePort && l.deliver(src, pkt) {
			return
		}
		s.stranger(pkt, src, func(b []byte) error { return l.writeTo(b, src, dst, ifIndex) })
		return
	}
	p, err := ParsePacket(pkt)
	if err != nil {
		s.counters.badPackets.Add(1)
		s.logger().Debug("tftp: bad request", "client", src, "err", err)
		_ = l.writeTo(AppendError(nil, ErrIllegalOp, err.Error()), src, dst, ifIndex)
		return
	}
	rp := p.(*RequestPacket)
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return // no new service once shutting down
	}
	if e, dup := s.peers[src]; dup && !e.ended.Load() {
		if e.lastSent.Load() && e.pending == nil {
			// The transfer has sent its last block, so the client had
			// its first reply: more likely a new request whose port
			// the client reused, sent before the final ACK reached us.
			// It starts if the transfer completes (see run).
			e.pending = &pendingRequest{l: l, rp: rp, dst: dst, ifIndex: ifIndex}
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.counters.duplicates.Add(1)
		return // a retransmitted request for a running transfer
	}
	// A request from the address of a transfer whose exchange has ended
	// (its goroutine may still be closing the file and logging) is a new
	// one: a client that reuses its port at once must not wait for its
	// retransmit timeout.
	s.start(l, rp, src, dst, ifIndex)
}

// start begins a transfer for rp. It is called with s.mu held and
// releases it.
func (s *Server) start(l *listener, rp *RequestPacket, src netip.AddrPort, dst netip.Addr, ifIndex int) {
	s.counters.requests.Add(1)
	if s.MaxTransfers > 0 && len(s.peers) >= s.MaxTransfers {
		s.mu.Unlock()
		s.counters.busy.Add(1)
		s.logger().Info("tftp: server busy", "client", src, "file", rp.Filename, "max_transfers", s.MaxTransfers)
		_ = l.writeTo(AppendError(nil, ErrUndefined, "server busy"), src, dst, ifIndex)
		return
	}
	pe := &peerEntry{}
	s.peers[src] = pe
	s.counters.active.Add(1)
	s.wg.Add(1)
	var ep *endpoint
	if s.SinglePort {
		ep = l.register(src, dst, ifIndex, s.maxWindow()+16)
	}
	s.mu.Unlock()
	go s.run(l, ep, rp, src, dst, ifIndex, pe)
}

// peerEntry is a transfer in Server.peers.
type peerEntry struct {
	// ended is set once the transfer's exchange with the client is over
	// (outcome decided), before the goroutine's clean-up.
	ended atomic.Bool
	// lastSent is set once a read transfer has sent its last block.
	lastSent atomic.Bool
	// pending is a request from the same address that came after the
	// last block was sent; guarded by Server.mu.
	pending *pendingRequest
}

// pendingRequest is a request held until the transfer before it ends.
type pendingRequest struct {
	l       *listener
	rp      *RequestPacket
	dst     netip.Addr
	ifIndex int
}

// stranger answers a packet from an address with no transfer on this socket.
func (s *Server) stranger(pkt []byte, from netip.AddrPort, send func([]byte) error) {
	s.counters.badPackets.Add(1)
	if op, err := ParseOpcode(pkt); err != nil || op == OpERROR {
		return // never answer an error with an error
	}
	_ = send(AppendError(nil, ErrUnknownTID, "unknown transfer ID"))
}

// toError maps a handler's or the transfer's error to what the client is
// told.
func (s *Server) toError(err error, r *Request) *Error {
	var te *Error
	switch {
	case errors.As(err, &te):
		return te
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Code: ErrNotFound, Message: "file not found"}
	case errors.Is(err, fs.ErrPermission):
		return &Error{Code: ErrAccess, Message: "access violation"}
	case errors.Is(err, fs.ErrExist):
		return &Error{Code: ErrFileExists, Message: "file already exists"}
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &Error{Code: ErrDiskFull, Message: "disk full"}
	}
	s.logger().Warn("tftp: transfer error", "client", r.RemoteAddr, "file", r.Filename, "err", err)
	return &Error{Code: ErrUndefined, Message: "internal server error"}
}

// run is one transfer's goroutine.
func (s *Server) run(l *listener, ep *endpoint, rp *RequestPacket, src netip.AddrPort, dst netip.Addr, ifIndex int, pe *peerEntry) {
	ctx, cancel := context.WithCancel(s.ctx)
	req := &Request{
		Op:         rp.Op,
		Filename:   rp.Filename,
		Mode:       normalizeMode(rp.Mode),
		Options:    rp.Options,
		RemoteAddr: src,
		LocalAddr:  netip.AddrPortFrom(dst, l.local.Port()),
		ctx:        ctx,
	}
	st := &TransferStats{
		Op: rp.Op, RemoteAddr: src, LocalAddr: req.LocalAddr, Filename: rp.Filename,
		Mode: req.Mode, BlockSize: DefaultBlockSize, WindowSize: 1, TransferSize: -1,
		Start: time.Now(),
	}
	var outcome Outcome
	var err error
	defer func() {
		cancel()
		pe.ended.Store(true)
		s.mu.Lock()
		var next *pendingRequest
		if s.peers[src] == pe { // not yet replaced by a new request
			delete(s.peers, src)
			next = pe.pending
		}
		if next != nil && outcome == Completed && !s.shutdown {
			s.start(next.l, next.rp, src, next.dst, next.ifIndex) // unlocks
		} else {
			s.mu.Unlock()
			if next != nil {
				s.counters.duplicates.Add(1) // a retransmission after all
			}
		}
		s.counters.active.Add(-1)
		s.finish(st, outcome, err)
		s.wg.Done()
	}()

	t := &transfer{s: s, ctx: ctx, req: req, stats: st, rolled: s.Rollover, sbuf: make([]byte, 0, 512), peer: pe}
	if ep != nil {
		t.tr = ep
	} else {
		var lerr error
		if rp.Op == OpRRQ && s.eventLoops() > 0 && loopsSupported() {
			var lt *loopTransport
			if lt, lerr = listenLoop(s, dst, src, s.PortMin, s.PortMax); lerr == nil {
				t.tr = lt
			}
		} else {
			var conn *net.UDPConn
			if conn, lerr = listenTransfer(dst, src, s.PortMin, s.PortMax); lerr == nil {
				t.tr = newUDPTransport(s, ctx, conn, src)
			}
		}
		if lerr != nil {
			err = fmt.Errorf("opening transfer socket on %v: %w", dst, lerr)
			outcome = Failed
			_ = l.writeTo(AppendError(nil, ErrUndefined, "server busy"), src, dst, ifIndex)
			return
		}
	}
	defer t.tr.close()
	st.LocalAddr = t.tr.local()
	if st.LocalAddr.Addr().IsUnspecified() || !st.LocalAddr.Addr().IsValid() {
		st.LocalAddr = netip.AddrPortFrom(dst, st.LocalAddr.Port())
	}
	t.rbuf = make([]byte, 2048)
	outcome, err = s.serve(t, rp)
	t.flushCounters()
}

// serve validates a request, asks the handler and runs the transfer.
func (s *Server) serve(t *transfer, rp *RequestPacket) (outcome Outcome, err error) {
	req, st := t.req, t.stats
	defer func() {
		if p := recover(); p != nil {
			outcome, err = t.fail(fmt.Errorf("handler panic: %v", p))
		}
	}()
	if req.Mode == "" {
		return t.fail(&Error{Code: ErrIllegalOp, Message: fmt.Sprintf("transfer mode %q not supported", rp.Mode)})
	}
	neg, nerr := negotiate(rp.Op, rp.Options, s.maxBlock(), s.maxWindow())
	if nerr != nil {
		return t.fail(nerr)
	}
	t.neg = neg
	t.rto = newRTO(s.minTimeout(), s.timeout(), neg.timeout)
	st.BlockSize, st.WindowSize = neg.blockSize, neg.windowSize
	if rp.Op == OpWRQ {
		return s.serveWrite(t)
	}
	if s.Handler == nil {
		return t.fail(&Error{Code: ErrNotFound, Message: "file not found"})
	}
	content, size, herr := s.Handler.ServeTFTP(req)
	if herr != nil {
		return t.fail(herr)
	}
	if c, ok := content.(io.Closer); ok {
		defer func() {
			if cerr := c.Close(); cerr != nil && err == nil {
				s.logger().Warn("tftp: closing content", "file", req.Filename, "err", cerr)
			}
		}()
	}
	if content == nil {
		return t.fail(errors.New("handler returned no content"))
	}
	src := newBlockSource(content, int64(neg.blockSize), size)
	if req.Mode == ModeNetASCII {
		n := size
		if n < 0 {
			n = 1 << 62
		}
		src.seq = NewNetASCIIReader(io.NewSectionReader(content, 0, n))
		size = -1 // unknown after translation
		src.size, src.aheadMax, src.lender = -1, 0, nil
	}
	st.TransferSize = size
	if s.Rollover == RolloverOff && size >= 0 && size/int64(neg.blockSize)+1 > 65535 {
		return t.fail(&Error{Code: ErrUndefined, Message: fmt.Sprintf(
			"file of %d bytes needs more than 65535 blocks of %d bytes and block number rollover is off", size, neg.blockSize)})
	}
	t.neg.setTSize(size)
	if len(t.neg.reply) > 0 {
		st.Options = t.neg.reply
	}
	return t.serveRead(src, size)
}

func (s *Server) serveWrite(t *transfer) (Outcome, error) {
	req, st := t.req, t.stats
	if s.WriteHandler == nil {
		return t.fail(&Error{Code: ErrAccess, Message: "writes are not allowed"})
	}
	st.TransferSize = t.neg.tsize
	up, err := s.WriteHandler.ReceiveTFTP(req)
	if err != nil {
		return t.fail(err)
	}
	if up == nil {
		return t.fail(errors.New("write handler returned no upload"))
	}
	if len(t.neg.reply) > 0 {
		st.Options = t.neg.reply
	}
	t.rbuf = make([]byte, 4+t.neg.blockSize+1)
	var w io.Writer = up
	var na *NetASCIIWriter
	if req.Mode == ModeNetASCII {
		na = NewNetASCIIWriter(up)
		w = na
	}
	committed := false
	finish := func() error {
		if na != nil {
			if err := na.Flush(); err != nil {
				return err
			}
		}
		if err := up.Commit(); err != nil {
			return err
		}
		committed = true
		return nil
	}
	outcome, err := t.receiveWrite(w, finish)
	if !committed {
		if aerr := up.Abort(); aerr != nil {
			s.logger().Warn("tftp: aborting upload", "file", req.Filename, "err", aerr)
		}
	}
	return outcome, err
}

// finish accounts for and reports a finished transfer.
func (s *Server) finish(st *TransferStats, outcome Outcome, err error) {
	if st.Duration == 0 || outcome != Completed {
		st.Duration = time.Since(st.Start)
	}
	st.Outcome = outcome
	if outcome != Completed {
		st.Err = err
	}
	c := &s.counters
	log := s.logger()
	attrs := []any{
		"op", st.Op.String(), "client", st.RemoteAddr, "file", st.Filename,
		"bytes", st.Bytes, "duration", st.Duration.Round(time.Microsecond),
		"rate_kBps", rate(st.Bytes, st.Duration), "retransmits", st.Retransmits,
		"outcome", outcome.String(),
	}
	if st.Err != nil {
		attrs = append(attrs, "err", st.Err)
	}
	switch outcome {
	case Completed:
		c.completed.Add(1)
		log.Info("tftp: transfer", attrs...)
	case Aborted:
		c.aborted.Add(1)
		log.Debug("tftp: transfer", attrs...)
	case TimedOut:
		c.timedOut.Add(1)
		log.Info("tftp: transfer", attrs...)
	default:
		c.failed.Add(1)
		log.Info("tftp: transfer", attrs...)
	}
	if s.OnTransfer != nil {
		s.OnTransfer(st)
	}
}

func rate(bytes int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(float64(bytes) / d.Seconds() / 1000)
}

// RegisterOnShutdown registers f to be called by the first Shutdown, from
// its goroutine, once the server has stopped taking requests and before it
// waits for the transfers in flight: the moment to tell a service manager
// that the server is stopping. f must not block for long.
func (s *Server) RegisterOnShutdown(f func()) {
	s.init()
	s.mu.Lock()
	s.onStop = append(s.onStop, f)
	s.mu.Unlock()
}

// Shutdown stops taking requests, closes the listening sockets (in
// SinglePort mode only once the transfers are done, since they use them),
// and waits for transfers in flight to finish. When ctx ends first, the
// remaining transfers are cancelled (their clients get ERROR 0 "server
// shutting down"), Shutdown waits for them to stop and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	first := !s.shutdown
	s.shutdown = true
	for l := range s.listeners {
		if !s.SinglePort {
			_ = l.pc.Close()
		}
	}
	onStop := s.onStop
	s.mu.Unlock()
	if first {
		for _, f := range onStop {
			f()
		}
	}

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.cancel()
		<-done
	}
	s.mu.Lock()
	for l := range s.listeners {
		_ = l.pc.Close()
	}
	s.mu.Unlock()
	s.serving.Wait()
	s.cancel()
	return err
}
