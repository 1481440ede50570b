package netboot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/config"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// piDisk builds an MBR image: partition 1 FAT32 with tree, partition 2 an
// empty Linux partition.
func piDisk(t testing.TB, tree fixture.Tree) *fixture.DiskImage {
	t.Helper()
	return fixture.NewDisk(t, fixture.Disk{Label: "dos", Partitions: []fixture.Partition{
		{Type: "c", Size: 34 << 20, FAT: &fixture.FAT{Type: 32, Tree: tree}},
		{Type: "83", Size: 1 << 20},
	}})
}

func board(name, serial, img string) config.Board {
	s, err := config.ParseSerial(serial)
	if err != nil {
		panic(err)
	}
	return config.Board{Name: name, Serial: s, HasSerial: true, Image: img, Partition: 1}
}

func get(t *testing.T, addr, name string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var b bytes.Buffer
	c := tftp.Client{TransferSize: true, BlockSize: 1024}
	_, err := c.Get(ctx, addr, name, &b)
	return b.Bytes(), err
}

func mustGet(t *testing.T, addr, name string, want []byte) {
	t.Helper()
	got, err := get(t, addr, name)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("get %s: %d bytes, want %d bytes (content differs)", name, len(got), len(want))
	}
}

func wantCode(t *testing.T, err error, code tftp.ErrorCode, name string) *tftp.Error {
	t.Helper()
	var te *tftp.Error
	if !errors.As(err, &te) {
		t.Fatalf("get %q: err %v, want TFTP ERROR %d", name, err, code)
	}
	if te.Code != code {
		t.Fatalf("get %q: ERROR %d %q, want ERROR %d", name, te.Code, te.Message, code)
	}
	return te
}

func TestRoutePrefixes(t *testing.T) {
	tree := fixture.PiBoot()
	d := piDisk(t, tree)
	mac, err := config.ParseMAC("dc:a6:32:01:36:c2")
	if err != nil {
		t.Fatal(err)
	}
	b1 := board("pi-serial", "1234abcd", d.Path)
	b2 := config.Board{Name: "pi-mac", MAC: mac, Image: d.Path, Partition: 1}
	b3 := config.Board{Name: "pi-custom", Prefix: "Kiosk-1", Image: d.Path, Partition: 1}
	b4 := board("pi-16digit", "10000000CAFEF00D", d.Path)
	log, lb := tftptest.NewLogger(slog.LevelDebug)
	r := New(Config{Boards: []config.Board{b1, b2, b3, b4}}, log)
	defer r.Close()
	s := tftptest.Start(t, r)

	for _, c := range []struct{ req, file string }{
		{"1234abcd/config.txt", "config.txt"},
		{"1234ABCD/CONFIG.TXT", "config.txt"},
		{"/1234abcd/start4.elf", "start4.elf"},
		{"dc-a6-32-01-36-c2/kernel8.img", "kernel8.img"},
		{"DC-A6-32-01-36-C2/overlays/DWC2.dtbo", "overlays/dwc2.dtbo"},
		{"kiosk-1/Cmdline.txt", "cmdline.txt"},
		{"cafef00d/bcm2711-rpi-4-b.dtb", "bcm2711-rpi-4-b.dtb"},
		{"1234abcd/ssh", "ssh"},
	} {
		mustGet(t, s.Addr, c.req, tree[c.file].Data)
	}
	if got := r.Board("DC-A6-32-01-36-C2/x", netip.MustParseAddr("127.0.0.1")); got != "pi-mac" {
		t.Errorf("Board(mac path) = %q, want pi-mac", got)
	}
	// A missing file is ERROR 1 at once, and a directory too.
	for _, name := range []string{"1234abcd/recover4.elf", "1234abcd/overlays", "1234abcd/overlays/nope.dtbo"} {
		_, err := get(t, s.Addr, name)
		wantCode(t, err, tftp.ErrNotFound, name)
	}
	if l := lb.Lines("level=ERROR"); len(l) != 0 {
		t.Errorf("error lines logged for good requests: %q", l)
	}
}

