package tftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Client defaults, used when the corresponding Client field is zero.
const (
	// DefaultClientBlockSize is the block size a zero Client asks for: the
	// largest that fits a 1500-byte Ethernet frame unfragmented.
	DefaultClientBlockSize = 1468
	// DefaultClientTimeout is a zero Client's retransmit timeout.
	DefaultClientTimeout = time.Second
	// DefaultClientRetries is how often a zero Client retransmits one packet
	// before giving up.
	DefaultClientRetries = 5
)

// Progress is what Client.Progress receives after each block.
type Progress struct {
	Remote string // the remote file name as requested
	Block  uint64 // blocks transferred so far; unlike the wire number it never wraps
	Bytes  int64  // bytes transferred so far, as sent on the wire
	Total  int64  // the file's size when known (tsize, or Put's size), else -1

	// The block and window sizes in use: what the server agreed to, or
	// 512 and 1 when it ignored the options.
	BlockSize, WindowSize int
}

// Client is a TFTP client (RFC 1350) with option negotiation (RFC 2347):
// blksize (RFC 2348), timeout and tsize (RFC 2349), windowsize (RFC 7440).
//
// Limits: one file per call and one request in flight per call; no
// multicast (RFC 2090); the first reply must come from the IP address the
// request was sent to (a server that answers from another address of a
// multi-homed host is not heard); after the last DATA block of a Get the
// client does not linger to re-acknowledge a retransmitted last block, so a
// lost final ACK costs the server its retries (the data is complete on this
// side); the rollover rule is not detected but configured, and must match
// the server's; on Get, a resent copy of the block last acknowledged (the
// server's sign that the ACK was lost) is acknowledged again at once, other
// duplicates are ignored, and on Put a duplicate ACK never triggers a resend
// (the Sorcerer's Apprentice rule); in netascii mode tsize is not asked for on Put and Progress
// counts wire bytes, not local bytes.
//
// Get and Put answer packets from any address but the server's transfer
// port (locked at its first reply) with ERROR 5 and go on. A server that
// refuses options with ERROR 8 is asked again without them; one that
// ignores them (DATA 1 or ACK 0 instead of an OACK) gets 512-byte
// lock-step. An OACK granting more than was asked is refused with ERROR 8.
//
// The zero Client is ready to use. A Client is not modified by its methods
// and may be used by several goroutines at once, as long as Progress is safe
// for that.
type Client struct {
	// BlockSize is the blksize to ask for, 8 to 65464. 0 means
	// DefaultClientBlockSize. 512 sends no blksize option (512 is the
	// protocol's own size). The server may answer with a smaller size, or
	// ignore the option, in which case 512 is used.
	BlockSize int

	// WindowSize is the number of blocks in flight (RFC 7440), 1 to 65535.
	// 0 and 1 send no windowsize option: strict lock-step.
	WindowSize int

	// Timeout is the retransmit timeout. 0 means DefaultClientTimeout.
	// A value of at least a second is also offered to the server as the
	// timeout option, rounded up to whole seconds (at most 255); so is the
	// default on Put, where the server waits for DATA on its own timer.
	// Shorter timeouts are used locally only.
	Timeout time.Duration

	// Retries is how many times one packet is retransmitted after a timeout
	// before the transfer fails. 0 means DefaultClientRetries; negative means
	// never retransmit.
	Retries int

	// Rollover is the block number that follows 65535: RolloverZero (the
	// zero value, what most servers do, tftp-hpa's and this package's
	// included), RolloverOne, or RolloverOff to refuse transfers of more
	// than 65535 blocks. It must match what the server does.
	Rollover Rollover

	// TransferSize asks for tsize: on Get the server is asked the file's
	// size (reported in Progress.Total); on Put the size passed to Put is
	// announced when known.
	TransferSize bool

	// Mode is "octet" (also when empty) or "netascii", in which case line
	// ends are translated between the local "\n" and the wire's CR LF.
	Mode string

	// Progress, when not nil, is called after every block acknowledged
	// (Put) or received in order (Get), from the goroutine that called Get
	// or Put. It must not block for long: the transfer waits for it.
	Progress func(Progress)
}

