package pisim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nobodd-go/nobodd-go/internal/testpeer"
	"github.com/nobodd-go/nobodd-go/tftp"
	"github.com/nobodd-go/nobodd-go/tftp/tftptest"
)

// layout puts files under dir of fsys, and bootcode.bin also at the top.
func layout(fsys fstest.MapFS, dir string, files map[string][]byte) {
	for name, b := range files {
		fsys[join(dir, name)] = &fstest.MapFile{Data: b}
		if name == "bootcode.bin" {
			fsys[name] = &fstest.MapFile{Data: b}
		}
	}
}

// recorder is a test server that records every request it is asked and
// the outcome of every transfer.
type recorder struct {
	srv *tftptest.Server

	mu        sync.Mutex
	requests  []string // "path options" with options sorted by name
	transfers tftptest.Transfers
}

func newRecorder(t *testing.T, h tftp.Handler) *recorder {
	t.Helper()
	return newRecorderOn(t, h, nil, nil)
}

// newRecorderOn serves pc in SinglePort mode (for a LossyConn to see every
// packet), or a new socket when pc is nil; configure, when not nil, sets up
// the server before it starts.
func newRecorderOn(t *testing.T, h tftp.Handler, pc net.PacketConn, configure func(*tftp.Server)) *recorder {
	t.Helper()
	rec := &recorder{}
	rh := tftp.HandlerFunc(func(r *tftp.Request) (io.ReaderAt, int64, error) {
		rec.mu.Lock()
		rec.requests = append(rec.requests, r.Filename+" "+sortedOptions(r.Options))
		rec.mu.Unlock()
		return h.ServeTFTP(r)
	})
	if pc == nil {
		rec.srv = tftptest.NewUnstartedServer(rh)
	} else {
		rec.srv = tftptest.NewUnstartedServerConn(pc, &tftp.Server{Handler: rh, SinglePort: true})
	}
	if configure != nil {
		configure(rec.srv.Server)
	}
	rec.srv.Server.OnTransfer = rec.transfers.Record
	rec.srv.Start()
	rec.srv.CloseAtEnd(t)
	return rec
}

// wait waits until n transfers have finished in all, and returns the
// outcome counts.
func (rec *recorder) wait(t *testing.T, n int) map[tftp.Outcome]int {
	t.Helper()
	return tftptest.Outcomes(rec.transfers.Wait(t, n, 10*time.Second))
}

