package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

func TestServeBoardsInProcess(t *testing.T) {
	tree := fixture.PiBoot()
	d := piDisk(t, tree)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nobodd-go.toml")
	writeFile(t, cfg, fmt.Sprintf(`
[tftp]
max-block-size = 1468

[board.desk]
serial = "100000005678ABCD"
image = %q
`, d.Path))
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "bootcode.bin"), "bootcode\n")
	missing := filepath.Join(dir, "missing.img")
	dm := startDaemon(t, []string{"--config", cfg, "--board", "1234abcd," + d.Path, "--root", root, "-v",
		"--board", "0000aaaa," + d.Path + ",2", "--board", "0000bbbb," + d.Path + ",7", "--board", "0000cccc," + missing}, nil)

	mustGet(t, dm.addr, "1234abcd/config.txt", tree["config.txt"].Data)
	mustGet(t, dm.addr, "5678abcd/kernel8.img", tree["kernel8.img"].Data)
	mustGet(t, dm.addr, "/5678ABCD/OVERLAYS/dwc2.dtbo", tree["overlays/dwc2.dtbo"].Data)
	mustGet(t, dm.addr, "bootcode.bin", []byte("bootcode\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := get(ctx, dm.addr, "1234abcd/../etc/passwd", 512); !isTFTPError(err, tftp.ErrAccess) {
		t.Errorf("get with ..: %v, want ERROR 2", err)
	}
	// Image problems: ERROR 0 with a short message, the details logged.
	for _, c := range []struct{ name, msg string }{
		{"0000aaaa/start4.elf", "board 0000aaaa: partition 2 of boot image is not FAT"},
		{"0000bbbb/start4.elf", "board 0000bbbb: partition 7 not found in boot image"},
		{"0000cccc/start4.elf", "board 0000cccc: boot image not available"},
	} {
		_, err := get(ctx, dm.addr, c.name, 512)
		var te *tftp.Error
		if !errors.As(err, &te) || te.Code != tftp.ErrUndefined || te.Message != c.msg {
			t.Errorf("get %s: %v, want ERROR 0 %q", c.name, err, c.msg)
		}
	}
	// Writes are refused without --writable.
	if err := (&tftp.Client{}).Put(ctx, dm.addr, "upload.txt", strings.NewReader("x"), 1); !isTFTPError(err, tftp.ErrAccess) {
		t.Errorf("put without --writable: %v, want ERROR 2", err)
	}

	dm.sigs <- syscall.SIGTERM
	if code := dm.wait(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0\n%s", code, dm.log)
	}
	log := dm.log.String()
	for _, want := range [][]string{
		{"level=INFO", "msg=transfer", "board=1234abcd", "file=1234abcd/config.txt", "outcome=completed", "bytes=", "rate_kBps=", "retransmits=0", "duration="},
		{"msg=transfer", "board=desk", "file=5678abcd/kernel8.img", "outcome=completed", "blksize=1024"},
		{"msg=transfer", "file=bootcode.bin", "outcome=completed", `board=""`},
		{"level=WARN", "refused request", "1234abcd/../etc/passwd"},
		{"msg=\"shutting down\"", "SIGTERM"},
		{"msg=board", "board=desk", "serial=5678abcd"},
		{"level=ERROR", "board=0000aaaa", "image=" + d.Path, "partition=2", "not a FAT file system"},
		{"level=ERROR", "board=0000bbbb", "partition=7", "partition 7 not found; image has 1, 2"},
		{"level=ERROR", "board=0000cccc", "image=" + missing, "no such file or directory"},
	} {
		if len(tftptest.Lines(log, want...)) == 0 {
			t.Errorf("no log line with all of %q:\n%s", want, log)
		}
	}
	if n := len(tftptest.Lines(log, "tftp: transfer")); n != 0 {
		t.Errorf("%d duplicate tftp: transfer lines", n)
	}
}

func TestWritable(t *testing.T) {
	root := t.TempDir()
	empty := filepath.Join(t.TempDir(), "empty.toml")
	writeFile(t, empty, "")
	dm := startDaemon(t, []string{"--config", empty, "--root", root, "--writable"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	data := fixture.Pseudo(3, 5000)
	if err := (&tftp.Client{}).Put(ctx, dm.addr, "up.bin", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "up.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("uploaded file: %d bytes, %v", len(got), err)
	}
	if err := (&tftp.Client{}).Put(ctx, dm.addr, "up.bin", bytes.NewReader(data), int64(len(data))); !isTFTPError(err, tftp.ErrFileExists) {
		t.Errorf("second put: %v, want ERROR 6", err)
	}
	mustGet(t, dm.addr, "up.bin", data)
}