// Get fetches the file remote from the server at addr ("host:port", or
// "host" for port 69) and writes it to w. It returns the number of bytes
// written to w. An ERROR packet from the server is returned as a *Error
// (test with errors.As); running out of retries returns an error naming the
// block that never came. When ctx is done the server is sent ERROR 0 and Get
// returns ctx's error.
func (c *Client) Get(ctx context.Context, addr, remote string, w io.Writer) (int64, error) {
	t, err := c.start(ctx, "get", addr, remote)
	if err != nil {
		return 0, err
	}
	defer t.close()
	cw := &clientCountWriter{w: w}
	var dst io.Writer = cw
	var flush func() error
	if t.netascii {
		nw := NewNetASCIIWriter(cw)
		dst, flush = nw, nw.Flush
	}
	err = t.get(dst)
	if err == nil && flush != nil {
		err = flush()
		if err != nil {
			err = t.errorf("writing: %w", err)
		}
	}
	return cw.n, err
}

// Put sends what r yields until io.EOF to the server at addr as the file
// remote. size is the number of bytes r will yield, announced as tsize when
// TransferSize is set; size < 0 means unknown and announces nothing.
// An ERROR packet from the server is returned as a *Error; running out of
// retries returns an error naming the block not acknowledged. When ctx is
// done the server is sent ERROR 0 and Put returns ctx's error.
func (c *Client) Put(ctx context.Context, addr, remote string, r io.Reader, size int64) error {
	t, err := c.start(ctx, "put", addr, remote)
	if err != nil {
		return err
	}
	defer t.close()
	if t.netascii {
		r = NewNetASCIIReader(r)
		size = -1
	}
	if size >= 0 {
		t.total = size
	}
	return t.put(r, size)
}

// clientCountWriter counts the bytes written through it.
type clientCountWriter struct {
	w io.Writer
	n int64
}

func (c *clientCountWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// clientTransfer is one Get or Put in progress.
type clientTransfer struct {
	ctx      context.Context
	stop     func() bool // unregisters the context watcher
	conn     *net.UDPConn
	op       string // "get" or "put", for errors
	addr     string // as the caller gave it, for errors
	remote   string
	server   netip.AddrPort // where the request goes
	peer     netip.AddrPort // the server's transfer ID once locked
	locked   bool
	netascii bool
	mode     string

	timeout  time.Duration
	retries  int
	rollover Rollover
	progress func(Progress)

	// Asked for.
	askBlksize, askWindow, askTimeout int
	askTsize                          bool
	// Agreed.
	blksize, window int
	total           int64

	rbuf []byte // receive buffer
	sbuf []byte // request and ACK encoding buffer
}

func (c *Client) start(ctx context.Context, op, addr, remote string) (*clientTransfer, error) {
	t := &clientTransfer{
		ctx: ctx, op: op, addr: addr, remote: remote,
		timeout: c.Timeout, retries: c.Retries, rollover: c.Rollover,
		progress: c.Progress, total: -1, blksize: DefaultBlockSize, window: 1,
		mode: ModeOctet,
	}
	switch normalizeMode(c.Mode) {
	case ModeOctet:
	case ModeNetASCII:
		t.netascii, t.mode = true, ModeNetASCII
	default:
		if c.Mode != "" {
			return nil, t.errorf("mode %q: want octet or netascii", c.Mode)
		}
	}
	if t.timeout <= 0 {
		t.timeout = DefaultClientTimeout
	}
	// On Put the server is the receiver and retransmits ACKs on its own
	// timer; offering ours keeps it from giving up before this client's
	// timer fires (servers with an adaptive timer may otherwise wait only
	// a fraction of a second in all on a fast link).
	if c.Timeout >= time.Second || op == "put" && c.Timeout == 0 {
		t.askTimeout = int(min((t.timeout+time.Second-1)/time.Second, 255))
	}
	if t.retries == 0 {
		t.retries = DefaultClientRetries
	} else if t.retries < 0 {
		t.retries = 0
	}
	switch bs := c.BlockSize; {
	case bs == 0:
		t.askBlksize = DefaultClientBlockSize
	case bs == 512:
	case bs >= MinBlockSize && bs <= MaxBlockSize:
		t.askBlksize = bs
	default:
		return nil, t.errorf("block size %d: want 8 to 65464", bs)
	}
	switch ws := c.WindowSize; {
	case ws == 0 || ws == 1:
	case ws > 1 && ws <= 65535:
		t.askWindow = ws
	default:
		return nil, t.errorf("window size %d: want 1 to 65535", ws)
	}
	t.askTsize = c.TransferSize
	if err := ctx.Err(); err != nil {
		return nil, t.errorf("%w", err)
	}
	server, err := ResolveServer(ctx, addr)
	if err != nil {
		return nil, t.errorf("%w", err)
	}
	t.server = server
	network, laddr := "udp4", &net.UDPAddr{IP: net.IPv4zero}
	if server.Addr().Is6() {
		network, laddr = "udp6", &net.UDPAddr{IP: net.IPv6unspecified, Zone: server.Addr().Zone()}
	}
	conn, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, t.errorf("%w", err)
	}
	t.conn = conn
	// A done context makes the blocked read return at once; recv then
	// sees ctx.Err.
	t.stop = context.AfterFunc(ctx, func() {
		_ = conn.SetReadDeadline(time.Unix(1, 0)) // only fails on a closed conn, which is then done anyway
	})
	t.rbuf = make([]byte, 4+MaxBlockSize+1)
	t.sbuf = make([]byte, 0, 4+MaxBlockSize)
	return t, nil
}