func TestLogicalPartition(t *testing.T) {
	tree := fixture.Tree{"config.txt": {Data: []byte("logical\n")}, "kernel8.img": {Data: fixture.Pseudo(11, 70000)}}
	d := fixture.NewDisk(t, fixture.Disk{Label: "dos", Partitions: []fixture.Partition{
		{Type: "e", Size: 16 << 20, FAT: &fixture.FAT{Type: 16, Tree: fixture.Tree{"config.txt": {Data: []byte("primary\n")}}}},
		{Type: "5"},
		{Type: "e", Size: 16 << 20, FAT: &fixture.FAT{Type: 16, Tree: tree}},
	}})
	b := board("logical", "0000abcd", d.Path)
	b.Partition = 5
	r := New(Config{Boards: []config.Board{b}}, nil)
	defer r.Close()
	s := tftptest.Start(t, r)
	mustGet(t, s.Addr, "0000abcd/config.txt", tree["config.txt"].Data)
	mustGet(t, s.Addr, "0000abcd/kernel8.img", tree["kernel8.img"].Data)
}

func TestSuperfloppy(t *testing.T) {
	v := fixture.NewFAT(t, fixture.FAT{Type: 12, Tree: fixture.Tree{"start.elf": {Data: fixture.Pseudo(3, 9000)}}})
	b := board("floppy", "abcdef01", v.Image)
	b.Partition = 0
	r := New(Config{Boards: []config.Board{b}}, nil)
	defer r.Close()
	s := tftptest.Start(t, r)
	mustGet(t, s.Addr, "abcdef01/start.elf", v.Tree["start.elf"].Data)
}

func direct(r *Router, name string, from netip.Addr) ([]byte, error) {
	c, size, err := r.ServeTFTP(&tftp.Request{Op: tftp.OpRRQ, Filename: name, Mode: tftp.ModeOctet,
		RemoteAddr: netip.AddrPortFrom(from, 40000), LocalAddr: netip.MustParseAddrPort("127.0.0.1:69")})
	if err != nil {
		return nil, err
	}
	defer c.(io.Closer).Close()
	b := make([]byte, size)
	n, err := c.ReadAt(b, 0)
	if err == io.EOF && int64(n) == size {
		err = nil
	}
	return b[:n], err
}

func TestUnprefixedFallback(t *testing.T) {
	tree := fixture.PiBoot()
	d := piDisk(t, tree)
	root := t.TempDir()
	bootcode := fixture.Pseudo(21, 52000)
	if err := os.WriteFile(filepath.Join(root, "bootcode.bin"), bootcode, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "config.txt"), []byte("from root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "deadbeef"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "deadbeef", "start.elf"), []byte("root serial dir\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := board("pi", "1234abcd", d.Path)
	b.IP = netip.MustParseAddr("127.0.0.1")
	log, lb := tftptest.NewLogger(slog.LevelDebug)
	r := New(Config{Boards: []config.Board{b}, Root: root}, log)
	defer r.Close()
	s := tftptest.Start(t, r)

	// From the board's ip: the board's partition first, then the root.
	mustGet(t, s.Addr, "config.txt", tree["config.txt"].Data)
	mustGet(t, s.Addr, "overlays/disable-bt.dtbo", tree["overlays/disable-bt.dtbo"].Data)
	mustGet(t, s.Addr, "bootcode.bin", bootcode)
	// A serial-shaped prefix of no board: only the root.
	mustGet(t, s.Addr, "deadbeef/start.elf", []byte("root serial dir\n"))
	_, err := get(t, s.Addr, "deadbee0/start4.elf")
	if te := wantCode(t, err, tftp.ErrNotFound, "deadbee0/start4.elf"); !strings.Contains(te.Message, "deadbee0") {
		t.Errorf("unknown board message %q does not name the prefix", te.Message)
	}
	if len(lb.Lines("unknown board", "deadbee0")) != 1 {
		t.Errorf("no log line for the unknown board:\n%s", lb)
	}
	// From another client: the root only.
	other := netip.MustParseAddr("127.0.0.9")
	if got, err := direct(r, "config.txt", other); err != nil || string(got) != "from root\n" {
		t.Errorf("config.txt from %v: %q, %v; want the root's", other, got, err)
	}
	if _, err := direct(r, "start4.elf", other); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("start4.elf from %v: %v, want not found", other, err)
	}
	if r.Board("config.txt", other) != "" || r.Board("config.txt", b.IP) != "pi" {
		t.Errorf("Board for unprefixed requests: %q from %v, %q from %v", r.Board("config.txt", other), other, r.Board("config.txt", b.IP), b.IP)
	}

	// No root: ERROR 1.
	r.Reconfigure(Config{Boards: []config.Board{b}})
	_, err = get(t, s.Addr, "bootcode.bin")
	wantCode(t, err, tftp.ErrNotFound, "bootcode.bin")
	r.Reconfigure(Config{})
	_, err = get(t, s.Addr, "config.txt")
	wantCode(t, err, tftp.ErrNotFound, "config.txt")
}

