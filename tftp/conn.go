package tftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// listener is the server's main socket, with the per-packet destination
// address when the socket supports IP_PKTINFO / IPV6_PKTINFO.
type listener struct {
	pc    net.PacketConn
	udp   *net.UDPConn // nil when pc is not a UDP socket
	p4    *ipv4.PacketConn
	p6    *ipv6.PacketConn
	local netip.AddrPort // the bound address, unmapped

	mu    sync.Mutex
	peers map[netip.AddrPort]*endpoint // SinglePort demultiplexing
}

func newListener(pc net.PacketConn) *listener {
	l := &listener{pc: pc, peers: make(map[netip.AddrPort]*endpoint)}
	if ua, ok := pc.LocalAddr().(*net.UDPAddr); ok {
		l.local = unmapPort(ua.AddrPort())
	}
	udp, ok := pc.(*net.UDPConn)
	if !ok {
		return l
	}
	l.udp = udp
	// An AF_INET6 socket (including a dual-stack one bound to "0.0.0.0" by
	// Go's "udp" network) takes IPV6_PKTINFO, which also reports IPv4
	// destinations as ::ffff:a.b.c.d; an AF_INET socket refuses it.
	p6 := ipv6.NewPacketConn(udp)
	if err := p6.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true); err == nil {
		l.p6 = p6
		return l
	}
	p4 := ipv4.NewPacketConn(udp)
	if err := p4.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true); err == nil {
		l.p4 = p4
	}
	return l
}

func unmapPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return unmapPort(a.AddrPort())
	case nil:
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return unmapPort(ap)
}

// read returns the next packet, its source, and the local address it was
// sent to (the bound address when control messages are unavailable).
func (l *listener) read(b []byte) (n int, src netip.AddrPort, dst netip.Addr, ifIndex int, err error) {
	var from net.Addr
	switch {
	case l.p6 != nil:
		var cm *ipv6.ControlMessage
		n, cm, from, err = l.p6.ReadFrom(b)
		if cm != nil {
			dst, _ = netip.AddrFromSlice(cm.Dst)
			ifIndex = cm.IfIndex
		}
	case l.p4 != nil:
		var cm *ipv4.ControlMessage
		n, cm, from, err = l.p4.ReadFrom(b)
		if cm != nil {
			dst, _ = netip.AddrFromSlice(cm.Dst)
			ifIndex = cm.IfIndex
		}
	default:
		n, from, err = l.pc.ReadFrom(b)
	}
	if err != nil {
		return 0, netip.AddrPort{}, netip.Addr{}, 0, err
	}
	src = addrPortOf(from)
	dst = dst.Unmap()
	if !dst.IsValid() {
		dst = l.local.Addr()
	}
	if dst.Is6() && dst.IsLinkLocalUnicast() && ifIndex > 0 {
		if ifi, err := net.InterfaceByIndex(ifIndex); err == nil {
			dst = dst.WithZone(ifi.Name)
		}
	}
	return n, src, dst, ifIndex, nil
}

// oobFor returns the control message that makes a packet leave from the
// local address src (nil when the socket takes none or src is unspecified).
//
// IPv4 destinations on an IPv6 socket need IP_PKTINFO: x/net's ipv6 package
// does not marshal an IPv4-mapped source into IPV6_PKTINFO, and Linux takes
// IP_PKTINFO on a dual-stack socket.
func (l *listener) oobFor(src netip.Addr, ifIndex int) []byte {
	if !src.IsValid() || src.IsUnspecified() || (l.p4 == nil && l.p6 == nil) {
		return nil
	}
	if s := src.Unmap(); s.Is4() {
		s4 := s.As4()
		return (&ipv4.ControlMessage{Src: net.IP(s4[:])}).Marshal()
	}
	if l.p6 == nil {
		return nil
	}
	s16 := src.As16()
	cm := &ipv6.ControlMessage{Src: net.IP(s16[:])}
	if src.IsLinkLocalUnicast() {
		cm.IfIndex = ifIndex
	}
	return cm.Marshal()
}

// writeTo sends b to dst from the local address src (when the socket takes
// control messages and src is a specific address).
func (l *listener) writeTo(b []byte, dst netip.AddrPort, src netip.Addr, ifIndex int) error {
	return l.writeOOB(b, dst, l.oobFor(src, ifIndex))
}