func (t *clientTransfer) close() {
	t.stop()
	_ = t.conn.Close() // a UDP socket's close reports nothing worth acting on
}

// ResolveServer turns the server address a Client takes ("host:port",
// "[v6]:port" or "host"; port 69 by default, or a service name) into an
// address and port, unmapped, preferring IPv4 when a name has both.
func ResolveServer(ctx context.Context, addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "69"
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		pp, lerr := net.DefaultResolver.LookupPort(ctx, "udp", port)
		if lerr != nil {
			return netip.AddrPort{}, fmt.Errorf("server address %q: bad port: %w", addr, lerr)
		}
		p = uint64(pp)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("server address %q: %w", addr, err)
	}
	// Prefer IPv4, which every TFTP server speaks.
	best := ips[0]
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			best = ip
			break
		}
	}
	return netip.AddrPortFrom(best.Unmap(), uint16(p)), nil
}

func (t *clientTransfer) errorf(format string, args ...any) error {
	prep := "from"
	if t.op == "put" {
		prep = "to"
	}
	return fmt.Errorf("tftp: %s %q %s %s: %w", t.op, t.remote, prep, t.addr, fmt.Errorf(format, args...))
}

// wire is the block number sent on the wire for absolute block n (n ≥ 1
// counts from the first DATA block and never wraps).
func (t *clientTransfer) wire(n uint64) uint16 {
	if t.rollover == RolloverOne && n > 65535 {
		return uint16((n-1)%65535 + 1)
	}
	return uint16(n)
}

// tooMany reports whether absolute block n cannot be numbered.
func (t *clientTransfer) tooMany(n uint64) bool {
	return t.rollover == RolloverOff && n > 65535
}

func (t *clientTransfer) report(block uint64, bytes int64) {
	if t.progress != nil {
		t.progress(Progress{Remote: t.remote, Block: block, Bytes: bytes, Total: t.total, BlockSize: t.blksize, WindowSize: t.window})
	}
}

// errClientTimeout is recv's report that the deadline passed.
var errClientTimeout = errors.New("timeout")

// recv returns the next packet from the server until deadline. Before the
// transfer ID is locked it accepts any port at the server's IP address and
// locks onto the first; after that, packets from anyone else are answered
// with ERROR 5 and dropped. Malformed packets are dropped. It returns
// errClientTimeout when the deadline passes, or the context's error.
func (t *clientTransfer) recv(deadline time.Time) (Packet, error) {
	for {
		if err := t.conn.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
		// Checked after setting the deadline: a cancellation from here on
		// overrides it.
		if err := t.ctx.Err(); err != nil {
			return nil, err
		}
		n, from, err := t.conn.ReadFromUDPAddrPort(t.rbuf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				if cerr := t.ctx.Err(); cerr != nil {
					return nil, cerr
				}
				return nil, errClientTimeout
			}
			return nil, err
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if t.locked && from != t.peer || !t.locked && from.Addr() != t.server.Addr() {
			t.sendTo(from, &Error{Code: ErrUnknownTID, Message: "unknown transfer ID"})
			continue
		}
		p, err := ParsePacket(t.rbuf[:n])
		if err != nil {
			continue
		}
		if !t.locked {
			t.peer, t.locked = from, true
		}
		return p, nil
	}
}

// sendTo sends p to to. Send errors on UDP are transient at best and show
// up as timeouts; they are not reported.
func (t *clientTransfer) sendTo(to netip.AddrPort, p Packet) {
	b := p.AppendTo(t.sbuf[:0])
	_, _ = t.conn.WriteToUDPAddrPort(b, to) // a lost datagram is handled by retransmission
}

