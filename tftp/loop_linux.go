//go:build linux

package tftp

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Event loops run the data phase of read transfers. Each loop is one
// goroutine owning an epoll(7) instance that holds the sockets of all its
// transfers and an eventfd announcing new transfers and cancellations. The
// epoll descriptor itself is registered with Go's poller: the loop takes
// every ready event with a non-blocking epoll_pwait and, when there is
// none, parks in the poller like any reader of a socket, so no thread of
// ours blocks in a system call (which would keep the runtime's monitor
// thread waking every 20 µs). An ACK costs a share of one epoll_pwait
// (about 25 ready sockets each at 200 transfers), one recvfrom(2) and one
// sendto(2): no goroutine is parked or woken per block, and no speculative
// read meets an empty socket. A loop exits when it has no transfer left, so
// an idle server holds no thread, descriptor or goroutine for it.
//
// The transfer sockets are opened with socket(2), not the net package, so
// that Go's poller never watches them. Sends that meet a full socket buffer
// wait for room in ppoll(2) (at most sendWait, a few times), which on a
// saturated link paces the loop at the link's speed.

const (
	loopEvents = 128                    // events taken per epoll_wait
	sendWait   = 100 * time.Millisecond // longest wait for room to send
	sendTries  = 10                     // waits for room before a send fails
)

func loopsSupported() bool { return true }

// loopShare is how many transfers every running loop has before another
// loop starts. Below it one loop serves them all: its wait then finds more
// sockets ready per wake-up, and a parked loop costs the Go scheduler a
// park and a wake-up per wait (20 concurrent Pi 4 boots: 12% less CPU per
// GB with one loop than with two, at the same boots per second). Above it
// the loops spread over the cores, which at 100 boots gives 10% more
// boots per second than one loop.
const loopShare = 32

// pickLoop returns the index of the loop that takes a new transfer, given
// each loop's count of transfers (-1: not running): the running loop with
// the fewest, unless every running loop has share or more and one is not
// running, which then starts.
func pickLoop(counts []int, share int) int {
	best, idle := -1, -1
	for i, c := range counts {
		switch {
		case c < 0:
			if idle < 0 {
				idle = i
			}
		case best < 0 || c < counts[best]:
			best = i
		}
	}
	if best < 0 || (idle >= 0 && counts[best] >= share) {
		return idle
	}
	return best
}

// loopSet is a server's event loops, started on demand.
type loopSet struct {
	mu    sync.Mutex
	loops []*eventLoop // nil entries are not running
}

func (ls *loopSet) init(n int) {
	ls.mu.Lock()
	if ls.loops == nil {
		ls.loops = make([]*eventLoop, n)
	}
	ls.mu.Unlock()
}

// submit gives lt to a loop (see pickLoop), starting it if it is not
// running.
func (ls *loopSet) submit(lt *loopTransport) error {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var buf [16]int
	counts := buf[:0]
	for _, l := range ls.loops {
		c := -1
		if l != nil {
			c = l.count
		}
		counts = append(counts, c)
	}
	best := pickLoop(counts, loopShare)
	l := ls.loops[best]
	if l == nil {
		var err error
		if l, err = newEventLoop(ls, best); err != nil {
			return err
		}
		ls.loops[best] = l
		go l.run()
	}
	l.count++
	lt.loop = l
	l.mu.Lock()
	l.incoming = append(l.incoming, lt)
	l.mu.Unlock()
	if err := l.wake(); err != nil {
		// The loop owns a live eventfd while it has transfers (set.mu
		// keeps it from exiting): a failed write is a broken invariant,
		// and lt, already queued, cannot be taken back.
		panic(fmt.Sprintf("tftp: waking an event loop: %v", err))
	}
	return nil
}

