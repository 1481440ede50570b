package interop

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
	pin "github.com/pin/tftp/v3"
	packag "pack.ag/tftp"
)

// toFile creates the file local and has fill write it.
func toFile(local string, fill func(w io.Writer) error) (err error) {
	out, err := os.Create(local)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	return fill(out)
}

// fromFile opens the file local and has send read it, given its size.
func fromFile(local string, send func(r io.Reader, size int64) error) error {
	in, err := os.Open(local)
	if err != nil {
		return err
	}
	defer in.Close() // read only
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	return send(in, fi.Size())
}

// pinTransfer returns get and put functions using github.com/pin/tftp/v3's
// client against host (an IP address, possibly not the one the server was
// bound to).
func pinTransfer(host string) (get, put transferFunc) {
	client := func(f *fixture, bs int) (*pin.Client, error) {
		c, err := pin.NewClient(fmt.Sprintf("%s:%d", host, f.port))
		if err != nil {
			return nil, err
		}
		c.SetTimeout(time.Second)
		c.SetRetries(5)
		if bs != 0 {
			c.SetBlockSize(bs)
		}
		c.RequestTSize(true)
		return c, nil
	}
	get = func(t *testing.T, f *fixture, remote, local string, bs, ws int) (err error) {
		c, err := client(f, bs)
		if err != nil {
			return err
		}
		wt, err := c.Receive(remote, "octet")
		if err != nil {
			return fmt.Errorf("pin Receive: %w", err)
		}
		return toFile(local, func(out io.Writer) error {
			if _, err := wt.WriteTo(out); err != nil {
				return fmt.Errorf("pin WriteTo: %w", err)
			}
			return nil
		})
	}
	put = func(t *testing.T, f *fixture, remote, local string, bs, ws int) error {
		c, err := client(f, bs)
		if err != nil {
			return err
		}
		return fromFile(local, func(in io.Reader, size int64) error {
			rf, err := c.Send(remote, "octet")
			if err != nil {
				return fmt.Errorf("pin Send: %w", err)
			}
			rf.(pin.OutgoingTransfer).SetSize(size)
			if _, err := rf.ReadFrom(in); err != nil {
				return fmt.Errorf("pin ReadFrom: %w", err)
			}
			return nil
		})
	}
	return get, put
}

// TestPin uses github.com/pin/tftp/v3's client (no windowsize). Facts: with
// SetBlockSize and RequestTSize it sends blksize and tsize=0 on RRQ (options
// come from a Go map, so their order varies) but only blksize on WRQ, even
// after SetSize; it ignores replies from any address but the one it sent to.
func TestPin(t *testing.T) {
	f := start(t, "")
	get, put := pinTransfer("127.0.0.1")
	matrix(t, f, blockSizes, []int{1}, get, put, func(t *testing.T, opts tftp.Options, bs, ws int) {
		wantOption(t, opts, "blksize", strconv.Itoa(bs))
	})
}

// TestMultiHomed: the server listens on every address (IPv4, and dual-stack
// IPv6) and the client sends to 127.0.0.2 (and to ::1). pin/tftp drops replies from any other source address, so the
// transfer succeeds only if the server answers from 127.0.0.2 - what
// embedded clients such as the Raspberry Pi's require.
func TestMultiHomed(t *testing.T) {
	for _, tc := range []struct{ listen, host string }{
		{"0.0.0.0:0", "127.0.0.2"},
		{"[::]:0", "127.0.0.2"},
		{"[::]:0", "[::1]"},
	} {
		t.Run(tc.listen+"/"+tc.host, func(t *testing.T) {
			f := start(t, tc.listen)
			get, put := pinTransfer(tc.host)
			for _, size := range []int{0, 1468, 3 * 1468} {
				remote := fileName(size)
				local := filepath.Join(t.TempDir(), "out")
				if err := get(t, f, remote, local, 1468, 1); err != nil {
					t.Fatalf("get %s via %s: %v", remote, tc.host, err)
				}
				checkFile(t, local, f.sums[remote], size)
				up := fmt.Sprintf("mh-%d.bin", size)
				if err := os.WriteFile(local, content(size), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := put(t, f, up, local, 1468, 1); err != nil {
					t.Fatalf("put %s via %s: %v", up, tc.host, err)
				}
				checkFile(t, filepath.Join(f.upload, up), f.sums[remote], size)
			}
		})
	}
}

// TestPackAg uses pack.ag/tftp's client, which negotiates windowsize.
// Facts: its default mode is netascii (octet must be asked for); it sends
// blksize, tsize and windowsize (windowsize=1 too, when asked) from a Go
// map, so their order varies; on Put it drops tsize for an empty file.
func TestPackAg(t *testing.T) {
	f := start(t, "")
	client := func(bs, ws int) (*packag.Client, error) {
		opts := []packag.ClientOpt{packag.ClientMode(packag.ModeOctet), packag.ClientTransferSize(true), packag.ClientRetransmit(5)}
		if bs != 0 {
			opts = append(opts, packag.ClientBlocksize(bs))
		}
		if ws != 0 {
			opts = append(opts, packag.ClientWindowsize(ws))
		}
		return packag.NewClient(opts...)
	}
	url := func(f *fixture, remote string) string { return fmt.Sprintf("tftp://127.0.0.1:%d/%s", f.port, remote) }
	get := func(t *testing.T, f *fixture, remote, local string, bs, ws int) (err error) {
		c, err := client(bs, ws)
		if err != nil {
			return err
		}
		resp, err := c.Get(url(f, remote))
		if err != nil {
			return fmt.Errorf("pack.ag Get: %w", err)
		}
		return toFile(local, func(out io.Writer) error {
			if _, err := io.Copy(out, resp); err != nil {
				return fmt.Errorf("pack.ag read: %w", err)
			}
			return nil
		})
	}
	put := func(t *testing.T, f *fixture, remote, local string, bs, ws int) error {
		c, err := client(bs, ws)
		if err != nil {
			return err
		}
		return fromFile(local, func(in io.Reader, size int64) error {
			if err := c.Put(url(f, remote), in, size); err != nil {
				return fmt.Errorf("pack.ag Put: %w", err)
			}
			return nil
		})
	}
	matrix(t, f, blockSizes, windowSizes, get, put, func(t *testing.T, opts tftp.Options, bs, ws int) {
		wantOption(t, opts, "blksize", strconv.Itoa(bs))
		wantOption(t, opts, "windowsize", strconv.Itoa(ws))
	})
}