func (t *clientTransfer) send(p Packet) { t.sendTo(t.peer, p) }

// abort tells the locked peer why the transfer ends, if there is one.
func (t *clientTransfer) abort(code ErrorCode, msg string) {
	if t.locked {
		t.send(&Error{Code: code, Message: msg})
	}
}

// fail ends the transfer for a local reason err: the context's error sends
// ERROR 0 to the server.
func (t *clientTransfer) fail(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.abort(ErrUndefined, "transfer cancelled")
	}
	return t.errorf("%w", err)
}

// request builds the RRQ or WRQ, with options unless plain.
func (t *clientTransfer) request(plain bool, size int64) Packet {
	var opts Options
	if !plain {
		if t.askBlksize != 0 {
			opts = append(opts, Option{Name: OptBlockSize, Value: strconv.Itoa(t.askBlksize)})
		}
		if t.askWindow != 0 {
			opts = append(opts, Option{Name: OptWindowSize, Value: strconv.Itoa(t.askWindow)})
		}
		if t.askTimeout != 0 {
			opts = append(opts, Option{Name: OptTimeout, Value: strconv.Itoa(t.askTimeout)})
		}
		if t.askTsize {
			if t.op == "get" {
				opts = append(opts, Option{Name: OptTransferSize, Value: "0"})
			} else if size >= 0 {
				opts = append(opts, Option{Name: OptTransferSize, Value: strconv.FormatInt(size, 10)})
			}
		}
	}
	if t.op == "get" {
		return &RequestPacket{Op: OpRRQ, Filename: t.remote, Mode: t.mode, Options: opts}
	}
	return &RequestPacket{Op: OpWRQ, Filename: t.remote, Mode: t.mode, Options: opts}
}

// hasOptions reports whether a request would carry options.
func (t *clientTransfer) hasOptions(size int64) bool {
	return t.askBlksize != 0 || t.askWindow != 0 || t.askTimeout != 0 ||
		t.askTsize && (t.op == "get" || size >= 0)
}

// accept checks the server's OACK against what was asked and adopts it.
// A problem is reported to the server with ERROR 8.
func (t *clientTransfer) accept(opts Options) error {
	for _, o := range opts {
		bad := func(why string) error {
			t.abort(ErrOption, fmt.Sprintf("option %s=%q: %s", o.Name, o.Value, why))
			return t.errorf("server's OACK: option %s=%q: %s", o.Name, o.Value, why)
		}
		v, known, err := ParseOption(o.Name, o.Value)
		if !known {
			// An option this client neither asked for nor knows changes
			// nothing here; ignoring it is the lenient course.
			continue
		}
		if err != nil {
			return bad("not a valid value")
		}
		// upTo checks v against what was asked for (0: nothing).
		upTo := func(asked int) (int, error) {
			if asked == 0 {
				return 0, bad("not asked for")
			}
			if v > int64(asked) {
				return 0, bad(fmt.Sprintf("more than the %d asked for", asked))
			}
			return int(v), nil
		}
		switch strings.ToLower(o.Name) {
		case OptBlockSize:
			n, err := upTo(t.askBlksize)
			if err != nil {
				return err
			}
			t.blksize = n
		case OptWindowSize:
			n, err := upTo(t.askWindow)
			if err != nil {
				return err
			}
			t.window = n
		case OptTransferSize:
			if t.op == "get" {
				t.total = v
			}
		}
	}
	return nil
}

