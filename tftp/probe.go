package tftp

import (
	"context"
	"strconv"
	"time"
)

// EarlyTerminate is the message of the ERROR 0 packet Probe sends to end a
// transfer once it has learnt the size, as a Raspberry Pi's bootloader does.
const EarlyTerminate = "Early terminate"

// Probe asks the server at addr for the size of the file remote the way a
// Raspberry Pi's bootloader does, without transferring it: it sends a read
// request with the options "tsize 0" and, when c.BlockSize is not 512,
// "blksize" (in that order, as the Pi sends them; no other option), waits
// for the server's answer and ends the transfer with ERROR 0 "Early
// terminate" sent to the server's transfer port.
//
// It returns the size the server announced in its OACK, or -1 when the
// server acknowledged options but not tsize, or ignored the options and
// started with DATA block 1 (which is then abandoned the same way). An
// ERROR answer is returned as a *Error (test with errors.As); ERROR 1 also
// matches fs.ErrNotExist with errors.Is. A server refusing the options with
// ERROR 8 is asked again without any, as Get does.
//
// The request is retransmitted after c.Timeout, up to c.Retries times, as by
// Get. When ctx is done the server is sent ERROR 0 and Probe returns ctx's
// error. c.WindowSize, c.TransferSize, c.Rollover and c.Progress play no part.
func (c *Client) Probe(ctx context.Context, addr, remote string) (size int64, err error) {
	t, err := c.start(ctx, "probe", addr, remote)
	if err != nil {
		return -1, err
	}
	defer t.close()

	opts := Options{{Name: OptTransferSize, Value: "0"}}
	if t.askBlksize != 0 {
		opts = append(opts, Option{Name: OptBlockSize, Value: strconv.Itoa(t.askBlksize)})
	}
	req := &RequestPacket{Op: OpRRQ, Filename: remote, Mode: t.mode, Options: opts}
	plain := false
	t.sendTo(t.server, req)
	tries := 0
	deadline := time.Now().Add(t.timeout)
	for {
		p, err := t.recv(deadline)
		if err == errClientTimeout {
			tries++
			if tries > t.retries {
				return -1, t.errorf("no reply to the read request after %d retries", t.retries)
			}
			t.sendTo(t.server, req)
			deadline = time.Now().Add(t.timeout)
			continue
		}
		if err != nil {
			return -1, t.fail(err)
		}
		switch p := p.(type) {
		case *Error:
			if !plain && p.Code == ErrOption {
				// Options refused: ask again without, and learn only
				// whether the file exists.
				plain, t.locked = true, false
				req = &RequestPacket{Op: OpRRQ, Filename: remote, Mode: t.mode}
				t.sendTo(t.server, req)
				tries, deadline = 0, time.Now().Add(t.timeout)
				continue
			}
			return -1, t.errorf("%w", p)
		case *OACKPacket:
			if plain {
				t.abort(ErrOption, "no options were requested")
				return -1, t.errorf("server sent an OACK to a request without options")
			}
			size := int64(-1)
			if v, ok := p.Options.Get(OptTransferSize); ok {
				n, known, perr := ParseOption(OptTransferSize, v)
				if !known || perr != nil {
					t.abort(ErrOption, "option tsize="+strconv.Quote(v)+": not a valid value")
					return -1, t.errorf("server's OACK: option tsize=%q: not a valid value", v)
				}
				size = n
			}
			t.abort(ErrUndefined, EarlyTerminate)
			return size, nil
		case *DataPacket:
			// The server ignored the options (or none were asked): it
			// started sending, and never said the size.
			t.abort(ErrUndefined, EarlyTerminate)
			return -1, nil
		default:
			t.abort(ErrIllegalOp, "unexpected packet")
			return -1, t.errorf("unexpected %v packet from the server", p.Opcode())
		}
	}
}
