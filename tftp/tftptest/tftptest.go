// Package tftptest runs TFTP servers on the loopback interface for tests,
// in the manner of net/http/httptest, and simulates lossy networks.
//
// Limits: servers listen on 127.0.0.1 only; LossyConn is deterministic only
// for a given sequence of calls (goroutine scheduling may still vary it).
package tftptest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
)

// Server is a TFTP server listening on a free port of 127.0.0.1.
type Server struct {
	// Addr is the address the server listens on, as "127.0.0.1:port".
	Addr string
	// AddrPort is Addr parsed.
	AddrPort netip.AddrPort
	// Server is the server itself; with NewUnstartedServer, configure it
	// before Start.
	Server *tftp.Server

	pc   net.PacketConn
	done chan error

	closeOnce sync.Once
	closeErr  error
}

// NewServer starts a server for h on 127.0.0.1 and returns it. The caller
// must Close it.
func NewServer(h tftp.Handler) *Server {
	s := NewUnstartedServer(h)
	s.Start()
	return s
}

// Start starts a server for h on 127.0.0.1 that is closed when the test
// ends, an error in closing failing the test.
func Start(tb testing.TB, h tftp.Handler) *Server {
	tb.Helper()
	s := NewServer(h)
	s.CloseAtEnd(tb)
	return s
}

// CloseAtEnd has s closed when the test ends, an error in closing failing
// the test.
func (s *Server) CloseAtEnd(tb testing.TB) {
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("tftptest: closing the server on %s: %v", s.Addr, err)
		}
	})
}

// NewUnstartedServer returns a server for h with its socket open but not yet
// serving, so its Server fields can be set before Start.
func NewUnstartedServer(h tftp.Handler) *Server {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("tftptest: listening on 127.0.0.1: %v", err))
	}
	ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	return &Server{
		Addr:     ap.String(),
		AddrPort: ap,
		Server:   &tftp.Server{Handler: h},
		pc:       pc,
	}
}

// NewUnstartedServerConn returns a server s, not yet serving, that will serve
// pc (for example a LossyConn over a loopback socket). Addr is pc's local
// address. If s is nil, a zero tftp.Server is used.
func NewUnstartedServerConn(pc net.PacketConn, s *tftp.Server) *Server {
	if s == nil {
		s = &tftp.Server{}
	}
	ap, _ := netip.ParseAddrPort(pc.LocalAddr().String())
	return &Server{Addr: ap.String(), AddrPort: ap, Server: s, pc: pc}
}

// Start starts serving.
func (s *Server) Start() {
	if s.done != nil {
		panic("tftptest: Server already started")
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.Server.Serve(s.pc) }()
}

// Close shuts the server down, giving transfers in flight up to 5 seconds
// to finish before they are cancelled, and waits for Serve to return. It
// returns Serve's error if it was anything but tftp.ErrServerClosed. Later
// calls return what the first returned.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.done == nil {
		return s.pc.Close()
	}
	err := s.Server.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, tftp.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
