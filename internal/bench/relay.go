package bench

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultRelayIdle is how long a Relay keeps a flow without traffic when
// Relay.Idle is zero.
const DefaultRelayIdle = time.Minute

// Relay is an in-process UDP relay between TFTP clients and one server. It
// listens on a loopback address of its own; each client address gets a
// flow with its own upstream socket, which sends the client's first packet
// to the server's address and the rest to the port the server answered
// from (the server's transfer ID), as a client would. Replies reach the
// client from the relay's listening address. It drops a seeded fraction of
// packets in each direction and counts retransmissions (see RelayStats).
//
// Limits: IPv4 or IPv6 loopback only (the address family of the server);
// a flow idle for Idle is forgotten, so a client that sends after that
// starts a new flow to the server's main address; packets from the server
// at another port than the one it first answered from are dropped.
type Relay struct {
	// Server is the address requests go to. Required.
	Server netip.AddrPort
	// Loss is the fraction of packets dropped, 0 to 1, in each direction.
	Loss float64
	// Seed seeds the drop decisions: for a given seed, the k-th packet in
	// a direction is dropped or not whatever the timing.
	Seed uint64
	// Idle is how long a flow lives without traffic; 0 means
	// DefaultRelayIdle.
	Idle time.Duration

	ln       *net.UDPConn
	mu       sync.Mutex
	closed   bool
	flows    map[netip.AddrPort]*flow
	upRand   *lockedRand
	downRand *lockedRand
	wg       sync.WaitGroup
	stats    relayCounters
}

// RelayStats counts what a Relay saw. Packets are counted before drops.
type RelayStats struct {
	Flows       int64 // client addresses seen
	Up, Down    int64 // packets from clients, from the server
	UpDropped   int64 // client packets dropped
	DownDropped int64 // server packets dropped
	// ClientResends counts client packets identical to the one before on
	// their flow: requests re-sent and ACKs repeated after the client's
	// timeout (or, with windows, to ask for a rewind).
	ClientResends int64
	// ServerResends counts DATA blocks from the server whose number is not
	// newer than the newest it sent on the flow.
	ServerResends int64
}

type relayCounters struct {
	flows, up, down, upDropped, downDropped, clientResends, serverResends atomic.Int64
}

type lockedRand struct {
	mu   sync.Mutex
	r    *rand.Rand
	loss float64
}

// drop decides the next packet's fate.
func (l *lockedRand) drop() bool {
	if l.loss <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64() < l.loss
}

type flow struct {
	client   netip.AddrPort
	up       *net.UDPConn
	mu       sync.Mutex
	peer     netip.AddrPort // where client packets go
	locked   bool
	last     []byte // the client's previous packet
	haveData bool
	maxBlock uint16
	seen     atomic.Int64 // unix nanoseconds of the last packet either way
}

// Start opens the relay's listening socket and starts relaying.
func (r *Relay) Start() error {
	if !r.Server.IsValid() {
		return errors.New("bench: Relay.Server is not set")
	}
	if r.Loss < 0 || r.Loss > 1 {
		return fmt.Errorf("bench: Relay.Loss %v: want 0 to 1", r.Loss)
	}
	if r.ln != nil {
		return errors.New("bench: Relay already started")
	}
	network, lo := "udp4", netip.MustParseAddr("127.0.0.1")
	if r.Server.Addr().Is6() {
		network, lo = "udp6", netip.IPv6Loopback()
	}
	ln, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
	if err != nil {
		return fmt.Errorf("bench: relay: %w", err)
	}
	r.ln = ln
	r.flows = map[netip.AddrPort]*flow{}
	r.upRand = &lockedRand{r: rand.New(rand.NewPCG(r.Seed, 1)), loss: r.Loss}
	r.downRand = &lockedRand{r: rand.New(rand.NewPCG(r.Seed, 2)), loss: r.Loss}
	r.wg.Go(r.readClients)
	return nil
}

// Addr returns the address clients should send to, as "host:port".
func (r *Relay) Addr() string { return r.ln.LocalAddr().String() }

