package testpeer

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

// TestOnFreePort: start is called again while it reports the port taken,
// each time with a port that could be bound, and not after it succeeds.
func TestOnFreePort(t *testing.T) {
	calls := 0
	OnFreePort(t, "udp", net.IPv4(127, 0, 0, 1), func(port int) error {
		calls++
		if port <= 0 || port > 65535 {
			t.Errorf("port %d", port)
		}
		if calls < 3 {
			return fmt.Errorf("bind: %w", ErrPortInUse)
		}
		return nil
	})
	if calls != 3 {
		t.Errorf("start called %d times, want 3", calls)
	}
}

// TestOnFreePortBound: the port given to start can really be bound.
func TestOnFreePortBound(t *testing.T) {
	OnFreePort(t, "udp", net.IPv4(127, 0, 0, 1), func(port int) error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("%w: %v", ErrPortInUse, err)
			}
			return err
		}
		return c.Close()
	})
}
