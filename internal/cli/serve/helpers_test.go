package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// emptyConfig returns the path of an empty configuration file.
func emptyConfig(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "empty.toml")
	writeFile(t, p, "")
	return p
}

// piDisk builds an MBR image: partition 1 FAT32 with tree, partition 2 an
// empty Linux partition.
func piDisk(t testing.TB, tree fixture.Tree) *fixture.DiskImage {
	t.Helper()
	return fixture.NewDisk(t, fixture.Disk{Label: "dos", Partitions: []fixture.Partition{
		{Type: "c", Size: 34 << 20, FAT: &fixture.FAT{Type: 32, Tree: tree}},
		{Type: "83", Size: 1 << 20},
	}})
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// notifySocket is a fake systemd notify socket.
type notifySocket struct {
	path string
	msgs chan string
}

func newNotifySocket(t testing.TB) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{path: path, msgs: make(chan string, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return n
}

// next returns the next message, failing the test after 20 s.
func (n *notifySocket) next(t testing.TB) string {
	t.Helper()
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	select {
	case m := <-n.msgs:
		return m
	case <-timer.C:
		t.Fatal("no notification within 20s")
		return ""
	}
}

// expect reads messages until one starts with prefix, skipping STATUS= and
// WATCHDOG=1 lines, and fails on any other message.
func (n *notifySocket) expect(t testing.TB, prefix string) string {
	t.Helper()
	for range 32 {
		m := n.next(t)
		if strings.HasPrefix(m, "STATUS=") || m == "WATCHDOG=1" {
			continue
		}
		if !strings.HasPrefix(m, prefix) {
			t.Fatalf("notification %q, want %s", m, prefix)
		}
		return m
	}
	t.Fatalf("no %s among 32 notifications", prefix)
	return ""
}

// running is Main running in-process.
type running struct {
	addr string
	sigs chan os.Signal
	done chan int
	log  *tftptest.LogBuffer
	out  *tftptest.LogBuffer
}

// startDaemon runs Main with args on a loopback socket; env adds
// environment variables.
func startDaemon(t testing.TB, args []string, env map[string]string) *running {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &running{sigs: make(chan os.Signal, 4), done: make(chan int, 1), log: &tftptest.LogBuffer{}, out: &tftptest.LogBuffer{}}
	ready := make(chan net.Addr, 1)
	e := Env{
		Stdout: d.out, Stderr: d.log, Signals: d.sigs, PacketConn: pc,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Listening: func(a net.Addr) { ready <- a },
	}
	go func() { d.done <- Main(context.Background(), args, e) }()
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	select {
	case a := <-ready:
		d.addr = a.String()
	case code := <-d.done:
		t.Fatalf("Main exited with %d before serving:\n%s", code, d.log)
	case <-timer.C:
		t.Fatalf("Main not serving after 20s:\n%s", d.log)
	}
	t.Cleanup(func() {
		select {
		case d.sigs <- syscall.SIGTERM:
		default:
		}
		d.wait(t)
	})
	return d
}

// wait returns Main's exit status, once.
func (d *running) wait(t testing.TB) int {
	t.Helper()
	if d.done == nil {
		return -1
	}
	timer := time.NewTimer(40 * time.Second)
	defer timer.Stop()
	select {
	case code := <-d.done:
		d.done = nil
		return code
	case <-timer.C:
		t.Fatalf("Main did not return within 40s:\n%s", d.log)
		return -1
	}
}

func get(ctx context.Context, addr, name string, blksize int) ([]byte, error) {
	var b bytes.Buffer
	c := tftp.Client{TransferSize: true, BlockSize: blksize}
	_, err := c.Get(ctx, addr, name, &b)
	return b.Bytes(), err
}

func mustGet(t testing.TB, addr, name string, want []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := get(ctx, addr, name, 1024)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("get %s: %d bytes, want %d bytes (content differs)", name, len(got), len(want))
	}
}

// rawTransfer is a lock-step read driven by hand, so that a test can hold
// a transfer open at a chosen point.
type rawTransfer struct {
	conn  *net.UDPConn
	peer  *net.UDPAddr
	block uint16
	data  bytes.Buffer
	last  bool
}

// startRaw sends an RRQ without options (512-byte blocks) and reads the
// first DATA block without acknowledging it.
func startRaw(t testing.TB, addr, name string) *rawTransfer {
	t.Helper()
	server, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rrq := append([]byte{0, 1}, name...)
	rrq = append(append(rrq, 0), "octet\x00"...)
	if _, err := conn.WriteToUDP(rrq, server); err != nil {
		t.Fatal(err)
	}
	x := &rawTransfer{conn: conn}
	x.readData(t)
	return x
}

// readData reads the next new DATA block, skipping retransmissions.
func (x *rawTransfer) readData(t testing.TB) {
	t.Helper()
	buf := make([]byte, 600)
	for range 64 {
		if err := x.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, from, err := x.conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("raw transfer: waiting for block %d: %v", x.block+1, err)
		}
		if n < 4 {
			t.Fatalf("raw transfer: short packet %x", buf[:n])
		}
		op, blk := binary.BigEndian.Uint16(buf), binary.BigEndian.Uint16(buf[2:])
		if op == 5 {
			t.Fatalf("raw transfer: ERROR %d %q", blk, buf[4:n])
		}
		if op != 3 {
			t.Fatalf("raw transfer: opcode %d", op)
		}
		if blk == x.block {
			continue // a retransmission of the block already held
		}
		if blk != x.block+1 {
			t.Fatalf("raw transfer: block %d after %d", blk, x.block)
		}
		x.peer, x.block = from, blk
		x.data.Write(buf[4:n])
		x.last = n-4 < 512
		return
	}
	t.Fatal("raw transfer: too many retransmissions")
}

func (x *rawTransfer) ack(t testing.TB) {
	t.Helper()
	if _, err := x.conn.WriteToUDP([]byte{0, 4, byte(x.block >> 8), byte(x.block)}, x.peer); err != nil {
		t.Fatal(err)
	}
}

// finish acknowledges every block until the last and returns the data.
func (x *rawTransfer) finish(t testing.TB) []byte {
	t.Helper()
	for !x.last {
		x.ack(t)
		x.readData(t)
	}
	x.ack(t)
	return x.data.Bytes()
}

func isTFTPError(err error, code tftp.ErrorCode) bool {
	var te *tftp.Error
	return errors.As(err, &te) && te.Code == code
}