func (l *listener) writeOOB(b []byte, dst netip.AddrPort, oob []byte) error {
	if l.udp != nil {
		_, _, err := l.udp.WriteMsgUDPAddrPort(b, oob, dst)
		return err
	}
	_, err := l.pc.WriteTo(b, net.UDPAddrFromAddrPort(dst))
	return err
}

// errTimeout is what recv returns when the deadline passes.
var errTimeout = os.ErrDeadlineExceeded

// transport carries one transfer's packets to and from its peer.
type transport interface {
	// recv waits until deadline for the next packet from the peer and
	// copies it into b. Packets from any other address are answered with
	// ERROR 5 and not returned. A timeout returns os.ErrDeadlineExceeded.
	recv(ctx context.Context, b []byte, deadline time.Time) (int, error)
	// send sends b to the peer.
	send(b []byte) error
	// sendBatch sends the packets to the peer, in order, with as few
	// system calls as the transport allows.
	sendBatch(pkts [][]byte) error
	// local returns the address replies come from.
	local() netip.AddrPort
	close()
}

// udpTransport is a transfer's own socket, bound to the address the
// request arrived on.
type udpTransport struct {
	s    *Server
	conn *net.UDPConn
	peer netip.AddrPort
	addr netip.AddrPort
	stop func() bool
	// armed is the read deadline set on conn, which may be earlier than
	// the one recv was asked for; zero when none is set.
	armed time.Time

	// sendmmsg(2) through x/net, set up on first use.
	writeBatch func([]ipv4.Message, int) (int, error)
	peerUDP    *net.UDPAddr
	msgs       []ipv4.Message // ipv4.Message and ipv6.Message are the same type
	bufs       [][]byte
}

// listenTransfer opens a transfer socket on the local address laddr (an
// unspecified address when unknown), with a port in [min, max] if max > 0.
func listenTransfer(laddr netip.Addr, peer netip.AddrPort, min, max int) (*net.UDPConn, error) {
	network := "udp4"
	if !peer.Addr().Unmap().Is4() {
		network = "udp6"
	}
	ip := laddr.Unmap()
	if !ip.IsValid() || (ip.Is4() != (network == "udp4")) {
		ip = netip.Addr{} // bind to the unspecified address of the peer's family
	}
	var conn *net.UDPConn
	err := bindPort(min, max, func(port int) error {
		ua := &net.UDPAddr{Port: port}
		if ip.IsValid() {
			ua.IP = net.IP(ip.AsSlice())
			ua.Zone = ip.Zone()
		}
		var err error
		conn, err = net.ListenUDP(network, ua)
		return err
	})
	return conn, err
}

// bindPort calls bind with port 0 when max <= 0 (the kernel picks), else
// with the ports of [min, max] from a random start until one is free.
func bindPort(min, max int, bind func(port int) error) error {
	if max <= 0 {
		return bind(0)
	}
	if min <= 0 {
		min = 1
	}
	if max > 65535 {
		max = 65535
	}
	if min > max {
		return fmt.Errorf("tftp: port range %d..%d is empty", min, max)
	}
	n := max - min + 1
	start := rand.IntN(n)
	var lastErr error
	for i := 0; i < n; i++ {
		err := bind(min + (start+i)%n)
		if err == nil {
			return nil
		}
		lastErr = err
		if !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EACCES) {
			return err
		}
	}
	return fmt.Errorf("tftp: no free port in %d..%d: %w", min, max, lastErr)
}

func newUDPTransport(s *Server, ctx context.Context, conn *net.UDPConn, peer netip.AddrPort) *udpTransport {
	t := &udpTransport{s: s, conn: conn, peer: peer}
	if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		t.addr = unmapPort(ua.AddrPort())
	}
	// Wake a blocked read when the transfer is cancelled.
	t.stop = context.AfterFunc(ctx, func() {
		_ = conn.SetReadDeadline(time.Unix(1, 0))
	})
	return t
}

func (t *udpTransport) recv(ctx context.Context, b []byte, deadline time.Time) (int, error) {
	// Setting a read deadline modifies a runtime timer, which costs more
	// than the rest of the per-block work outside system calls. Deadlines
	// only move forward from block to block, so the socket keeps an earlier
	// one (armed) and, when that passes first, is re-armed with the real
	// one: one re-arm per retransmission timeout instead of one per block.
	if t.armed.IsZero() || deadline.Before(t.armed) {
		if err := t.arm(deadline); err != nil {
			return 0, err
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n, from, err := t.conn.ReadFromUDPAddrPort(b)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(deadline) {
				if err := t.arm(deadline); err != nil {
					return 0, err
				}
				continue // the early deadline of an earlier block
			}
			t.armed = time.Time{}
			return 0, err
		}
		from = unmapPort(from)
		if from != t.peer {
			t.s.stranger(b[:n], from, func(p []byte) error {
				_, err := t.conn.WriteToUDPAddrPort(p, from)
				return err
			})
			continue
		}
		return n, nil
	}
}