func sortedOptions(o tftp.Options) string {
	s := make([]string, len(o))
	for i, opt := range o {
		s[i] = strings.ToLower(opt.Name) + "=" + opt.Value
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

// describe renders a request as "P path" (probe), "R path" (read), with
// " missing" or " FAILED" appended when it was not OK.
func describe(q Request) string {
	k := "R"
	if q.Probe {
		k = "P"
	}
	s := k + " " + q.Path
	switch q.Outcome {
	case Missing:
		s += " missing"
	case Failed:
		s += " FAILED"
	}
	return s
}

// sequence expands a compact expectation: each entry is "P name",
// "R name", "PR name" (probe and read), "M name" (probe answered missing),
// "Rn name" (n concurrent reads) or "PRn name"; names starting with '/'
// are not prefixed.
func sequence(prefix string, spec ...string) []string {
	var out []string
	for _, e := range spec {
		kind, name, _ := strings.Cut(e, " ")
		p := join(prefix, name)
		if strings.HasPrefix(name, "/") {
			p = name[1:]
		}
		n := 1
		if d := strings.TrimLeft(kind, "PRM"); d != "" {
			fmt.Sscan(d, &n)
			kind = strings.TrimSuffix(kind, d)
		}
		switch kind {
		case "P":
			out = append(out, "P "+p)
		case "R":
			for range n {
				out = append(out, "R "+p)
			}
		case "PR":
			out = append(out, "P "+p)
			for range n {
				out = append(out, "R "+p)
			}
		case "M":
			out = append(out, "P "+p+" missing")
		case "RM":
			out = append(out, "R "+p+" missing")
		default:
			panic("sequence: bad entry " + e)
		}
	}
	return out
}

// The expected sequences, after the reference table.
var (
	seqPi3ROM = []string{"R /bootcode.bin", "RM /bootsig.bin"}
	seqPi3    = append(slices.Clone(seqPi3ROM),
		"P start.elf", "R start.elf", "M autoboot.txt", "PR config.txt", "M recovery.elf",
		"R start.elf", "PR fixup.dat", "PR config.txt", "R config.txt", "R2 config.txt",
		"M dt-blob.bin", "M bootcfg.txt", "PR bcm2710-rpi-3-b-plus.dtb", "R bcm2710-rpi-3-b-plus.dtb",
		"PR overlays/overlay_map.dtb", "PR overlays/vc4-kms-v3d.dtbo", "PR overlays/disable-bt.dtbo",
		"PR cmdline.txt", "R cmdline.txt", "PR kernel8.img", "PR initrd.img")
	seqPi4 = []string{"P start4.elf", "PR config.txt", "M recover4.elf", "M fixup4rc.dat",
		"M recovery.elf", "M fixup_rc.dat", "PR start4.elf", "PR fixup4.dat", "PR config.txt",
		"R3 config.txt", "PR2 bcm2711-rpi-4-b.dtb", "PR overlays/overlay_map.dtb",
		"PR overlays/vc4-kms-v3d-pi4.dtbo", "PR overlays/disable-bt.dtbo", "PR cmdline.txt",
		"PR kernel8.img", "PR initrd.img"}
	seqPi5 = []string{"PR config.txt", "R2 config.txt", "PR bcm2712-rpi-5-b.dtb",
		"PR overlays/overlay_map.dtb", "PR overlays/vc4-kms-v3d-pi5.dtbo", "PR overlays/dwc2.dtbo",
		"PR cmdline.txt", "PR kernel_2712.img", "PR initrd.img"}
)

// wantOptions returns the options (sorted, as the recorder keeps them) of
// a request of model m.
func wantOptions(m Model, path string) string {
	if m == Pi3ROM || path == "bootcode.bin" || path == "bootsig.bin" {
		return ""
	}
	if bs := m.BlockSize(); bs != 512 {
		return fmt.Sprintf("blksize=%d,tsize=0", bs)
	}
	return "tsize=0"
}

func checkBoot(t *testing.T, rec *recorder, b *Board, res *Result, want []string) {
	t.Helper()
	var got []string
	for _, q := range res.Requests {
		got = append(got, describe(q))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%v boot: requests\n%s\nwant\n%s", b.Model, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Each request carries the model's options, as the client recorded
	// them and as the server received them.
	var sent []string
	for _, q := range res.Requests {
		if q.Probe && wantOptions(b.Model, q.Path) != "" && q.Options[0].Name != tftp.OptTransferSize {
			t.Errorf("probe %s: options %v do not start with tsize", q.Path, q.Options)
		}
		wo := wantOptions(b.Model, q.Path)
		if so := sortedOptions(q.Options); so != wo {
			t.Errorf("%s: options %q, want %q", q.Path, so, wo)
		}
		sent = append(sent, q.Path+" "+wo)
	}
	rec.mu.Lock()
	seen := slices.Clone(rec.requests)
	rec.mu.Unlock()
	slices.Sort(seen)
	slices.Sort(sent)
	if !slices.Equal(seen, sent) {
		t.Errorf("the server saw\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(sent, "\n"))
	}
}

// counts tallies a result's requests as the server should see them.
func counts(res *Result) (probes, missing, reads int) {
	for _, q := range res.Requests {
		switch {
		case q.Outcome == Missing:
			missing++
		case q.Probe:
			probes++
		default:
			reads++
		}
	}
	return
}

func TestBootModels(t *testing.T) {
	cases := []struct {
		m    Model
		want []string
	}{
		{Pi3ROM, sequence("", seqPi3ROM...)},
		{Pi3BPlus, sequence("1234abcd", seqPi3...)},
		{Pi4, sequence("1234abcd", seqPi4...)},
		{Pi5, sequence("1234abcd", seqPi5...)},
	}
	for _, tc := range cases {
		t.Run(tc.m.String(), func(t *testing.T) {
			files := Files(tc.m, 0, 0, 1)
			fsys := fstest.MapFS{}
			layout(fsys, "1234abcd", files)
			rec := newRecorder(t, tftp.FileServer(fsys))
			b := &Board{Model: tc.m, Serial: "100000001234ABCD", Server: rec.srv.Addr, Expect: NewManifest(files)}
			res, err := b.Boot(context.Background())
			if err != nil {
				t.Fatalf("boot: %v", err)
			}
			checkBoot(t, rec, b, res, tc.want)
			probes, missing, reads := counts(res)
			if res.Probes != probes || res.Missing != missing || res.Reads != reads || res.Failures != 0 {
				t.Errorf("totals: %d probes, %d missing, %d reads, %d failures; want %d, %d, %d, 0",
					res.Probes, res.Missing, res.Reads, res.Failures, probes, missing, reads)
			}
			// Every file the manifest holds was read and verified.
			read := map[string]bool{}
			var bytes int64
			for _, q := range res.Requests {
				if !q.Probe && q.Outcome == OK {
					read[q.Name] = true
					bytes += q.Size
				}
			}
			for name := range files {
				if !read[name] {
					t.Errorf("%s was never read", name)
				}
			}
			if res.Bytes != bytes {
				t.Errorf("Result.Bytes %d, want %d", res.Bytes, bytes)
			}
			// Probes end quietly: aborted, not failed.
			out := rec.wait(t, len(res.Requests))
			want := map[tftp.Outcome]int{tftp.Aborted: probes, tftp.Failed: missing, tftp.Completed: reads}
			for _, o := range []tftp.Outcome{tftp.Completed, tftp.Aborted, tftp.Failed, tftp.TimedOut} {
				if out[o] != want[o] {
					t.Errorf("server outcomes %v, want %v", out, want)
					break
				}
			}
		})
	}
}

// pi4Setup serves Files(Pi4) under 1234abcd, after edit changes fsys.
func pi4Setup(t *testing.T, edit func(fsys fstest.MapFS)) (*recorder, *Board) {
	t.Helper()
	files := Files(Pi4, 0, 0, 7)
	fsys := fstest.MapFS{}
	layout(fsys, "1234abcd", files)
	if edit != nil {
		edit(fsys)
	}
	rec := newRecorder(t, tftp.FileServer(fsys))
	return rec, &Board{Model: Pi4, Serial: "1234abcd", Server: rec.srv.Addr, Expect: NewManifest(files)}
}

func failureOf(t *testing.T, res *Result, err error) *Failure {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("boot error %v, want a *Failure", err)
	}
	if res.Err != err {
		t.Errorf("Result.Err %v differs from the returned %v", res.Err, err)
	}
	return f
}

func TestHashMismatch(t *testing.T) {
	rec, b := pi4Setup(t, func(fsys fstest.MapFS) {
		f := fsys["1234abcd/kernel8.img"]
		d := bytes.Clone(f.Data)
		d[5000] ^= 0x40
		f.Data = d
	})
	_ = rec
	res, err := b.Boot(context.Background())
	f := failureOf(t, res, err)
	if f.Cause != HashMismatch || f.Path != "1234abcd/kernel8.img" || f.Probe || f.Kind() != "hash mismatch" {
		t.Fatalf("failure %v (cause %v, path %s, kind %q), want a hash mismatch of 1234abcd/kernel8.img", f, f.Cause, f.Path, f.Kind())
	}
	last := res.Requests[len(res.Requests)-1]
	if last.Path != "1234abcd/kernel8.img" || last.Probe || last.Outcome != Failed {
		t.Errorf("the boot went on after the failure, to %s", describe(last))
	}
	if k := res.FailureKinds(); len(k) != 1 || k["hash mismatch"] != 1 {
		t.Errorf("FailureKinds %v, want one hash mismatch", k)
	}
}

func TestKeepGoing(t *testing.T) {
	_, b := pi4Setup(t, func(fsys fstest.MapFS) {
		f := fsys["1234abcd/cmdline.txt"]
		f.Data = append(bytes.Clone(f.Data), '#') // one byte longer
	})
	b.KeepGoing = true
	res, err := b.Boot(context.Background())
	f := failureOf(t, res, err)
	// The probe sees the size first.
	if f.Cause != SizeMismatch || !f.Probe || f.Path != "1234abcd/cmdline.txt" {
		t.Fatalf("first failure %v, want the probe's size mismatch on cmdline.txt", f)
	}
	if k := res.FailureKinds(); k["size mismatch"] != 2 || len(k) != 1 {
		t.Errorf("FailureKinds %v, want 2 size mismatches (probe and read)", k)
	}
	if got := describe(res.Requests[len(res.Requests)-1]); got != "R 1234abcd/initrd.img" {
		t.Errorf("last request %q, want the initramfs read: KeepGoing carries on", got)
	}
}

func TestMissingExpectedFile(t *testing.T) {
	_, b := pi4Setup(t, func(fsys fstest.MapFS) { delete(fsys, "1234abcd/fixup4.dat") })
	res, err := b.Boot(context.Background())
	f := failureOf(t, res, err)
	if f.Cause != NotFound || f.Path != "1234abcd/fixup4.dat" || f.Kind() != "not found" {
		t.Fatalf("failure %v, want not found for 1234abcd/fixup4.dat", f)
	}
}

func TestUnexpectedFile(t *testing.T) {
	_, b := pi4Setup(t, func(fsys fstest.MapFS) {
		fsys["1234abcd/recovery.elf"] = &fstest.MapFile{Data: []byte("surprise")}
	})
	res, err := b.Boot(context.Background())
	f := failureOf(t, res, err)
	if f.Cause != Unexpected || f.Path != "1234abcd/recovery.elf" {
		t.Fatalf("failure %v, want an unexpected recovery.elf", f)
	}
}

func TestServerError(t *testing.T) {
	files := Files(Pi5, 0, 0, 3)
	fsys := fstest.MapFS{}
	layout(fsys, "1234abcd", files)
	h := tftp.HandlerFunc(func(r *tftp.Request) (io.ReaderAt, int64, error) {
		if strings.HasSuffix(r.Filename, ".dtb") {
			return nil, 0, &tftp.Error{Code: tftp.ErrAccess, Message: "go away"}
		}
		return tftp.FileServer(fsys).ServeTFTP(r)
	})
	rec := newRecorder(t, h)
	b := &Board{Model: Pi5, Serial: "1234abcd", Server: rec.srv.Addr, Expect: NewManifest(files)}
	res, err := b.Boot(context.Background())
	f := failureOf(t, res, err)
	if f.Cause != ServerError || f.Kind() != "error 2: go away" || f.Path != "1234abcd/bcm2712-rpi-5-b.dtb" {
		t.Fatalf("failure %v (kind %q), want error 2 on the dtb", f, f.Kind())
	}
}

func TestSilentServerTimesOut(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	b := &Board{Model: Pi4, Serial: "1234abcd", Server: pc.LocalAddr().String(),
		Expect: NewManifest(Files(Pi4, 0, 0, 1)), FileTimeout: 300 * time.Millisecond,
		Retransmit: 100 * time.Millisecond}
	res, err := b.Boot(context.Background())
	f := failureOf(t, res, err)
	if f.Cause != Timeout || f.Kind() != "timeout" || f.Path != "1234abcd/start4.elf" {
		t.Fatalf("failure %v, want a timeout of the start4.elf probe", f)
	}
	if len(res.Requests) != 1 {
		t.Errorf("%d requests, want the boot to stop after the first", len(res.Requests))
	}
	// The request was retransmitted before the deadline.
	buf := make([]byte, 1500)
	for i := 0; i < 2; i++ {
		if err := pc.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		p, err := tftp.ParsePacket(buf[:n])
		if rq, ok := p.(*tftp.RequestPacket); err != nil || !ok || rq.Filename != "1234abcd/start4.elf" {
			t.Fatalf("packet %d: %v %v, want the start4.elf RRQ", i+1, p, err)
		}
	}
}

func TestCancel(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	b := &Board{Model: Pi5, Serial: "1234abcd", Server: pc.LocalAddr().String(), Expect: Manifest{}}
	res, err := b.Boot(ctx)
	if f := failureOf(t, res, err); f.Cause != Cancelled {
		t.Fatalf("failure %v, want cancelled", f)
	}
}

func TestPrefixFallback(t *testing.T) {
	files := Files(Pi4, 0, 0, 9)
	fsys := fstest.MapFS{}
	layout(fsys, "", files) // no serial directory
	rec := newRecorder(t, tftp.FileServer(fsys))
	b := &Board{Model: Pi4, Serial: "1234abcd", Server: rec.srv.Addr, Expect: NewManifest(files)}
	res, err := b.Boot(context.Background())
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	if !res.FellBack || res.Prefix != "1234abcd" {
		t.Errorf("FellBack %v, Prefix %q; want true, 1234abcd", res.FellBack, res.Prefix)
	}
	want := append([]string{"P 1234abcd/start4.elf missing", "P 1234abcd/start.elf missing"},
		sequence("", seqPi4[1:]...)...)
	checkBoot(t, rec, b, res, want)
}

func TestPrefixForms(t *testing.T) {
	cases := []struct {
		b    Board
		want string
	}{
		{Board{Serial: "1234ABCD"}, "1234abcd"},
		{Board{Serial: "100000001234abcd"}, "1234abcd"},
		{Board{Serial: "000000001234abcd"}, "1234abcd"},
		{Board{Prefix: PrefixMAC, MAC: "DC:A6:32:01:36:C2"}, "dc-a6-32-01-36-c2"},
		{Board{Prefix: PrefixCustom, PrefixString: "lab/rack1"}, "lab/rack1"},
		{Board{Prefix: PrefixCustom}, ""},
	}
	for _, tc := range cases {
		got, err := tc.b.PrefixOf()
		if err != nil || got != tc.want {
			t.Errorf("%+v: prefix %q, %v; want %q", tc.b, got, err, tc.want)
		}
	}
	for _, bad := range []Board{
		{Serial: "1234abc"}, {Serial: "1234abcg"}, {Serial: "200000001234abcd"},
		{Prefix: PrefixMAC, MAC: "nope"}, {Prefix: PrefixCustom, PrefixString: strings.Repeat("x", 33)},
		{Prefix: 7},
	} {
		if p, err := bad.PrefixOf(); err == nil {
			t.Errorf("%+v: prefix %q, want an error", bad, p)
		}
	}

	// A Pi 5 with a MAC prefix and a custom kernel name boots from that
	// directory.
	b := &Board{Model: Pi5, Prefix: PrefixMAC, MAC: "dc:a6:32:01:36:c2", Kernel: "vmlinuz",
		Overlays: []string{}}
	files := b.Files(4000, -1, 5)
	if _, ok := files["vmlinuz"]; !ok {
		t.Fatalf("Files: no vmlinuz in %v", slices.Sorted(maps.Keys(files)))
	}
	fsys := fstest.MapFS{}
	layout(fsys, "dc-a6-32-01-36-c2", files)
	rec := newRecorder(t, tftp.FileServer(fsys))
	b.Server, b.Expect = rec.srv.Addr, NewManifest(files)
	res, err := b.Boot(context.Background())
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	checkBoot(t, rec, b, res, sequence("dc-a6-32-01-36-c2", "PR config.txt", "R2 config.txt",
		"PR bcm2712-rpi-5-b.dtb", "PR overlays/overlay_map.dtb", "PR cmdline.txt",
		"PR vmlinuz", "M initrd.img"))
}

func TestBootStorm(t *testing.T) {
	const boards = 50
	files := Files(Pi4, 20000, 30000, 11)
	fsys := fstest.MapFS{}
	serials := make([]string, boards)
	for i := range serials {
		serials[i] = fmt.Sprintf("%08x", 0xdc000000+i)
		layout(fsys, serials[i], files)
	}
	rec := newRecorder(t, tftp.FileServer(fsys))
	manifest := NewManifest(files)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	results := make([]*Result, boards)
	errs := make([]error, boards)
	var wg sync.WaitGroup
	for i := range boards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := &Board{Model: Pi4, Serial: serials[i], Server: rec.srv.Addr, Expect: manifest}
			results[i], errs[i] = b.Boot(ctx)
		}()
	}
	wg.Wait()
	total := 0
	var probes, missing, reads int
	for i, err := range errs {
		if err != nil {
			t.Fatalf("board %s: %v", serials[i], err)
		}
		want := sequence(serials[i], seqPi4...)
		if len(results[i].Requests) != len(want) {
			t.Fatalf("board %s: %d requests, want %d", serials[i], len(results[i].Requests), len(want))
		}
		total += len(results[i].Requests)
		p, m, r := counts(results[i])
		probes, missing, reads = probes+p, missing+m, reads+r
	}
	out := rec.wait(t, total)
	if out[tftp.Aborted] != probes || out[tftp.Failed] != missing || out[tftp.Completed] != reads || out[tftp.TimedOut] != 0 {
		t.Errorf("server outcomes %v, want %d aborted, %d failed (missing), %d completed", out, probes, missing, reads)
	}
}

// TestLossyBoot boots a Pi 4 through a network that drops, duplicates and
// reorders packets: retransmissions must get every file through intact.
func TestLossyBoot(t *testing.T) {
	for seed := int64(1); seed <= 2; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			files := Files(Pi4, 30000, 40000, seed)
			fsys := fstest.MapFS{}
			layout(fsys, "1234abcd", files)
			pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			lossy := tftptest.NewLossyConn(pc, seed, tftptest.Loss{Drop: 0.03, Duplicate: 0.03, Reorder: 0.03})
			rec := newRecorderOn(t, tftp.FileServer(fsys), lossy, func(s *tftp.Server) { s.Timeout = 200 * time.Millisecond })
			b := &Board{Model: Pi4, Serial: "1234abcd", Server: rec.srv.Addr, Expect: NewManifest(files),
				Retransmit: 100 * time.Millisecond, FileTimeout: 20 * time.Second}
			res, err := b.Boot(context.Background())
			if err != nil {
				t.Fatalf("boot over a lossy network: %v", err)
			}
			if got, want := len(res.Requests), len(sequence("1234abcd", seqPi4...)); got != want {
				t.Errorf("%d requests, want %d", got, want)
			}
		})
	}
}

