package serve

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/fixture"
	"github.com/nobodd-go/nobodd-go/internal/testpeer"
)

// TestPeerClients fetches files from the daemon with other TFTP clients:
// tftp-hpa (which sends the name as typed, here with a leading '/'),
// atftp with a block size option, and busybox.
func TestPeerClients(t *testing.T) {
	tree := fixture.PiBoot()
	d := piDisk(t, tree)
	dm := startDaemon(t, []string{"--config", emptyConfig(t), "--board", "1234abcd," + d.Path}, nil)
	host, port, err := net.SplitHostPort(dm.addr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		peer string
		args func(local string) []string
		file string
	}{
		{"tftp", func(l string) []string {
			return []string{host, port, "-m", "binary", "-c", "get", "/1234abcd/kernel8.img", l}
		}, "kernel8.img"},
		{"atftp", func(l string) []string {
			return []string{"--option", "blksize 1024", "--option", "tsize 0", "-g", "-r", "1234abcd/Start4.ELF", "-l", l, host, port}
		}, "start4.elf"},
		{"busybox", func(l string) []string {
			return []string{"tftp", "-g", "-r", "1234abcd/overlays/vc4-kms-v3d.dtbo", "-l", l, host, port}
		}, "overlays/vc4-kms-v3d.dtbo"},
	} {
		t.Run(c.peer, func(t *testing.T) {
			bin := testpeer.Require(t, c.peer)
			local := filepath.Join(dir, c.peer+".out")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if out, err := exec.CommandContext(ctx, bin, c.args(local)...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", c.peer, err, out)
			}
			got, err := os.ReadFile(local)
			if err != nil || !bytes.Equal(got, tree[c.file].Data) {
				t.Errorf("%s got %d bytes (%v), want %s's %d", c.peer, len(got), err, c.file, len(tree[c.file].Data))
			}
		})
	}
}
