package prep

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/config"
	"github.com/nobodd-go/nobodd-go/image"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/internal/imgfs"
	"github.com/nobodd-go/nobodd-go/internal/testpeer"
)

const (
	raspiosCmdline = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n"
	ubuntuCmdline  = "zswap.enabled=1 zswap.zpool=z3fold zswap.compressor=zstd multipath=off dwc_otg.lpm_enable=0 console=serial0,115200 console=tty1 root=LABEL=writable rootfstype=ext4 rootwait fixrtc quiet splash"
)

// piImage builds an image shaped like Raspberry Pi OS's or Ubuntu's: a
// FAT32 boot partition 1 holding tree and a Linux root partition 2, with
// an MBR ("dos") or a GPT; it is renamed to name.
func piImage(t *testing.T, label, name string, tree fixture.Tree) string {
	t.Helper()
	bootType, rootType := "c", "83"
	if label == "gpt" {
		bootType, rootType = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "linux"
	}
	d := fixture.NewDisk(t, fixture.Disk{Label: label, Partitions: []fixture.Partition{
		{Type: bootType, Size: 34 << 20, Name: "boot", FAT: &fixture.FAT{Type: 32, Size: 34 << 20, Label: "bootfs", Tree: tree}},
		{Type: rootType, Size: 4 << 20, Name: "root"},
	}})
	p := filepath.Join(filepath.Dir(d.Path), name)
	if err := os.Rename(d.Path, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func raspiosTree(cmdline string) fixture.Tree {
	t := fixture.PiBoot()
	t["cmdline.txt"] = fixture.File{Data: []byte(cmdline)}
	return t
}

func ubuntuTree(cmdline string) fixture.Tree {
	t := fixture.Tree{
		"config.txt":                       {Data: []byte("[all]\nkernel=vmlinuz\ncmdline=cmdline.txt\nos_prefix=current/\n")},
		"current/cmdline.txt":              {Data: []byte(cmdline)},
		"current/vmlinuz":                  {Data: fixture.Pseudo(11, 90<<10)},
		"current/initrd.img":               {Data: fixture.Pseudo(12, 70<<10)},
		"current/bcm2711-rpi-4-b.dtb":      {Data: fixture.Pseudo(13, 50<<10)},
		"current/overlays/disable-bt.dtbo": {Data: fixture.Pseudo(14, 1234)},
		"start4.elf":                       {Data: fixture.Pseudo(15, 60<<10)},
	}
	return t
}

func prep(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// checkTable runs sfdisk --verify and --json (and sgdisk -v for a GPT) on
// the image and returns the JSON dump.
func checkTable(t *testing.T, img string) fixture.SfdiskTable {
	t.Helper()
	out := fixture.Run(t, "sfdisk", "--verify", img)
	if !strings.Contains(string(out), "No errors detected") {
		t.Errorf("sfdisk --verify: %s", out)
	}
	d := fixture.Sfdisk(t, img)
	if d.Label == "gpt" {
		out := fixture.Run(t, "sgdisk", "-v", img)
		if !strings.Contains(string(out), "No problems found") {
			t.Errorf("sgdisk -v: %s", out)
		}
	}
	return d
}

// inPartition calls f with partition n of img as imgfs finds it, and closes
// the image again before returning (prep locks an image it writes).
func inPartition(t *testing.T, img string, n int, f func(p *image.Partition)) {
	t.Helper()
	im, err := imgfs.OpenImage(img, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := im.Close(); err != nil {
			t.Error(err)
		}
	}()
	p, err := im.Table().Partition(n)
	if err != nil {
		t.Fatal(err)
	}
	f(p)
}

// fsckPart runs fsck.fat -n on partition n of img (copied out).
func fsckPart(t *testing.T, img string, n int) {
	t.Helper()
	inPartition(t, img, n, func(p *image.Partition) {
		fixture.FsckReader(t, fmt.Sprintf("%s partition %d", img, n), p.Section())
	})
}

// mtype reads a file out of partition n with mtools.
func mtype(t *testing.T, img string, n int, name string) string {
	t.Helper()
	var start int64
	inPartition(t, img, n, func(p *image.Partition) { start = p.Start })
	return fixture.Mtype(t, img, start, name)
}

// TestDryRun: --dry-run reports the plan and leaves the image and the
// configuration files alone.
func TestDryRun(t *testing.T) {
	img := piImage(t, "dos", "raspios.img", raspiosTree(raspiosCmdline))
	before := fixture.HashFile(t, img)
	conf := filepath.Join(t.TempDir(), "board.toml")
	code, out, errs := prep(t, "--dry-run", "-s", "64M", "--nbd-host", "srv.example", "-R", "ssh", "--serial", "1234abcd", "--tftpd-conf", conf, img)
	if code != 0 {
		t.Fatalf("prep --dry-run = %d: %s", code, errs)
	}
	for _, want := range []string{
		"would grow " + img + " from ",
		"would remove ssh in partition 1",
		`would rewrite cmdline.txt: "console=serial0`,
		`"ip=dhcp nbdroot=srv.example/raspios root=/dev/nbd0p2 console=serial0,115200`,
		"would write " + conf + ":\n[board.raspios]\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	if fixture.HashFile(t, img) != before {
		t.Error("--dry-run changed the image")
	}
	if _, err := os.Stat(conf); !os.IsNotExist(err) {
		t.Errorf("--dry-run made %s: %v", conf, err)
	}
}

// TestGrowOnly: an image whose command line is already right is only
// enlarged; the tables pass sfdisk and sgdisk, and a second run changes
// nothing.
func TestGrowOnly(t *testing.T) {
	for _, label := range []string{"dos", "gpt"} {
		t.Run(label, func(t *testing.T) {
			done := RewriteCmdline(raspiosCmdline, "srv.example", "pi", 2)
			img := piImage(t, label, "pi.img", raspiosTree(done))
			bootHash := partHash(t, img, 1)
			code, _, errs := prep(t, "-s", "64MiB", "--nbd-host", "srv.example", img)
			if code != 0 {
				t.Fatalf("prep = %d: %s", code, errs)
			}
			st, err := os.Stat(img)
			if err != nil || st.Size() != 64<<20 {
				t.Fatalf("image size %v, %v", st.Size(), err)
			}
			d := checkTable(t, img)
			ss := d.SectorSize
			parts := d.Partitions
			if len(parts) != 2 {
				t.Fatalf("partitions: %+v", parts)
			}
			end := (parts[1].Start + parts[1].Size) * ss
			limit := int64(64 << 20)
			if label == "gpt" {
				limit -= 33 * 512
			}
			if end != limit {
				t.Errorf("partition 2 ends at byte %d, want %d", end, limit)
			}
			want := fmt.Sprintf("partition 2 now %d bytes", parts[1].Size*ss)
			if !strings.Contains(errs, "grew "+img+" from ") || !strings.Contains(errs, want) {
				t.Errorf("messages %q lack %q", errs, want)
			}
			if partHash(t, img, 1) != bootHash {
				t.Error("the boot partition changed")
			}
			fsckPart(t, img, 1)
			h := fixture.HashFile(t, img)
			code, _, errs = prep(t, "-s", "64MiB", "--nbd-host", "srv.example", img)
			if code != 0 || fixture.HashFile(t, img) != h {
				t.Errorf("second run = %d (%s), image changed: %v", code, errs, fixture.HashFile(t, img) != h)
			}
			if !strings.Contains(errs, "not resized") {
				t.Errorf("second run did not say it left the size: %q", errs)
			}
			// A smaller size never shrinks.
			code, _, errs = prep(t, "-s", "40M", "--nbd-host", "srv.example", img)
			if code != 0 || fixture.HashFile(t, img) != h || !strings.Contains(errs, "not resized") {
				t.Errorf("smaller size = %d %q", code, errs)
			}
		})
	}
}

// partHash returns the SHA-256 of partition n of img.
func partHash(t *testing.T, img string, n int) (sum string) {
	t.Helper()
	inPartition(t, img, n, func(p *image.Partition) { sum = fixture.Hash(t, p.Section()) })
	return sum
}

// TestErrorsLeaveImage: every check fails before anything changes.
func TestErrorsLeaveImage(t *testing.T) {
	img := piImage(t, "dos", "pi.img", raspiosTree(raspiosCmdline))
	before := fixture.HashFile(t, img)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--boot-partition", "7"}, "pi.img: partition 7 not found; image has 1, 2"},
		{[]string{"--root-partition", "9"}, "pi.img: partition 9 not found; image has 1, 2"},
		{[]string{"--boot-partition", "2"}, "pi.img: partition 2 is not a FAT file system"},
		{[]string{"--root-partition", "1"}, "partition 1 cannot be both the boot and the root partition"},
		{[]string{"--cmdline", "nope.txt"}, "pi.img partition 1: nope.txt: "},
		{[]string{"-C", "/nonexistent/file"}, "-C /nonexistent/file: "},
		{[]string{"--nbd-name", "a b"}, "--nbd-name \"a b\""},
		{[]string{"--serial", "xyz", "--tftpd-conf", "-"}, "--serial: "},
	}
	for _, tt := range tests {
		args := append([]string{"-s", "64M", "--nbd-host", "h"}, tt.args...)
		code, _, errs := prep(t, append(args, img)...)
		if code != 1 || !strings.Contains(errs, tt.want) {
			t.Errorf("prep %q = %d %q, want 1 and %q", tt.args, code, errs, tt.want)
		}
		if fixture.HashFile(t, img) != before {
			t.Fatalf("prep %q changed the image", tt.args)
		}
	}
}

func bigFile(t *testing.T, n int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, n); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLocked: while another writer holds the image, prep fails at once
// and the image is unchanged.
func TestLocked(t *testing.T) {
	img := piImage(t, "dos", "pi.img", raspiosTree(raspiosCmdline))
	before := fixture.HashFile(t, img)
	holder, err := imgfs.OpenImage(img, true)
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs := prep(t, "-s", "64M", "--nbd-host", "h", img)
	if code != 1 || errs != "nobodd-go prep: "+img+" is being written by another process\n" {
		t.Errorf("prep while locked = %d %q", code, errs)
	}
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	if fixture.HashFile(t, img) != before {
		t.Error("image changed")
	}
}

// TestConfs: the board table loads with config.Loader and names the
// image and partition; the nbd-server section is served by nbd-server.
func TestConfs(t *testing.T) {
	done := RewriteCmdline(ubuntuCmdline, "srv.example", "ubuntu-24.04", 2)
	img := piImage(t, "dos", "ubuntu-24.04.img", ubuntuTree(done))
	dir := t.TempDir()
	tftpd, nbd := filepath.Join(dir, "board.toml"), filepath.Join(dir, "export.conf")
	code, _, errs := prep(t, "-q", "-s", "48M", "--nbd-host", "srv.example", "--serial", "10000000ABCD1234", "--tftpd-conf", tftpd, "--nbd-conf", nbd, img)
	if code != 0 || errs != "" {
		t.Fatalf("prep = %d %q", code, errs)
	}
	l := config.Loader{Paths: []string{tftpd}, Required: true}
	cfg, err := l.Load()
	if err != nil {
		t.Fatal(err)
	}
	// The stem of ubuntu-24.04.img is ubuntu-24.04: a quoted key.
	if !strings.HasPrefix(read(t, tftpd), "[board.\"ubuntu-24.04\"]\n") {
		t.Errorf("board table:\n%s", read(t, tftpd))
	}
	b, ok := cfg.Board("ubuntu-24.04")
	if !ok || b.Image != img || b.Partition != 1 || !b.HasSerial || b.Serial.String() != "abcd1234" {
		t.Errorf("board = %+v (found %v)\n%s", b, ok, read(t, tftpd))
	}
	if got := read(t, nbd); got != "[ubuntu-24.04]\nexportname = "+img+"\n" {
		t.Errorf("nbd conf = %q", got)
	}
	serveNBD(t, read(t, nbd), "ubuntu-24.04", 48<<20)

	// "-" writes to standard output.
	code, out, errs := prep(t, "-q", "-s", "48M", "--nbd-host", "srv.example", "--nbd-conf", "-", img)
	if code != 0 || out != "[ubuntu-24.04]\nexportname = "+img+"\n" {
		t.Errorf("--nbd-conf - = %d %q %q", code, out, errs)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// serveNBD starts nbd-server on loopback with a [generic] section and the
// export section, connects with the fixed newstyle handshake and checks
// that the export is served with the image's size.
func serveNBD(t *testing.T, section, name string, size uint64) {
	t.Helper()
	bin := testpeer.Require(t, "nbd-server")
	var (
		conn net.Conn
		logs *bytes.Buffer
		halt func() // kills nbd-server and waits for it to exit
	)
	// nbd-server binds the port itself: a port taken meanwhile is tried
	// again. Its output is read only once it has exited.
	testpeer.OnFreePort(t, "tcp", net.IPv4(127, 0, 0, 1), func(port int) error {
		conf := filepath.Join(t.TempDir(), "nbd.conf")
		full := fmt.Sprintf("[generic]\nlistenaddr = 127.0.0.1\nport = %d\nallowlist = false\n\n%s", port, section)
		if err := os.WriteFile(conf, []byte(full), 0o644); err != nil {
			t.Fatal(err)
		}
		logs = new(bytes.Buffer)
		cmd := exec.Command(bin, "-C", conf, "-d")
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
					t.Logf("kill nbd-server %d: %v", cmd.Process.Pid, err)
				}
				<-exited
			})
		}
		t.Cleanup(stop)
		halt = stop
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		deadline := time.NewTimer(10 * time.Second)
		defer deadline.Stop()
		for range 200 {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				conn = c
				return nil
			}
			select {
			case err := <-exited:
				exited <- err // for stop
				if strings.Contains(logs.String(), "Address already in use") {
					return fmt.Errorf("%w: nbd-server exited: %v\n%s", testpeer.ErrPortInUse, err, logs)
				}
				return fmt.Errorf("nbd-server exited: %v\n%s", err, logs)
			case <-deadline.C:
				stop()
				return fmt.Errorf("nbd-server does not listen on %s\n%s", addr, logs)
			case <-tick.C:
			}
		}
		stop()
		return fmt.Errorf("nbd-server does not listen on %s\n%s", addr, logs)
	})
	defer func() {
		if err := conn.Close(); err != nil {
			t.Error(err)
		}
	}()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	hello := make([]byte, 18)
	if _, err := io.ReadFull(conn, hello); err != nil {
		halt()
		t.Fatalf("handshake: %v\n%s", err, logs)
	}
	if string(hello[:16]) != "NBDMAGICIHAVEOPT" {
		t.Fatalf("not a newstyle server: %q", hello)
	}
	// Client flags: fixed newstyle; then NBD_OPT_EXPORT_NAME with the name.
	msg := binary.BigEndian.AppendUint32(nil, 1)
	msg = append(msg, "IHAVEOPT"...)
	msg = binary.BigEndian.AppendUint32(msg, 1)
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(name)))
	msg = append(msg, name...)
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 10)
	if _, err := io.ReadFull(conn, reply); err != nil {
		halt()
		t.Fatalf("export %q refused: %v\n%s", name, err, logs)
	}
	if got := binary.BigEndian.Uint64(reply); got != size {
		t.Errorf("export size %d, want %d", got, size)
	}
}
