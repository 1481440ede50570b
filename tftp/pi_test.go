package tftp

import (
	"bytes"
	"net"
	"reflect"
	"strconv"
	"testing"
	"testing/fstest"
	"time"
)

// TestPi4BootSequence replays the start of a Raspberry Pi 4 netboot as
// described in the project's pi-netboot notes: a tsize probe aborted with
// "Early terminate", missing files answered at once, the real fetch, and
// duplicate requests from consecutive ports.
func TestPi4BootSequence(t *testing.T) {
	start4 := pattern(2_300_000)
	config := []byte("[all]\narm_64bit=1\n")
	files := fstest.MapFS{
		"1234abcd/start4.elf": {Data: start4},
		"1234abcd/config.txt": {Data: config},
	}
	sink := newStatsSink()
	srv := &Server{Handler: FileServer(files), OnTransfer: sink.on}
	addr := net.UDPAddrFromAddrPort(startServer(t, srv, "udp4", "127.0.0.1:0"))
	piOpts := []string{"tsize", "0", "blksize", "1024"}

	// 1. The probe.
	c := newRawClient(t, "udp4", "127.0.0.1:0")
	c.send(addr, rrq("1234abcd/start4.elf", "octet", piOpts...))
	p, tid := c.recv(5 * time.Second)
	want := Options{{"tsize", strconv.Itoa(len(start4))}, {"blksize", "1024"}}
	if o, ok := p.(*OACKPacket); !ok || !reflect.DeepEqual(o.Options, want) {
		t.Fatalf("probe answer %+v, want OACK %v", p, want)
	}
	c.send(tid, AppendError(nil, ErrUndefined, "Early terminate"))
	if st := sink.next(t); st.Outcome != Aborted {
		t.Errorf("probe: %+v", st)
	}

	// 2. Missing files: ERROR 1 straight away, from the transfer's port.
	for _, f := range []string{"1234abcd/recover4.elf", "1234abcd/fixup4rc.dat", "1234abcd/recovery.elf"} {
		c := newRawClient(t, "udp4", "127.0.0.1:0")
		c.send(addr, rrq(f, "octet", piOpts...))
		c.expectError(5*time.Second, ErrNotFound)
		sink.next(t)
	}

	// 3. The real fetch, with the Pi re-sending its RRQ from the same port
	// while the transfer runs, and a duplicate from the next port.
	c1 := newRawClient(t, "udp4", "127.0.0.1:0")
	c2 := newRawClient(t, "udp4", "127.0.0.1:0")
	// The Pi's first RRQ; the one clientGet sends from the same port is the
	// re-sent copy, queued behind it on the main socket.
	c1.send(addr, rrq("1234abcd/start4.elf", "octet", piOpts...))
	done := make(chan error, 2)
	var got1, got2 []byte
	go func() {
		res, err := clientGet(c1.conn, addr, "1234abcd/start4.elf", getOpts{opts: Options{{"tsize", "0"}, {"blksize", "1024"}}})
		if err == nil {
			got1 = res.data
		}
		done <- err
	}()
	go func() {
		res, err := clientGet(c2.conn, addr, "1234abcd/config.txt", getOpts{opts: Options{{"tsize", "0"}, {"blksize", "1024"}}})
		if err == nil {
			got2 = res.data
		}
		done <- err
	}()
	for i := 0; i < 2; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got1, start4) || !bytes.Equal(got2, config) {
		t.Fatal("files differ")
	}
	for i := 0; i < 2; i++ {
		if st := sink.next(t); st.Outcome != Completed {
			t.Errorf("fetch: %+v", st)
		}
	}
	if got := srv.Stats(); got.Duplicates != 1 || got.Completed != 2 || got.Aborted != 1 || got.Failed != 3 {
		t.Errorf("counters %+v", got)
	}
}
