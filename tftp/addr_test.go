package tftp

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
)

func haveIPv6(t *testing.T) {
	t.Helper()
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		testpeer.Missing(t, "IPv6 loopback: "+err.Error())
	}
	pc.Close()
}

// TestRepliesFromRequestAddress checks that replies come from the address a
// request was sent to, for sockets bound to wildcard addresses.
func TestRepliesFromRequestAddress(t *testing.T) {
	cases := []struct {
		listenNet, listenAddr string
		clientNet, clientAddr string
		dst                   string
		v6                    bool
	}{
		{"udp4", "0.0.0.0:0", "udp4", "127.0.0.1:0", "127.0.0.2", false},
		{"udp", "0.0.0.0:0", "udp4", "127.0.0.1:0", "127.0.0.3", false},
		{"udp", "[::]:0", "udp4", "127.0.0.1:0", "127.0.0.4", true},
		{"udp", "[::]:0", "udp6", "[::1]:0", "::1", true},
		{"udp6", "[::]:0", "udp6", "[::1]:0", "::1", true},
	}
	for _, tc := range cases {
		for _, single := range []bool{false, true} {
			name := fmt.Sprintf("%s-%s-to-%s-single=%v", tc.listenNet, tc.listenAddr, tc.dst, single)
			t.Run(name, func(t *testing.T) {
				if tc.v6 {
					haveIPv6(t)
				}
				sink := newStatsSink()
				srv := &Server{Handler: oneFile("f", pattern(700)), OnTransfer: sink.on, SinglePort: single}
				ap := startServer(t, srv, tc.listenNet, tc.listenAddr)
				dst := netip.AddrPortFrom(netip.MustParseAddr(tc.dst), ap.Port())
				c := newRawClient(t, tc.clientNet, tc.clientAddr)
				c.send(net.UDPAddrFromAddrPort(dst), rrq("f", "octet", "tsize", "0"))
				p, from := c.recv(5 * time.Second)
				if _, ok := p.(*OACKPacket); !ok {
					t.Fatalf("got %+v", p)
				}
				fromAP := unmapPort(from.AddrPort())
				if fromAP.Addr() != dst.Addr() {
					t.Errorf("OACK came from %v, request went to %v", from, dst)
				}
				if single && fromAP.Port() != dst.Port() {
					t.Errorf("single port: OACK from port %d, want %d", fromAP.Port(), dst.Port())
				}
				if !single && fromAP.Port() == dst.Port() {
					t.Errorf("OACK from the main port %d", dst.Port())
				}
				c.send(from, AppendAck(nil, 0))
				d, from2 := expectData(t, c, 1)
				if from2.String() != from.String() {
					t.Errorf("DATA from %v, OACK from %v", from2, from)
				}
				c.send(from, AppendAck(nil, 1))
				d, _ = expectData(t, c, 2)
				c.send(from, AppendAck(nil, 2))
				if len(d.Data) != 188 {
					t.Errorf("last block %d bytes", len(d.Data))
				}
				st := sink.next(t)
				if st.Outcome != Completed {
					t.Errorf("stats %+v", st)
				}
				if st.LocalAddr.Addr() != dst.Addr() || st.RemoteAddr.Addr().Is4In6() {
					t.Errorf("stats addresses local %v remote %v", st.LocalAddr, st.RemoteAddr)
				}
			})
		}
	}
}

func TestRequestAddresses(t *testing.T) {
	haveIPv6(t)
	got := make(chan *Request, 1)
	live := make(chan bool, 1)
	h := HandlerFunc(func(r *Request) (io.ReaderAt, int64, error) {
		live <- r.Context().Err() == nil
		got <- r
		return nil, 0, &Error{Code: ErrNotFound, Message: "nope"}
	})
	srv := &Server{Handler: h}
	ap := startServer(t, srv, "udp", "[::]:0")
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	c.send(net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.5"), ap.Port())), rrq("x", "octet"))
	c.expectError(5*time.Second, ErrNotFound)
	r := <-got
	wantRemote := unmapPort(c.conn.LocalAddr().(*net.UDPAddr).AddrPort())
	if r.RemoteAddr != wantRemote || r.LocalAddr != netip.MustParseAddrPort(fmt.Sprintf("127.0.0.5:%d", ap.Port())) {
		t.Errorf("Request addresses remote %v local %v", r.RemoteAddr, r.LocalAddr)
	}
	if !<-live {
		t.Error("context cancelled during the handler")
	}
}

func TestPortRange(t *testing.T) {
	base := 40000 + rand.IntN(20000)
	srv := &Server{Handler: oneFile("f", pattern(100)), PortMin: base, PortMax: base + 19}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	for i := 0; i < 3; i++ {
		c := newRawClient(t, "udp4", "127.0.0.1:0")
		res, err := clientGet(c.conn, addr, "f", getOpts{})
		if err != nil {
			t.Fatal(err)
		}
		port := res.server.(*net.UDPAddr).Port
		if port < base || port > base+19 {
			t.Errorf("transfer port %d outside %d..%d", port, base, base+19)
		}
	}
}

func TestSinglePortConcurrent(t *testing.T) {
	srv := &Server{Handler: oneFile("f", pattern(20000)), SinglePort: true}
	ap := startServer(t, srv, "udp4", "127.0.0.1:0")
	addr := net.UDPAddrFromAddrPort(ap)
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				errs <- err
				return
			}
			defer pc.Close()
			res, err := clientGet(pc, addr, "f", getOpts{opts: Options{{"blksize", "1000"}, {"windowsize", "4"}}})
			if err == nil && res.server.(*net.UDPAddr).Port != int(ap.Port()) {
				err = fmt.Errorf("single port: data from %v", res.server)
			}
			if err == nil && string(res.data) != string(pattern(20000)) {
				err = fmt.Errorf("data differs")
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