func TestRootSymlinkEscape(t *testing.T) {
	root := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	log, lb := tftptest.NewLogger(slog.LevelDebug)
	r := New(Config{Root: root}, log)
	defer r.Close()
	s := tftptest.Start(t, r)
	_, err := get(t, s.Addr, "link")
	wantCode(t, err, tftp.ErrAccess, "link")
	if len(lb.Lines("refused request", "link")) == 0 {
		t.Errorf("no log line for the escaping link:\n%s", lb)
	}
}

// TestIPRestriction serves on a dual-stack socket, so that IPv4 clients
// arrive as ::ffff:127.0.0.1 and must still match.
func TestIPRestriction(t *testing.T) {
	tree := fixture.PiBoot()
	d := piDisk(t, tree)
	v4 := board("pi-v4", "1234abcd", d.Path)
	v4.IP = netip.MustParseAddr("127.0.0.1")
	v6 := board("pi-v6", "5678abcd", d.Path)
	v6.IP = netip.MustParseAddr("::1")
	elsewhere := board("pi-elsewhere", "9999abcd", d.Path)
	elsewhere.IP = netip.MustParseAddr("192.0.2.7")
	log, lb := tftptest.NewLogger(slog.LevelDebug)
	r := New(Config{Boards: []config.Board{v4, v6, elsewhere}}, log)
	defer r.Close()

	pc, err := net.ListenPacket("udp", "[::]:0")
	if err != nil {
		testpeer.Missing(t, "a dual-stack IPv6 socket: "+err.Error())
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	srv := &tftp.Server{Handler: r}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(pc) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-done; !errors.Is(err, tftp.ErrServerClosed) {
			t.Error(err)
		}
	}()
	a4 := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String()
	a6 := netip.AddrPortFrom(netip.MustParseAddr("::1"), uint16(port)).String()

	mustGet(t, a4, "1234abcd/config.txt", tree["config.txt"].Data)
	mustGet(t, a6, "5678abcd/config.txt", tree["config.txt"].Data)
	for _, c := range []struct{ addr, name, client, boardIP string }{
		{a6, "1234abcd/config.txt", "[::1]", "127.0.0.1"},
		{a4, "5678abcd/config.txt", "127.0.0.1", "::1"},
		{a4, "9999abcd/config.txt", "127.0.0.1", "192.0.2.7"},
	} {
		_, err := get(t, c.addr, c.name)
		wantCode(t, err, tftp.ErrAccess, c.name)
		if l := lb.Lines("level=WARN", c.name, "client="+c.client, "board_ip="+c.boardIP); len(l) != 1 {
			t.Errorf("want one Warn line naming %s, client %s and board ip %s:\n%s", c.name, c.client, c.boardIP, lb)
		}
	}
	// Unprefixed requests follow the client's address.
	mustGet(t, a4, "start4.elf", tree["start4.elf"].Data)
	mustGet(t, a6, "fixup4.dat", tree["fixup4.dat"].Data)
	// A mapped address handed in directly matches as well.
	got, err := direct(r, "1234abcd/cmdline.txt", netip.MustParseAddr("::ffff:127.0.0.1"))
	if err != nil || !bytes.Equal(got, tree["cmdline.txt"].Data) {
		t.Errorf("mapped client: %q, %v", got, err)
	}
}

