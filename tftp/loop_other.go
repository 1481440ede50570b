//go:build !linux

package tftp

import (
	"errors"
	"net/netip"
)

// Event loops need epoll(7): elsewhere every transfer runs in its own
// goroutine.

func loopsSupported() bool { return false }

type loopSet struct{}

type loopTransport struct{ transport }

func listenLoop(*Server, netip.Addr, netip.AddrPort, int, int) (*loopTransport, error) {
	return nil, errors.ErrUnsupported
}

func (lt *loopTransport) run(*reader) (Outcome, error) { return Failed, errors.ErrUnsupported }

func (ls *loopSet) running() int { return 0 }
