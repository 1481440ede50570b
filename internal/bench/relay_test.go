package bench

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"github.com/nobodd-go/nobodd-go/tftp"
)

// expectedDrops replays the relay's decisions for n packets of direction
// stream (1 up, 2 down).
func expectedDrops(seed, stream uint64, loss float64, n int64) int64 {
	r := rand.New(rand.NewPCG(seed, stream))
	var d int64
	for range n {
		if r.Float64() < loss {
			d++
		}
	}
	return d
}

func TestRelayDropFraction(t *testing.T) {
	// The decisions alone: about the configured fraction.
	for _, loss := range []float64{0.05, 0.2} {
		if d := expectedDrops(99, 1, loss, 100_000); d < int64(loss*0.9*100_000) || d > int64(loss*1.1*100_000) {
			t.Errorf("loss %v: %d of 100000 dropped", loss, d)
		}
	}

	// Through sockets: an echo server behind a relay, one packet at a time.
	echo, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = echo.WriteToUDPAddrPort(buf[:n], from) // the test counts what came back
		}
	}()
	const seed, loss, n = 7, 0.05, 200
	r := &Relay{Server: echo.LocalAddr().(*net.UDPAddr).AddrPort(), Loss: loss, Seed: seed}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := net.Dial("udp4", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := 0
	buf := make([]byte, 64)
	for i := range n {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i)+1000) // never a DATA opcode
		if _, err := c.Write(b[:]); err != nil {
			t.Fatal(err)
		}
		// Wait for this packet's echo; a drop shows up as the deadline.
		if err := c.SetReadDeadline(time.Now().Add(150 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		for range 10 {
			m, err := c.Read(buf)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if m == 8 && binary.BigEndian.Uint64(buf[:8]) == uint64(i)+1000 {
				got++
				break
			}
		}
	}
	st := r.Stats()
	if st.Up != n {
		t.Fatalf("relay saw %d packets up, want %d", st.Up, n)
	}
	if want := expectedDrops(seed, 1, loss, n); st.UpDropped != want {
		t.Errorf("dropped %d up, want %d for seed %d", st.UpDropped, want, seed)
	}
	if want := expectedDrops(seed, 2, loss, st.Down); st.DownDropped != want {
		t.Errorf("dropped %d of %d down, want %d", st.DownDropped, st.Down, want)
	}
	if st.UpDropped == 0 || st.UpDropped > n/5 {
		t.Errorf("dropped %d of %d up; want about 5%%", st.UpDropped, n)
	}
	if int64(got) > n-st.UpDropped || got == 0 {
		t.Errorf("%d echoes came back of %d sent, %d dropped up", got, n, st.UpDropped)
	}
	if st.Flows != 1 {
		t.Errorf("flows %d, want 1", st.Flows)
	}
}

func TestRelayTransfersWithLoss(t *testing.T) {
	data := fixture.Pseudo(3, 50_000)
	s := newFileServer(t, map[string][]byte{"initrd": data})
	r := &Relay{Server: s.AddrPort, Loss: 0.05, Seed: 1}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d := Digest{Size: int64(len(data)), Sum: sha256.Sum256(data)}
	tr := &Transfer{Client: tftp.Client{BlockSize: 1024, Timeout: 200 * time.Millisecond, Retries: 10}, Addr: r.Addr(), File: "initrd", Expect: &d}
	res, err := Run(t.Context(), Load{Total: 3, Concurrency: 3, JobTimeout: 30 * time.Second}, tr.Job)
	if err != nil {
		t.Fatal(err)
	}
	sum := Summarize(res)
	if sum.OK != 3 {
		t.Fatalf("%d of 3 OK, failures %v (%v)", sum.OK, sum.Failures, res.Outcomes[0].Err)
	}
	st := r.Stats()
	if st.UpDropped+st.DownDropped == 0 {
		t.Errorf("no packet dropped of %d up and %d down", st.Up, st.Down)
	}
	if st.ClientResends+st.ServerResends == 0 {
		t.Errorf("drops %d/%d but no retransmission seen", st.UpDropped, st.DownDropped)
	}
	if st.Flows != 3 {
		t.Errorf("flows %d, want 3", st.Flows)
	}
}

func TestRelayNoLossCountsNothing(t *testing.T) {
	data := fixture.Pseudo(4, 20_000)
	s := newFileServer(t, map[string][]byte{"f": data})
	r := &Relay{Server: s.AddrPort}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tr := &Transfer{Client: tftp.Client{BlockSize: 512}, Addr: r.Addr(), File: "f"}
	res, err := Run(t.Context(), Load{Total: 2, JobTimeout: 30 * time.Second}, tr.Job)
	if err != nil {
		t.Fatal(err)
	}
	if sum := Summarize(res); sum.OK != 2 {
		t.Fatalf("failures %v", sum.Failures)
	}
	st := r.Stats()
	if st.UpDropped != 0 || st.DownDropped != 0 || st.ServerResends != 0 {
		t.Errorf("stats %+v: drops or resends without loss", st)
	}
	// 40 blocks (20000/512 rounded up) per transfer reached the client.
	if st.Down < 2*40 {
		t.Errorf("%d packets down, want at least 80", st.Down)
	}
	if err := (&Relay{}).Start(); err == nil {
		t.Error("a relay without a server started")
	}
	if err := (&Relay{Server: netip.MustParseAddrPort("127.0.0.1:9"), Loss: 2}).Start(); err == nil {
		t.Error("loss 2 accepted")
	}
}

func TestRelayIPv6(t *testing.T) {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		testpeer.Missing(t, "IPv6 loopback: "+err.Error())
	}
	data := fixture.Pseudo(5, 9_000)
	srv := &tftp.Server{Handler: tftp.FileServer(fstest.MapFS{"f": &fstest.MapFile{Data: data}})}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(pc) }()
	defer func() {
		if err := srv.Shutdown(t.Context()); err != nil {
			t.Error(err)
		}
		<-done
	}()
	r := &Relay{Server: pc.LocalAddr().(*net.UDPAddr).AddrPort(), Loss: 0.1, Seed: 2}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !strings.HasPrefix(r.Addr(), "[::1]:") {
		t.Errorf("relay address %s, want [::1]:port", r.Addr())
	}
	d := Digest{Size: int64(len(data)), Sum: sha256.Sum256(data)}
	tr := &Transfer{Client: tftp.Client{BlockSize: 512, Timeout: 100 * time.Millisecond, Retries: 20}, Addr: r.Addr(), File: "f", Expect: &d}
	res, err := Run(t.Context(), Load{Total: 2, JobTimeout: 30 * time.Second}, tr.Job)
	if err != nil {
		t.Fatal(err)
	}
	if sum := Summarize(res); sum.OK != 2 {
		t.Errorf("failures %v: %v", sum.Failures, res.Outcomes[0].Err)
	}
}