// Stats returns the counts so far.
func (r *Relay) Stats() RelayStats {
	c := &r.stats
	return RelayStats{
		Flows: c.flows.Load(), Up: c.up.Load(), Down: c.down.Load(),
		UpDropped: c.upDropped.Load(), DownDropped: c.downDropped.Load(),
		ClientResends: c.clientResends.Load(), ServerResends: c.serverResends.Load(),
	}
}

// Close stops the relay, closes every socket and waits for its goroutines.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	fs := make([]*flow, 0, len(r.flows))
	for _, f := range r.flows {
		fs = append(fs, f)
	}
	r.mu.Unlock()
	err := r.ln.Close()
	for _, f := range fs {
		_ = f.up.Close() // closing ends the flow's reader; nothing to report
	}
	r.wg.Wait()
	return err
}

func (r *Relay) idle() time.Duration {
	if r.Idle > 0 {
		return r.Idle
	}
	return DefaultRelayIdle
}

// readClients relays packets from clients until the listener closes.
func (r *Relay) readClients() {
	buf := make([]byte, 65536)
	for {
		n, from, err := r.ln.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a transient error (ICMP port unreachable): keep serving
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		f, err := r.flowFor(from)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// No socket for a new flow: the packet is lost, as on a
			// congested network.
			r.stats.up.Add(1)
			r.stats.upDropped.Add(1)
			continue
		}
		f.seen.Store(time.Now().UnixNano())
		pkt := buf[:n]
		r.stats.up.Add(1)
		if f.last != nil && bytes.Equal(f.last, pkt) {
			r.stats.clientResends.Add(1)
		}
		f.last = append(f.last[:0], pkt...)
		if r.upRand.drop() {
			r.stats.upDropped.Add(1)
			continue
		}
		f.mu.Lock()
		to := f.peer
		f.mu.Unlock()
		_, _ = f.up.WriteToUDPAddrPort(pkt, to) // a lost datagram is the client's to retransmit
	}
}

// flowFor returns the flow of client, starting one if needed; net.ErrClosed
// once the relay is closed.
func (r *Relay) flowFor(client netip.AddrPort) (*flow, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, net.ErrClosed
	}
	if f := r.flows[client]; f != nil {
		return f, nil
	}
	network := "udp4"
	if r.Server.Addr().Is6() {
		network = "udp6"
	}
	up, err := net.ListenUDP(network, &net.UDPAddr{IP: r.ln.LocalAddr().(*net.UDPAddr).IP})
	if err != nil {
		return nil, fmt.Errorf("bench: relay: upstream socket for %v: %w", client, err)
	}
	f := &flow{client: client, up: up, peer: r.Server}
	r.flows[client] = f
	r.stats.flows.Add(1)
	r.wg.Go(func() { r.readServer(f) })
	return f, nil
}

// readServer relays the server's packets of flow f to its client until the
// flow is idle or closed.
func (r *Relay) readServer(f *flow) {
	defer func() {
		r.mu.Lock()
		if r.flows[f.client] == f {
			delete(r.flows, f.client)
		}
		r.mu.Unlock()
		_ = f.up.Close() // may already be closed by Close
	}()
	buf := make([]byte, 65536)
	idle := r.idle()
	for {
		_ = f.up.SetReadDeadline(time.Now().Add(idle)) // fails only once closed, which the read then reports
		n, from, err := f.up.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				if time.Since(time.Unix(0, f.seen.Load())) < idle {
					continue
				}
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		f.mu.Lock()
		if !f.locked && from.Addr() == r.Server.Addr() {
			f.peer, f.locked = from, true
		}
		ok := f.locked && from == f.peer
		f.mu.Unlock()
		if !ok {
			continue
		}
		f.seen.Store(time.Now().UnixNano())
		pkt := buf[:n]
		r.stats.down.Add(1)
		if n >= 4 && pkt[0] == 0 && pkt[1] == 3 { // DATA
			b := uint16(pkt[2])<<8 | uint16(pkt[3])
			if f.haveData && int16(b-f.maxBlock) <= 0 {
				r.stats.serverResends.Add(1)
			} else {
				f.haveData, f.maxBlock = true, b
			}
		}
		if r.downRand.drop() {
			r.stats.downDropped.Add(1)
			continue
		}
		_, _ = r.ln.WriteToUDPAddrPort(pkt, f.client) // lost datagrams are retransmitted by the endpoints
	}
}