func TestBadNames(t *testing.T) {
	tree := fixture.PiBoot()
	d := piDisk(t, tree)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "passwd"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	log, lb := tftptest.NewLogger(slog.LevelDebug)
	r := New(Config{Boards: []config.Board{board("pi", "1234abcd", d.Path)}, Root: root}, log)
	defer r.Close()
	s := tftptest.Start(t, r)
	long := strings.Repeat("a", 256)
	for _, c := range []struct {
		name string
		code tftp.ErrorCode
		why  string
	}{
		{"../passwd", tftp.ErrAccess, `\"..\" path element`},
		{"1234abcd/../passwd", tftp.ErrAccess, `\"..\" path element`},
		{"1234abcd/./config.txt", tftp.ErrAccess, `\".\" path element`},
		{"//etc/passwd", tftp.ErrAccess, "absolute path"},
		{"1234abcd//config.txt", tftp.ErrAccess, "empty path element"},
		{"1234abcd/", tftp.ErrAccess, "empty path element"},
		{`1234abcd\config.txt`, tftp.ErrAccess, "backslash"},
		{"1234abcd/" + long, tftp.ErrAccess, "path element of 256 bytes"},
		{strings.Repeat("abc/", 300) + "x", tftp.ErrAccess, "1201 bytes long"},
		{"deadbeef/start4.elf", tftp.ErrNotFound, "unknown board"},
		{"dc-a6-32-01-36-c3/start4.elf", tftp.ErrNotFound, "unknown board"},
	} {
		_, err := get(t, s.Addr, c.name)
		wantCode(t, err, c.code, c.name)
		if len(lb.Lines(c.why)) == 0 {
			t.Errorf("%q: no log line saying %q:\n%s", c.name, c.why, lb)
		}
		mustGet(t, s.Addr, "1234abcd/config.txt", tree["config.txt"].Data)
	}
	// Names no RRQ can carry, checked directly.
	for _, name := range []string{"", "/", "a\x00b"} {
		if _, err := cleanName(name); err == nil {
			t.Errorf("cleanName(%q) accepted", name)
		}
	}
	if n, err := cleanName("/1234abcd/config.txt"); err != nil || n != "1234abcd/config.txt" {
		t.Errorf("cleanName with one leading slash = %q, %v", n, err)
	}
}