// eventLoop is one event loop.
type eventLoop struct {
	set   *loopSet
	index int
	count int // transfers submitted and not finished; guarded by set.mu

	epfd, evfd int
	ep         *os.File        // epfd, registered with Go's poller
	raw        syscall.RawConn // ep's

	mu       sync.Mutex // guards incoming and cancels
	incoming []*loopTransport
	cancels  []*loopTransport

	// Owned by the loop goroutine.
	slots  []*loopTransport // by the index carried in epoll events
	free   []int32
	timers timerHeap
	live   int
	buf    []byte
	from   unix.RawSockaddrAny
}

// evIndex marks the eventfd in epoll events.
const evIndex = -1

func newEventLoop(set *loopSet, index int) (*eventLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: evIndex}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	// A non-blocking descriptor given to os.NewFile joins Go's poller;
	// an epoll descriptor is readable while it has ready events.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	ep := os.NewFile(uintptr(epfd), "epoll")
	raw, err := ep.SyscallConn()
	if err == nil {
		err = ep.SetReadDeadline(time.Time{}) // fails unless the poller took it
	}
	if err != nil {
		ep.Close()
		unix.Close(evfd)
		return nil, fmt.Errorf("tftp: event loop: %w", err)
	}
	return &eventLoop{set: set, index: index, epfd: epfd, evfd: evfd, ep: ep, raw: raw, buf: make([]byte, 65536)}, nil
}

// epollPoll returns the ready events without waiting.
func epollPoll(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func (l *eventLoop) wake() error {
	one := uint64(1)
	_, err := unix.Write(l.evfd, (*[8]byte)(unsafe.Pointer(&one))[:])
	if err != nil && err != unix.EAGAIN { // EAGAIN: the counter is full, a wake-up is pending anyway
		return os.NewSyscallError("eventfd write", err)
	}
	return nil
}

func (l *eventLoop) run() {
	events := make([]unix.EpollEvent, loopEvents)
	var armed time.Time // the read deadline set on ep
	// poll takes the ready events for raw.Read; made once, as a closure
	// made per wait would cost three allocations per block at low load.
	var n int
	var perr error
	poll := func(fd uintptr) bool {
		n, perr = epollPoll(int(fd), events)
		return n > 0 || (perr != nil && perr != unix.EINTR)
	}
	for {
		now := time.Now()
		for len(l.timers) > 0 && !l.timers[0].key.After(now) {
			lt := l.timers[0]
			if lt.r.deadline.After(lt.key) {
				lt.key = lt.r.deadline // the deadline moved on since: sleep again
				heap.Fix(&l.timers, 0)
				continue
			}
			l.step(lt, func() { lt.r.expire(now) })
		}
		if l.live == 0 && l.exit() {
			return
		}
		var next time.Time
		if len(l.timers) > 0 {
			next = l.timers[0].key
		}
		if !next.Equal(armed) {
			if err := l.ep.SetReadDeadline(next); err != nil {
				l.abortAll(err)
				continue
			}
			armed = next
		}
		// Wait in Go's poller, which watches the epoll descriptor: no
		// thread blocks in a system call of ours, and the runtime parks
		// this goroutine like any reader of a socket.
		n, perr = 0, nil
		err := l.raw.Read(poll)
		if err == nil {
			err = perr
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			// Not expected with valid descriptors: end every transfer
			// rather than spin.
			l.abortAll(fmt.Errorf("tftp: event loop: %w", err))
			continue
		}
		now = time.Now()
		for i := 0; i < n; i++ {
			idx := events[i].Fd
			if idx == evIndex {
				l.takeNew(now)
				continue
			}
			if lt := l.slots[idx]; lt != nil {
				l.receive(lt, now)
			}
		}
	}
}

// exit closes the loop if no transfer was submitted to it meanwhile.
func (l *eventLoop) exit() bool {
	l.set.mu.Lock()
	if l.count > 0 {
		l.set.mu.Unlock()
		return false
	}
	l.set.loops[l.index] = nil
	l.set.mu.Unlock()
	l.ep.Close()
	unix.Close(l.evfd)
	return true
}

// takeNew adds submitted transfers and applies cancellations.
func (l *eventLoop) takeNew(now time.Time) {
	var cnt [8]byte
	_, _ = unix.Read(l.evfd, cnt[:]) // reset; EAGAIN when already read
	l.mu.Lock()
	incoming, cancels := l.incoming, l.cancels
	l.incoming, l.cancels = nil, nil
	l.mu.Unlock()
	for _, lt := range incoming {
		l.add(lt, now)
	}
	for _, lt := range cancels {
		if lt.r != nil && !lt.r.done {
			l.step(lt, func() { lt.r.end(lt.t.fail(lt.t.ctx.Err())) })
		}
	}
}

func (l *eventLoop) add(lt *loopTransport, now time.Time) {
	var idx int32
	if n := len(l.free); n > 0 {
		idx, l.free = l.free[n-1], l.free[:n-1]
	} else {
		idx = int32(len(l.slots))
		l.slots = append(l.slots, nil)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: idx}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, lt.fd, &ev); err != nil {
		l.free = append(l.free, idx)
		lt.r.end(lt.t.fail(os.NewSyscallError("epoll_ctl", err)))
		l.done(lt)
		return
	}
	lt.idx = idx
	l.slots[idx] = lt
	l.live++
	lt.heapIdx = -1
	l.step(lt, func() { lt.r.start(now) })
}