// TestBootIPv6 boots a Pi 4 over IPv6 (USE_IPV6=1): same requests, same
// options.
func TestBootIPv6(t *testing.T) {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		testpeer.Missing(t, "IPv6 loopback: "+err.Error())
	}
	files := Files(Pi4, 10000, 10000, 4)
	fsys := fstest.MapFS{}
	layout(fsys, "1234abcd", files)
	rec := newRecorderOn(t, tftp.FileServer(fsys), pc, func(s *tftp.Server) { s.SinglePort = false })
	if !strings.HasPrefix(rec.srv.Addr, "[::1]:") {
		t.Fatalf("server address %s, want [::1]:port", rec.srv.Addr)
	}
	b := &Board{Model: Pi4, Serial: "1234abcd", Server: rec.srv.Addr, Expect: NewManifest(files)}
	res, err := b.Boot(context.Background())
	if err != nil {
		t.Fatalf("boot over IPv6: %v", err)
	}
	checkBoot(t, rec, b, res, sequence("1234abcd", seqPi4...))
}

func TestFiles(t *testing.T) {
	a, b := Files(Pi4, 0, 0, 1), Files(Pi4, 0, 0, 1)
	c := Files(Pi4, 0, 0, 2)
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Errorf("%s differs for the same seed", name)
		}
		if len(data) > 64 && bytes.Equal(data, c[name]) {
			t.Errorf("%s is the same for another seed", name)
		}
	}
	if n := len(a["kernel8.img"]); n != DefaultKernelSize {
		t.Errorf("kernel size %d, want %d", n, DefaultKernelSize)
	}
	if n := len(a["bcm2711-rpi-4-b.dtb"]); n%1024 != 0 {
		t.Errorf("dtb size %d, want a multiple of the Pi 4 block size", n)
	}
	if !bytes.HasPrefix(a["config.txt"], []byte("# pisim pi4 seed 1\n")) || !bytes.Contains(a["config.txt"], []byte("kernel=kernel8.img\n")) {
		t.Errorf("config.txt does not look like one: %q", a["config.txt"][:80])
	}
	if _, ok := Files(Pi4, 0, -1, 1)["initrd.img"]; ok {
		t.Error("initrdSize -1 still makes an initramfs")
	}
	fsys := fstest.MapFS{}
	layout(fsys, "abcd1234", a)
	m, err := ManifestFS(fsys, "abcd1234")
	if err != nil {
		t.Fatal(err)
	}
	want := NewManifest(a)
	if len(m) != len(want) {
		t.Fatalf("ManifestFS has %d files, want %d", len(m), len(want))
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("ManifestFS[%q] = %v, want %v", k, m[k], v)
		}
	}
}

func TestBoardValidation(t *testing.T) {
	for _, b := range []Board{
		{Model: 0, Serial: "1234abcd", Server: "127.0.0.1:1", Expect: Manifest{}},
		{Model: Pi4, Serial: "xyz", Server: "127.0.0.1:1", Expect: Manifest{}},
		{Model: Pi4, Serial: "1234abcd", Expect: Manifest{}},
		{Model: Pi4, Serial: "1234abcd", Server: "127.0.0.1:1"},
	} {
		if res, err := b.Boot(context.Background()); err == nil || res != nil {
			t.Errorf("%+v: Boot returned %v, %v; want no result and an error", b, res, err)
		}
	}
	for _, s := range []string{"pi3b+", "pi4", "pi5", "pi3rom"} {
		m, err := ParseModel(s)
		if err != nil || m.String() != s {
			t.Errorf("ParseModel(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseModel("pi2"); err == nil {
		t.Error("ParseModel(pi2) succeeded")
	}
}
