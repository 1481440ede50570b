package tftptest

import (
	"math/rand"
	"net"
	"sync"
	"time"
)

// Loss is the fraction (0 to 1) of packets a LossyConn drops, duplicates
// and reorders, in each direction.
type Loss struct {
	Drop, Duplicate, Reorder float64
}

// LossyConn wraps a net.PacketConn and, using seeded math/rand sources,
// drops, duplicates and reorders packets both ways. A reordered packet is
// held back until the next packet in the same direction has passed it; a
// held write goes out anyway after 20ms without another write, and a held
// read is returned when the next read fails (for example at its deadline).
type LossyConn struct {
	net.PacketConn
	loss Loss

	rmu   sync.Mutex
	rrnd  *rand.Rand
	ready []packet // read side: to deliver before reading again
	rhold *packet

	wmu   sync.Mutex
	wrnd  *rand.Rand
	whold *packet
	wtime *time.Timer
}

type packet struct {
	b    []byte
	addr net.Addr
}

// NewLossyConn wraps pc. The same seed gives the same decisions for the
// same sequence of packets.
func NewLossyConn(pc net.PacketConn, seed int64, loss Loss) *LossyConn {
	return &LossyConn{
		PacketConn: pc,
		loss:       loss,
		rrnd:       rand.New(rand.NewSource(seed)),
		wrnd:       rand.New(rand.NewSource(seed ^ 0x5eed)),
	}
}

func (c *LossyConn) decide(r float64) (drop, dup, reorder bool) {
	l := c.loss
	switch {
	case r < l.Drop:
		return true, false, false
	case r < l.Drop+l.Duplicate:
		return false, true, false
	case r < l.Drop+l.Duplicate+l.Reorder:
		return false, false, true
	}
	return false, false, false
}

// ReadFrom returns the next packet after loss, duplication and reordering.
func (c *LossyConn) ReadFrom(p []byte) (int, net.Addr, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if len(c.ready) > 0 {
			h := c.ready[0]
			c.ready = c.ready[1:]
			return copy(p, h.b), h.addr, nil
		}
		buf := make([]byte, len(p))
		n, addr, err := c.PacketConn.ReadFrom(buf)
		if err != nil {
			if c.rhold != nil {
				h := c.rhold
				c.rhold = nil
				return copy(p, h.b), h.addr, nil
			}
			return n, addr, err
		}
		buf = buf[:n]
		drop, dup, reorder := c.decide(c.rrnd.Float64())
		switch {
		case drop:
			continue
		case reorder && c.rhold == nil:
			c.rhold = &packet{buf, addr}
			continue
		case dup:
			c.ready = append(c.ready, packet{buf, addr})
		}
		if c.rhold != nil {
			c.ready = append(c.ready, *c.rhold)
			c.rhold = nil
		}
		return copy(p, buf), addr, nil
	}
}

// WriteTo sends p after loss, duplication and reordering. It reports
// success for dropped packets, as a network would.
func (c *LossyConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	drop, dup, reorder := c.decide(c.wrnd.Float64())
	switch {
	case drop:
		return len(p), nil
	case reorder && c.whold == nil:
		h := &packet{append([]byte(nil), p...), addr}
		c.whold = h
		c.wtime = time.AfterFunc(20*time.Millisecond, func() {
			c.wmu.Lock()
			defer c.wmu.Unlock()
			if c.whold == h {
				c.whold = nil
				_, _ = c.PacketConn.WriteTo(h.b, h.addr)
			}
		})
		return len(p), nil
	}
	n, err := c.PacketConn.WriteTo(p, addr)
	if err != nil {
		return n, err
	}
	if dup {
		if _, err := c.PacketConn.WriteTo(p, addr); err != nil {
			return n, err
		}
	}
	if h := c.whold; h != nil {
		c.whold = nil
		c.wtime.Stop()
		if _, err := c.PacketConn.WriteTo(h.b, h.addr); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Close stops a pending held write and closes the underlying connection.
func (c *LossyConn) Close() error {
	c.wmu.Lock()
	c.whold = nil
	if c.wtime != nil {
		c.wtime.Stop()
	}
	c.wmu.Unlock()
	return c.PacketConn.Close()
}