func TestImageErrors(t *testing.T) {
	d := piDisk(t, fixture.PiBoot())
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.img")
	garbage := filepath.Join(dir, "garbage.img")
	if err := os.WriteFile(garbage, fixture.Pseudo(1, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	noPart := board("nopart", "00000003", d.Path)
	noPart.Partition = 3
	notFAT := board("notfat", "00000002", d.Path)
	notFAT.Partition = 2
	log, lb := tftptest.NewLogger(slog.LevelDebug)
	r := New(Config{Boards: []config.Board{
		board("missing", "00000001", missing), noPart, notFAT,
		board("garbage", "00000004", garbage), board("good", "00000005", d.Path),
	}}, log)
	defer r.Close()
	s := tftptest.Start(t, r)
	for _, c := range []struct{ name, client, log string }{
		{"00000001/start4.elf", "board missing: boot image not available", "no such file or directory"},
		{"00000003/start4.elf", "board nopart: partition 3 not found in boot image", "partition 3 not found; image has 1, 2"},
		{"00000002/start4.elf", "board notfat: partition 2 of boot image is not FAT", "not a FAT file system"},
		{"00000004/start4.elf", "board garbage: boot image unreadable", "garbage.img"},
	} {
		_, err := get(t, s.Addr, c.name)
		te := wantCode(t, err, tftp.ErrUndefined, c.name)
		if te.Message != c.client {
			t.Errorf("%s: message %q, want %q", c.name, te.Message, c.client)
		}
		if strings.Contains(te.Message, dir) || strings.Contains(te.Message, "/") {
			t.Errorf("%s: message %q leaks a path", c.name, te.Message)
		}
		if len(lb.Lines("level=ERROR", c.log)) == 0 {
			t.Errorf("%s: no Error line with %q:\n%s", c.name, c.log, lb)
		}
		mustGet(t, s.Addr, "00000005/config.txt", fixture.PiBoot()["config.txt"].Data)
	}
	if len(lb.Lines("level=ERROR", "image="+missing, "partition=1", "board=missing")) == 0 {
		t.Errorf("missing image line lacks board, image or partition:\n%s", lb)
	}
	// The image appears: the next request succeeds.
	data, err := os.ReadFile(d.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(missing, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s.Addr, "00000001/config.txt", fixture.PiBoot()["config.txt"].Data)
}

// TestImageReplaced replaces an image by rename while a file from it is
// open: the open file keeps the old bytes, new requests get the new ones,
// and the old image is closed when the last transfer ends.
func TestImageReplaced(t *testing.T) {
	oldTree := fixture.PiBoot()
	newTree := fixture.PiBoot()
	newTree["kernel8.img"] = fixture.File{Data: fixture.Pseudo(99, 300<<10)}
	newTree["config.txt"] = fixture.File{Data: []byte("[all]\nnew=1\n")}
	oldDisk := piDisk(t, oldTree)
	newDisk := piDisk(t, newTree)
	live := filepath.Join(t.TempDir(), "live.img")
	if err := os.Link(oldDisk.Path, live); err != nil {
		t.Fatal(err)
	}
	log, lb := tftptest.NewLogger(slog.LevelDebug)
	r := New(Config{Boards: []config.Board{board("pi", "1234abcd", live)}}, log)
	defer r.Close()
	req := func(name string) (*content, int64) {
		t.Helper()
		c, size, err := r.ServeTFTP(&tftp.Request{Op: tftp.OpRRQ, Filename: name, Mode: tftp.ModeOctet,
			RemoteAddr: netip.MustParseAddrPort("127.0.0.1:4000")})
		if err != nil {
			t.Fatal(err)
		}
		return c.(*content), size
	}
	read := func(c *content, size int64) []byte {
		t.Helper()
		b := make([]byte, size)
		if n, err := c.ReadAt(b, 0); int64(n) != size || (err != nil && err != io.EOF) {
			t.Fatalf("read %d of %d bytes: %v", n, size, err)
		}
		return b
	}
	old, oldSize := req("1234abcd/kernel8.img")
	if old.f == nil || old.v.refs.Load() != 2 {
		t.Fatalf("view references %d, want 2 (slot and transfer)", old.v.refs.Load())
	}
	tmp := live + ".new"
	if err := os.Link(newDisk.Path, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, live); err != nil {
		t.Fatal(err)
	}
	cur, curSize := req("1234abcd/kernel8.img")
	if !bytes.Equal(read(cur, curSize), newTree["kernel8.img"].Data) {
		t.Error("request after the rename did not get the new image's bytes")
	}
	if !bytes.Equal(read(old, oldSize), oldTree["kernel8.img"].Data) {
		t.Error("transfer started before the rename did not keep the old image's bytes")
	}
	if cur.v == old.v {
		t.Fatal("the new request shares the old view")
	}
	if n := old.v.refs.Load(); n != 1 {
		t.Errorf("old view references %d after replacement, want 1 (its transfer)", n)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := old.v.f.Stat(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("old image file still open after its last transfer: %v", err)
	}
	if err := cur.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cur.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, err := cur.v.f.Stat(); err != nil {
		t.Errorf("current image closed while its board still exists: %v", err)
	}
	if len(lb.Lines("image changed")) != 1 {
		t.Errorf("want one 'image changed' line:\n%s", lb)
	}

	// A board removed by Reconfigure: its image closes with its last transfer.
	held, _ := req("1234abcd/config.txt")
	r.Reconfigure(Config{})
	if _, err := held.v.f.Stat(); err != nil {
		t.Errorf("image closed while a transfer still uses it: %v", err)
	}
	if _, err := direct(r, "1234abcd/config.txt", netip.MustParseAddr("127.0.0.1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("request for a removed board: %v, want not found", err)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := held.v.f.Stat(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("removed board's image still open after its last transfer: %v", err)
	}
}