// step runs f on lt's machine, then files lt under its new deadline or
// finishes it. A panic (in a handler's ReaderAt) ends only that transfer.
func (l *eventLoop) step(lt *loopTransport, f func()) {
	func() {
		defer func() {
			if p := recover(); p != nil {
				lt.r.end(lt.t.fail(fmt.Errorf("panic reading content: %v", p)))
			}
		}()
		f()
	}()
	r := lt.r
	switch {
	case r.done:
		l.remove(lt)
	case lt.heapIdx < 0:
		lt.key = r.deadline
		heap.Push(&l.timers, lt)
	case r.deadline.Before(lt.key):
		lt.key = r.deadline // the timer shrank: wake earlier
		heap.Fix(&l.timers, lt.heapIdx)
	}
	// A deadline that moved later keeps the earlier key: the loop wakes
	// then, finds the deadline moved, and sleeps again (once per timeout,
	// not once per block).
}

// receive takes one packet from lt's socket; epoll reports the socket again
// while more are queued.
func (l *eventLoop) receive(lt *loopTransport, now time.Time) {
	fromLen := uint32(unix.SizeofSockaddrAny)
	n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(lt.fd),
		uintptr(unsafe.Pointer(&l.buf[0])), uintptr(len(l.buf)), 0,
		uintptr(unsafe.Pointer(&l.from)), uintptr(unsafe.Pointer(&fromLen)))
	if e != 0 {
		if e == unix.EAGAIN || e == unix.EINTR {
			return
		}
		l.step(lt, func() { lt.r.end(lt.t.fail(os.NewSyscallError("recvfrom", e))) })
		return
	}
	p := l.buf[:n]
	if from := addrPortOfRaw(&l.from); from != lt.peerKey {
		lt.s.stranger(p, from, func(b []byte) error {
			return sendto(lt.fd, b, unsafe.Pointer(&l.from), fromLen)
		})
		return
	}
	l.step(lt, func() { lt.r.packet(p, now) })
}

// remove takes a finished transfer out of the loop.
func (l *eventLoop) remove(lt *loopTransport) {
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, lt.fd, nil)
	if lt.heapIdx >= 0 {
		heap.Remove(&l.timers, lt.heapIdx)
	}
	l.slots[lt.idx] = nil
	l.free = append(l.free, lt.idx)
	l.live--
	l.done(lt)
}

// done hands a finished transfer back to its goroutine.
func (l *eventLoop) done(lt *loopTransport) {
	l.set.mu.Lock()
	l.count--
	close(lt.finished)
	l.set.mu.Unlock()
}

// abortAll ends every transfer of the loop with err.
func (l *eventLoop) abortAll(err error) {
	for _, lt := range l.slots {
		if lt != nil {
			l.step(lt, func() { lt.r.end(lt.t.fail(err)) })
		}
	}
}