// get runs a read transfer, writing the data to w.
func (t *clientTransfer) get(w io.Writer) error {
	plain := !t.hasOptions(-1)
	req := t.request(plain, -1)
	t.sendTo(t.server, req)
	started := false
	expect := uint64(1) // absolute number of the next DATA block wanted
	acked := uint64(0)  // last block acknowledged
	gapAcked := false   // an out-of-window block has been answered since the last progress
	var bytes int64
	tries := 0
	deadline := time.Now().Add(t.timeout)
	for {
		p, err := t.recv(deadline)
		if err == errClientTimeout {
			tries++
			if tries > t.retries {
				if !started {
					return t.errorf("no reply to the read request after %d retries", t.retries)
				}
				t.abort(ErrUndefined, "timed out")
				return t.errorf("no DATA block %d after %d retries", expect, t.retries)
			}
			if !started {
				t.sendTo(t.server, req)
			} else {
				t.send(&AckPacket{Block: t.wire(expect - 1)})
				acked = expect - 1
			}
			deadline = time.Now().Add(t.timeout)
			continue
		}
		if err != nil {
			return t.fail(err)
		}
		switch p := p.(type) {
		case *Error:
			if !started && !plain && p.Code == ErrOption {
				// The server refuses options: ask again without.
				plain, t.locked = true, false
				req = t.request(true, -1)
				t.sendTo(t.server, req)
				tries, deadline = 0, time.Now().Add(t.timeout)
				continue
			}
			return t.errorf("%w", p)
		case *OACKPacket:
			if started {
				if acked == 0 && expect == 1 {
					// The server resent its OACK after a timeout: our
					// ACK 0 was lost. Answer at once; the server never
					// resends on a duplicate ACK, so this cannot snowball.
					t.send(&AckPacket{Block: 0})
				}
				continue
			}
			if plain {
				t.abort(ErrOption, "no options were requested")
				return t.errorf("server sent an OACK to a request without options")
			}
			if err := t.accept(p.Options); err != nil {
				return err
			}
			started = true
			// A window arrives in a burst; the default socket buffer
			// (about 208 KiB on Linux, each datagram charged its size
			// plus about a KiB) holds only a few large blocks. Grow it,
			// never shrink it. Best effort: the kernel caps the size at
			// net.core.rmem_max, and a failure only costs
			// retransmissions.
			if want := 2 * t.window * (t.blksize + 1024); t.window > 1 && want > 256<<10 {
				_ = t.conn.SetReadBuffer(min(want, 16<<20))
			}
			t.send(&AckPacket{Block: 0})
			tries, deadline = 0, time.Now().Add(t.timeout)
		case *DataPacket:
			if !started {
				// Options ignored (or none asked): 512-byte lock-step.
				started = true
				t.blksize, t.window = DefaultBlockSize, 1
			}
			switch {
			case p.Block == t.wire(expect):
				if len(p.Data) > t.blksize {
					t.abort(ErrIllegalOp, fmt.Sprintf("DATA block %d has %d bytes, block size is %d", expect, len(p.Data), t.blksize))
					return t.errorf("DATA block %d has %d bytes, more than the block size %d", expect, len(p.Data), t.blksize)
				}
				if t.tooMany(expect) {
					t.abort(ErrUndefined, "block number rollover refused")
					return t.errorf("block %d: more than 65535 blocks and rollover is off", expect)
				}
				if _, err := w.Write(p.Data); err != nil {
					t.abort(ErrDiskFull, "cannot write")
					return t.errorf("writing block %d: %w", expect, err)
				}
				bytes += int64(len(p.Data))
				t.report(expect, bytes)
				last := len(p.Data) < t.blksize
				if last || expect-acked >= uint64(t.window) {
					t.send(&AckPacket{Block: p.Block})
					acked = expect
				}
				if last {
					return nil
				}
				expect++
				gapAcked = false
				tries, deadline = 0, time.Now().Add(t.timeout)
			case t.ahead(p.Block, expect):
				// A block was lost inside the window: acknowledge the
				// last in-order block once so the server rewinds.
				if !gapAcked {
					t.send(&AckPacket{Block: t.wire(expect - 1)})
					acked, gapAcked = expect-1, true
				}
			default:
				// A duplicate. The server resends only after its timer
				// expired, so a resent copy of the block we last
				// acknowledged means that ACK was lost: answer it once
				// per copy, at once, instead of leaving the server to
				// wait for our own timer. Older duplicates are ignored.
				if acked == expect-1 && acked > 0 && p.Block == t.wire(acked) {
					t.send(&AckPacket{Block: p.Block})
				}
			}
		default:
			t.abort(ErrIllegalOp, "unexpected packet")
			return t.errorf("unexpected %v packet from the server", p.Opcode())
		}
	}
}

// ahead reports whether wire block b lies after absolute block expect but
// within the window.
func (t *clientTransfer) ahead(b uint16, expect uint64) bool {
	for k := uint64(1); k < uint64(t.window); k++ {
		if t.wire(expect+k) == b {
			return true
		}
	}
	return false
}

