package demo

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/fatfs"
	"github.com/nobodd-go/nobodd-go/image"
	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/internal/pisim"
	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// TestBuildImage checks the demo image with this module's readers and with
// fsck.fat.
func TestBuildImage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.img")
	if err := BuildImage(path); err != nil {
		t.Fatal(err)
	}
	img, err := image.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	boot, err := img.Partition(1)
	if err != nil {
		t.Fatal(err)
	}
	root, err := img.Partition(2)
	if err != nil {
		t.Fatal(err)
	}
	if !boot.Type.IsFAT() || !root.Type.IsLinux() {
		t.Errorf("partition types %v and %v, want FAT and Linux", boot.Type, root.Type)
	}
	fsys, err := fatfs.New(boot.Section(), boot.Size, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fsys.Type() != fatfs.FAT32 {
		t.Errorf("boot partition is %v, want FAT32", fsys.Type())
	}
	for name, want := range Files() {
		got, err := fsys.ReadFile(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes", name, len(got), err, len(want))
		}
	}
	// fsck.fat on the boot partition's bytes.
	fixture.FsckReader(t, "the boot partition", boot.Section())
	// Deterministic: a second build is the same bytes.
	again := filepath.Join(t.TempDir(), "again.img")
	if err := BuildImage(again); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("two builds of the demo image differ")
	}
	if err := BuildImage(path); err == nil {
		t.Error("BuildImage overwrote an existing file")
	}
}

// TestDemo runs the demo, fetches every file with tftp.Client and one with
// curl, boots an emulated Pi 4 from it, then stops it with SIGINT.
func TestDemo(t *testing.T) {
	out, errb := &tftptest.LogBuffer{}, &tftptest.LogBuffer{}
	sigs := make(chan os.Signal, 1)
	ready := make(chan net.Addr, 1)
	done := make(chan int, 1)
	go func() {
		done <- Main(context.Background(), []string{"--serial", "1234ABCD"}, Env{Stdout: out, Stderr: errb, Signals: sigs,
			Listening: func(a net.Addr) { ready <- a }})
	}()
	var addr string
	select {
	case a := <-ready:
		addr = a.String()
	case code := <-done:
		t.Fatalf("demo exited with %d:\n%s\n%s", code, out, errb)
	case <-time.After(60 * time.Second):
		t.Fatal("demo not serving within 60s")
	}
	_, port, _ := net.SplitHostPort(addr)
	for _, want := range []string{
		fmt.Sprintf("curl -o config.txt tftp://127.0.0.1:%s/1234abcd/config.txt", port),
		fmt.Sprintf("nobodd-go get 127.0.0.1:%s 1234abcd/cmdline.txt", port),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for name, want := range Files() {
		var b bytes.Buffer
		if _, err := (&tftp.Client{BlockSize: 1468, TransferSize: true}).Get(ctx, addr, "1234abcd/"+name, &b); err != nil || !bytes.Equal(b.Bytes(), want) {
			t.Errorf("get %s: %d bytes, %v", name, b.Len(), err)
		}
	}
	if curl, err := testpeer.Look("curl"); err == nil {
		dst := filepath.Join(t.TempDir(), "config.txt")
		if b, err := exec.CommandContext(ctx, curl, "-sS", "-o", dst, fmt.Sprintf("tftp://127.0.0.1:%s/1234abcd/config.txt", port)).CombinedOutput(); err != nil {
			t.Errorf("curl: %v\n%s", err, b)
		} else if got, _ := os.ReadFile(dst); !bytes.Equal(got, Files()["config.txt"]) {
			t.Errorf("curl got %q", got)
		}
	}
	pi := &pisim.Board{Model: pisim.Pi4, Serial: "1234abcd", Server: addr, Expect: pisim.NewManifest(Files())}
	res, err := pi.Boot(ctx)
	if err != nil || res.Err != nil {
		t.Errorf("emulated Pi 4 boot from the demo: %v %v", err, res)
	}
	sigs <- syscall.SIGINT
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit status %d after SIGINT", code)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("demo did not stop within 40s of SIGINT")
	}
}

// TestDemoDuration: --duration stops the demo by itself, and --keep leaves
// a copy of the image.
func TestDemoDuration(t *testing.T) {
	keep := filepath.Join(t.TempDir(), "kept.img")
	out := &tftptest.LogBuffer{}
	code := Main(context.Background(), []string{"--duration", "300ms", "--keep", keep}, Env{Stdout: out, Stderr: out})
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	img, err := image.Open(keep)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if _, err := img.Partition(1); err != nil {
		t.Error(err)
	}
	if !strings.Contains(out.String(), "Stopping after 300ms") {
		t.Errorf("output:\n%s", out)
	}
}