// timerHeap orders transfers by the deadline they sleep until.
type timerHeap []*loopTransport

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].key.Before(h[j].key) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *timerHeap) Push(x any) {
	lt := x.(*loopTransport)
	lt.heapIdx = len(*h)
	*h = append(*h, lt)
}
func (h *timerHeap) Pop() any {
	old := *h
	lt := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	lt.heapIdx = -1
	return lt
}

// loopTransport is the socket of a read transfer run by an event loop. Its
// send methods work from any goroutine (the transfer's own sends errors
// before the data phase); receiving is the loop's.
type loopTransport struct {
	s       *Server
	t       *transfer
	fd      int
	peer    netip.AddrPort
	peerKey netip.AddrPort // peer without zone, as recvfrom reports it
	sa      unix.RawSockaddrAny
	saLen   uint32
	addr    netip.AddrPort

	msgs []unix.Mmsghdr
	iovs []unix.Iovec

	// Loop state.
	loop     *eventLoop
	r        *reader
	idx      int32
	heapIdx  int
	key      time.Time
	finished chan struct{}
}

// listenLoop opens a transfer socket for an event loop on the local address
// laddr, with a port in [min, max] if max > 0.
func listenLoop(s *Server, laddr netip.Addr, peer netip.AddrPort, min, max int) (*loopTransport, error) {
	family := unix.AF_INET
	if !peer.Addr().Unmap().Is4() {
		family = unix.AF_INET6
	}
	ip := laddr.Unmap()
	if !ip.IsValid() || ip.Is4() != (family == unix.AF_INET) {
		ip = netip.Addr{}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	lt := &loopTransport{s: s, fd: fd, peer: peer, peerKey: netip.AddrPortFrom(peer.Addr().Unmap().WithZone(""), peer.Port())}
	fail := func(err error) (*loopTransport, error) {
		unix.Close(fd)
		return nil, err
	}
	if family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fail(os.NewSyscallError("setsockopt", err))
		}
	}
	bind := func(port int) error {
		var sa unix.Sockaddr
		if family == unix.AF_INET {
			sa4 := &unix.SockaddrInet4{Port: port}
			if ip.IsValid() {
				sa4.Addr = ip.As4()
			}
			sa = sa4
		} else {
			sa6 := &unix.SockaddrInet6{Port: port}
			if ip.IsValid() {
				sa6.Addr = ip.As16()
				sa6.ZoneId = zoneIndex(ip.Zone())
			}
			sa = sa6
		}
		if err := unix.Bind(fd, sa); err != nil {
			return &net.OpError{Op: "listen", Net: "udp", Addr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))), Err: os.NewSyscallError("bind", err)}
		}
		return nil
	}
	if err := bindPort(min, max, bind); err != nil {
		return fail(err)
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return fail(os.NewSyscallError("getsockname", err))
	}
	switch a := local.(type) {
	case *unix.SockaddrInet4:
		lt.addr = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		lt.addr = netip.AddrPortFrom(netip.AddrFrom16(a.Addr).WithZone(ip.Zone()), uint16(a.Port))
	}
	lt.saLen = rawSockaddr(&lt.sa, peer)
	return lt, nil
}

func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}