// put runs a write transfer, reading the data from r.
func (t *clientTransfer) put(r io.Reader, size int64) error {
	plain := !t.hasOptions(size)
	req := t.request(plain, size)
	t.sendTo(t.server, req)
	tries := 0
	deadline := time.Now().Add(t.timeout)
	// Wait for the OACK or ACK 0.
	for started := false; !started; {
		p, err := t.recv(deadline)
		if err == errClientTimeout {
			tries++
			if tries > t.retries {
				return t.errorf("no reply to the write request after %d retries", t.retries)
			}
			t.sendTo(t.server, req)
			deadline = time.Now().Add(t.timeout)
			continue
		}
		if err != nil {
			return t.fail(err)
		}
		switch p := p.(type) {
		case *Error:
			if !plain && p.Code == ErrOption {
				plain, t.locked = true, false
				req = t.request(true, size)
				t.sendTo(t.server, req)
				tries, deadline = 0, time.Now().Add(t.timeout)
				continue
			}
			return t.errorf("%w", p)
		case *OACKPacket:
			if plain {
				t.abort(ErrOption, "no options were requested")
				return t.errorf("server sent an OACK to a request without options")
			}
			if err := t.accept(p.Options); err != nil {
				return err
			}
			started = true
		case *AckPacket:
			if p.Block != 0 {
				t.abort(ErrIllegalOp, "expected ACK 0")
				return t.errorf("server acknowledged block %d before any was sent", p.Block)
			}
			t.blksize, t.window = DefaultBlockSize, 1
			started = true
		default:
			t.abort(ErrIllegalOp, "unexpected packet")
			return t.errorf("unexpected %v packet from the server", p.Opcode())
		}
	}

	// The window's blocks are kept until acknowledged, in a ring indexed
	// by absolute block number.
	ring := make([][]byte, t.window)
	for i := range ring {
		ring[i] = make([]byte, 0, t.blksize)
	}
	var (
		base  = uint64(1) // first unacknowledged block
		next  = uint64(1) // next block to send
		read  = uint64(0) // highest block read from r
		final = uint64(0) // the short block that ends the file, once read
		bytes int64       // bytes acknowledged
	)
	data := &DataPacket{}
	for {
		// Send what the window allows.
		for next < base+uint64(t.window) && (final == 0 || next <= final) {
			slot := &ring[(next-1)%uint64(t.window)]
			if next > read {
				if t.tooMany(next) {
					t.abort(ErrUndefined, "file too large without block number rollover")
					return t.errorf("block %d: more than 65535 blocks and rollover is off", next)
				}
				n, err := io.ReadFull(r, (*slot)[:t.blksize])
				*slot = (*slot)[:n]
				switch {
				case err == io.EOF || err == io.ErrUnexpectedEOF:
					final = next
				case err != nil:
					t.abort(ErrUndefined, "cannot read the local file")
					return t.errorf("reading block %d: %w", next, err)
				}
				read = next
			}
			data.Block, data.Data = t.wire(next), *slot
			t.send(data)
			next++
		}
		// Wait for an ACK that moves the window.
		p, err := t.recv(deadline)
		if err == errClientTimeout {
			tries++
			if tries > t.retries {
				t.abort(ErrUndefined, "timed out")
				return t.errorf("no ACK for block %d after %d retries", base, t.retries)
			}
			next = base // resend the window
			deadline = time.Now().Add(t.timeout)
			continue
		}
		if err != nil {
			return t.fail(err)
		}
		switch p := p.(type) {
		case *Error:
			if p.Code == ErrUnknownTID && final != 0 && next > final {
				return t.errorf("no ACK for the last block %d; the server no longer knows the transfer, so it may have ended well: %w", final, p)
			}
			return t.errorf("%w", p)
		case *AckPacket:
			a, ok := uint64(0), false
			for n := base; n < next; n++ {
				if t.wire(n) == p.Block {
					a, ok = n, true
					break
				}
			}
			if !ok {
				if t.window > 1 && p.Block == t.wire(base-1) {
					// With a window, the receiver repeating its last
					// ACK means it timed out with nothing of the
					// window: resend the window (RFC 7440). In
					// lock-step a duplicate ACK is ignored (the
					// Sorcerer's Apprentice rule).
					next = base
				}
				continue
			}
			for n := base; n <= a; n++ {
				bytes += int64(len(ring[(n-1)%uint64(t.window)]))
			}
			t.report(a, bytes)
			if a == final {
				return nil
			}
			base, next = a+1, a+1 // a partial window acknowledged rewinds
			tries, deadline = 0, time.Now().Add(t.timeout)
		case *OACKPacket:
			continue // a duplicate
		default:
			t.abort(ErrIllegalOp, "unexpected packet")
			return t.errorf("unexpected %v packet from the server", p.Opcode())
		}
	}
}