// arm sets the socket's read deadline.
func (t *udpTransport) arm(deadline time.Time) error {
	t.armed = deadline
	return t.conn.SetReadDeadline(deadline)
}

func (t *udpTransport) send(b []byte) error {
	_, err := t.conn.WriteToUDPAddrPort(b, t.peer)
	return err
}

func (t *udpTransport) sendBatch(pkts [][]byte) error {
	if t.writeBatch == nil {
		if t.addr.Addr().Is4() {
			t.writeBatch = ipv4.NewPacketConn(t.conn).WriteBatch
		} else {
			t.writeBatch = ipv6.NewPacketConn(t.conn).WriteBatch
		}
		t.peerUDP = net.UDPAddrFromAddrPort(t.peer)
	}
	if cap(t.msgs) < len(pkts) {
		t.msgs = make([]ipv4.Message, len(pkts))
		t.bufs = make([][]byte, len(pkts))
	}
	msgs := t.msgs[:len(pkts)]
	for i, p := range pkts {
		t.bufs[i] = p
		msgs[i].Buffers = t.bufs[i : i+1]
		msgs[i].Addr = t.peerUDP
	}
	for len(msgs) > 0 {
		n, err := t.writeBatch(msgs, 0)
		if err != nil {
			return err
		}
		if n <= 0 {
			return io.ErrShortWrite
		}
		msgs = msgs[n:]
	}
	return nil
}

func (t *udpTransport) local() netip.AddrPort { return t.addr }

func (t *udpTransport) close() {
	t.stop()
	_ = t.conn.Close()
}

// endpoint is a transfer multiplexed over the main socket (SinglePort).
type endpoint struct {
	l       *listener
	peer    netip.AddrPort
	src     netip.Addr // local address the request came to
	ifIndex int
	oob     []byte       // control message choosing the source address
	in      chan *[]byte // pooled copies of the peer's packets
	timer   *time.Timer
}

var packetPool = sync.Pool{New: func() any { b := make([]byte, 0, 65536); return &b }}

func (l *listener) register(peer netip.AddrPort, src netip.Addr, ifIndex int, queue int) *endpoint {
	e := &endpoint{l: l, peer: peer, src: src, ifIndex: ifIndex, oob: l.oobFor(src, ifIndex), in: make(chan *[]byte, queue)}
	l.mu.Lock()
	l.peers[peer] = e
	l.mu.Unlock()
	return e
}

// deliver hands a packet from peer to its transfer; it reports whether the
// peer has one. A full queue drops the packet (as a full socket buffer
// would).
func (l *listener) deliver(peer netip.AddrPort, b []byte) bool {
	l.mu.Lock()
	e := l.peers[peer]
	l.mu.Unlock()
	if e == nil {
		return false
	}
	bp := packetPool.Get().(*[]byte)
	*bp = append((*bp)[:0], b...)
	select {
	case e.in <- bp:
	default:
		packetPool.Put(bp)
	}
	return true
}

func (e *endpoint) recv(ctx context.Context, b []byte, deadline time.Time) (int, error) {
	d := time.Until(deadline)
	if d <= 0 {
		return 0, errTimeout
	}
	if e.timer == nil {
		e.timer = time.NewTimer(d)
	} else {
		e.timer.Reset(d)
	}
	select {
	case bp := <-e.in:
		n := copy(b, *bp)
		packetPool.Put(bp)
		return n, nil
	case <-e.timer.C:
		return 0, errTimeout
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (e *endpoint) send(b []byte) error { return e.l.writeOOB(b, e.peer, e.oob) }

func (e *endpoint) sendBatch(pkts [][]byte) error {
	for _, p := range pkts {
		if err := e.send(p); err != nil {
			return err
		}
	}
	return nil
}

func (e *endpoint) local() netip.AddrPort { return netip.AddrPortFrom(e.src, e.l.local.Port()) }

func (e *endpoint) close() {
	e.l.mu.Lock()
	if e.l.peers[e.peer] == e {
		delete(e.l.peers, e.peer)
	}
	e.l.mu.Unlock()
	if e.timer != nil {
		e.timer.Stop()
	}
}