// rawSockaddr fills sa with ap and returns its length.
func rawSockaddr(sa *unix.RawSockaddrAny, ap netip.AddrPort) uint32 {
	port := ap.Port()
	if a := ap.Addr().Unmap(); a.Is4() {
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		s4.Family = unix.AF_INET
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		s4.Addr = a.As4()
		return unix.SizeofSockaddrInet4
	}
	s6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
	s6.Family = unix.AF_INET6
	p := (*[2]byte)(unsafe.Pointer(&s6.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	s6.Addr = ap.Addr().As16()
	s6.Scope_id = zoneIndex(ap.Addr().Zone())
	return unix.SizeofSockaddrInet6
}

// addrPortOfRaw converts a received address, without its zone.
func addrPortOfRaw(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		s6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&s6.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(s6.Addr).Unmap(), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// sendto sends b to the address sa, waiting for room in the socket buffer
// when it is full.
func sendto(fd int, b []byte, sa unsafe.Pointer, saLen uint32) error {
	if len(b) == 0 {
		return nil
	}
	for tries := 0; ; tries++ {
		_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, uintptr(sa), uintptr(saLen))
		switch {
		case e == 0:
			return nil
		case e == unix.EINTR:
		case e == unix.EAGAIN && tries < sendTries:
			if err := waitWritable(fd); err != nil {
				return err
			}
		default:
			return os.NewSyscallError("sendto", e)
		}
	}
}

// waitWritable waits until fd has room to send, at most sendWait.
func waitWritable(fd int) error {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	ts := unix.NsecToTimespec(int64(sendWait))
	if _, err := unix.Ppoll(fds, &ts, nil); err != nil && err != unix.EINTR {
		return os.NewSyscallError("ppoll", err)
	}
	return nil
}

func (lt *loopTransport) send(b []byte) error {
	return sendto(lt.fd, b, unsafe.Pointer(&lt.sa), lt.saLen)
}

// sendBatch sends the packets with sendmmsg(2).
func (lt *loopTransport) sendBatch(pkts [][]byte) error {
	if cap(lt.msgs) < len(pkts) {
		lt.msgs = make([]unix.Mmsghdr, len(pkts))
		lt.iovs = make([]unix.Iovec, len(pkts))
	}
	msgs := lt.msgs[:len(pkts)]
	for i, p := range pkts {
		lt.iovs[i].Base = &p[0]
		lt.iovs[i].SetLen(len(p))
		h := &msgs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&lt.sa))
		h.Namelen = lt.saLen
		h.Iov = &lt.iovs[i]
		h.SetIovlen(1)
	}
	for tries := 0; len(msgs) > 0; {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(lt.fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
		switch {
		case e == 0:
			msgs = msgs[n:]
		case e == unix.EINTR:
		case e == unix.EAGAIN && tries < sendTries:
			tries++
			if err := waitWritable(lt.fd); err != nil {
				return err
			}
		default:
			return os.NewSyscallError("sendmmsg", e)
		}
	}
	runtime.KeepAlive(pkts)
	return nil
}

var errLoopRecv = errors.New("tftp: a loop transfer's packets are received by its event loop")

func (lt *loopTransport) recv(context.Context, []byte, time.Time) (int, error) {
	return 0, errLoopRecv
}

func (lt *loopTransport) local() netip.AddrPort { return lt.addr }

func (lt *loopTransport) close() { unix.Close(lt.fd) }

// run hands r to an event loop and waits until the transfer ends, or asks
// the loop to end it when the transfer is cancelled.
func (lt *loopTransport) run(r *reader) (Outcome, error) {
	lt.t, lt.r = r.t, r
	lt.finished = make(chan struct{})
	lt.s.loops.init(lt.s.eventLoops())
	if err := lt.s.loops.submit(lt); err != nil {
		return r.t.fail(err)
	}
	select {
	case <-lt.finished:
	case <-r.t.ctx.Done():
		lt.cancel()
		<-lt.finished
	}
	return r.outcome, r.err
}

// cancel asks the loop to end the transfer. The set's lock keeps the loop
// alive meanwhile: a loop exits only with no transfer left, and a transfer
// leaves its loop under that lock.
func (lt *loopTransport) cancel() {
	ls := &lt.s.loops
	ls.mu.Lock()
	defer ls.mu.Unlock()
	select {
	case <-lt.finished:
		return
	default:
	}
	l := lt.loop
	l.mu.Lock()
	l.cancels = append(l.cancels, lt)
	l.mu.Unlock()
	if err := l.wake(); err != nil {
		// Not expected with a live eventfd; the loop still ends the
		// transfer when it times out.
		lt.s.logger().Warn("tftp: waking event loop", "err", err)
	}
}

// running returns how many loops are running.
func (ls *loopSet) running() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	n := 0
	for _, l := range ls.loops {
		if l != nil {
			n++
		}
	}
	return n
}
