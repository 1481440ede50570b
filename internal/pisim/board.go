package pisim

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nobodd-go/nobodd-go/tftp"
)

// DefaultFileTimeout is the time a request may take when
// Board.FileTimeout is zero: the Pi's TFTP_FILE_TIMEOUT default.
const DefaultFileTimeout = 30 * time.Second

// DefaultDuplicateGap is the time between the concurrent duplicate
// requests of one file when Board.DuplicateGap is zero.
const DefaultDuplicateGap = 3 * time.Millisecond

// PrefixMode says how a board builds the directory prefix of its requests,
// as the bootloader's TFTP_PREFIX setting does.
type PrefixMode int

const (
	// PrefixSerial (TFTP_PREFIX=0, the default) uses the serial number as
	// 8 lower-case hex digits: "1234abcd/".
	PrefixSerial PrefixMode = iota
	// PrefixCustom (TFTP_PREFIX=1) uses Board.PrefixString, up to 32
	// characters; an empty string means no prefix at all.
	PrefixCustom
	// PrefixMAC (TFTP_PREFIX=2) uses Board.MAC as lower-case hex pairs
	// joined by dashes: "dc-a6-32-01-36-c2/".
	PrefixMAC
)

// Board is one emulated Raspberry Pi. Set the fields, then call Boot; a
// Board is not modified by Boot, and several Boards may boot at once. The
// zero values of the optional fields are the Pi's defaults.
type Board struct {
	// Model is the board's model. Required.
	Model Model

	// Serial is the serial number, as 8 hex digits or as the 16 that
	// /proc/cpuinfo shows (of which the leading "10000000" or "00000000"
	// is dropped), in either case. Required when Prefix is PrefixSerial,
	// except for Pi3ROM, which uses no prefix.
	Serial string

	// Prefix selects the prefix form; PrefixString and MAC are its
	// inputs for PrefixCustom and PrefixMAC. MAC is in any form
	// net.ParseMAC reads.
	Prefix       PrefixMode
	PrefixString string
	MAC          string

	// Server is the TFTP server's address, "host:port" ("host" alone
	// means port 69). Required.
	Server string

	// Expect is the board's boot directory: every file asked for is
	// looked up in it by its name without the prefix. Required; it is
	// only read, so many boards may share one.
	Expect Manifest

	// Kernel, Initramfs and DTB name those files; empty means the
	// model's default (Model.DefaultKernel, DefaultInitramfs,
	// Model.DefaultDTB). Overlays are the .dtbo files asked for under
	// overlays/ after overlay_map.dtb; nil means Model.DefaultOverlays,
	// an empty non-nil slice none.
	Kernel, Initramfs, DTB string
	Overlays               []string

	// FileTimeout bounds each request, from the first RRQ until the file
	// is read or its probe answered; 0 means DefaultFileTimeout.
	FileTimeout time.Duration

	// Retransmit is the time a request waits for an answer before it is
	// sent again (tftp.Client.Timeout). 0 means the client's default of
	// one second, and no timeout option; a value of a second or more is
	// also sent as the timeout option, which a Pi never sends.
	Retransmit time.Duration

	// DuplicateGap is the time between the concurrent duplicate requests
	// of a file; 0 means DefaultDuplicateGap.
	DuplicateGap time.Duration

	// KeepGoing makes Boot carry on after a failure, to see every file's
	// outcome; by default the boot stops at the first failure, as a Pi
	// that cannot get a file does.
	KeepGoing bool

	// Trace, when not nil, is called with each request once it ends (the
	// duplicates of a read once all of them end), from Boot's goroutine.
	Trace func(Request)
}

// Outcome is how one request ended.
type Outcome int

const (
	// OK: the file was read with the expected bytes, or the probe got the
	// expected size.
	OK Outcome = iota
	// Missing: the server answered ERROR 1 for a file the manifest does
	// not hold, which the Pi takes in its stride.
	Missing
	// Failed: see Request.Err.
	Failed
)

// String returns "ok", "missing" or "failed".
func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Missing:
		return "missing"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Request is one read request a board made.
type Request struct {
	Path string // as sent, with the prefix
	Name string // the Manifest key: Path without the prefix
	// Options are those of the RRQ, in the order a Pi sends them.
	Options tftp.Options
	// Probe is true for a tsize probe ended with "Early terminate", false
	// for a request that reads the file.
	Probe bool
	// Copy numbers the concurrent duplicates of one read: 0 for the
	// first, 1 and up for the others.
	Copy int
	// At is the time the request started, since the boot's start;
	// Duration is how long it took.
	At, Duration time.Duration
	// Size is the size a probe learnt (-1 when the server did not say),
	// or the bytes a read received.
	Size    int64
	Outcome Outcome
	Err     error // a *Failure when Outcome is Failed
}

// Cause is the kind of a Failure, for a load tool to count.
type Cause int

const (
	// HashMismatch: the file read has the expected size but other bytes.
	HashMismatch Cause = iota + 1
	// SizeMismatch: a probe or a read found another size than expected.
	SizeMismatch
	// NotFound: the server answered ERROR 1 for a file the manifest holds.
	NotFound
	// Unexpected: the server has a file the manifest does not hold.
	Unexpected
	// Timeout: the request did not end within Board.FileTimeout.
	Timeout
	// ServerError: the server answered with an ERROR other than 1.
	ServerError
	// Cancelled: Boot's context ended.
	Cancelled
	// TransferError: any other failure (a protocol error, a socket error).
	TransferError
)

// String returns a short name of the cause, such as "hash mismatch".
func (c Cause) String() string {
	switch c {
	case HashMismatch:
		return "hash mismatch"
	case SizeMismatch:
		return "size mismatch"
	case NotFound:
		return "not found"
	case Unexpected:
		return "unexpected file"
	case Timeout:
		return "timeout"
	case ServerError:
		return "server error"
	case Cancelled:
		return "cancelled"
	case TransferError:
		return "transfer error"
	}
	return fmt.Sprintf("cause(%d)", int(c))
}

// Failure is a request that did not go as the manifest says it should.
type Failure struct {
	Path  string // the path requested
	Probe bool   // whether it was a probe
	Cause Cause
	Err   error // the client's error, or a description of the mismatch
}

// Error returns "pisim: read <path>: <cause>: <detail>".
func (f *Failure) Error() string {
	op := "read"
	if f.Probe {
		op = "probe"
	}
	return fmt.Sprintf("pisim: %s %s: %s: %v", op, f.Path, f.Cause, f.Err)
}

// Unwrap returns the underlying error.
func (f *Failure) Unwrap() error { return f.Err }

// Kind returns the failure's kind for counting: the Cause's name, or for a
// ServerError "error N: message" as the server sent it.
func (f *Failure) Kind() string {
	var te *tftp.Error
	if f.Cause == ServerError && errors.As(f.Err, &te) {
		return fmt.Sprintf("error %d: %s", uint16(te.Code), te.Message)
	}
	return f.Cause.String()
}

// Result is the record of one boot.
type Result struct {
	Model  Model
	Prefix string // the prefix the board started with ("" for none)
	// FellBack is true when neither start4.elf nor start.elf was found
	// under Prefix, so every later file was asked for without it.
	FellBack bool
	Requests []Request // in the order made; duplicates in Copy order
	Start    time.Time
	Duration time.Duration
	// Totals over Requests: reads that got a whole file (right or
	// wrong), probes not answered "missing", requests answered "missing"
	// as expected, failed requests, and bytes received by all reads.
	Reads, Probes, Missing, Failures int
	Bytes                            int64
	// Err is the first failure, a *Failure; nil when the boot went as the
	// manifest says.
	Err error
}

// FailureKinds counts the failed requests by Failure.Kind.
func (r *Result) FailureKinds() map[string]int {
	m := map[string]int{}
	for _, q := range r.Requests {
		var f *Failure
		if errors.As(q.Err, &f) {
			m[f.Kind()]++
		}
	}
	return m
}

// PrefixOf returns the prefix b's requests start with ("" for none), or
// an error naming the field at fault.
func (b *Board) PrefixOf() (string, error) {
	switch b.Prefix {
	case PrefixSerial:
		return NormalizeSerial(b.Serial)
	case PrefixCustom:
		if len(b.PrefixString) > 32 {
			return "", fmt.Errorf("pisim: Board.PrefixString %q: longer than 32 characters", b.PrefixString)
		}
		if strings.ContainsAny(b.PrefixString, "\x00\\") || strings.HasPrefix(b.PrefixString, "/") {
			return "", fmt.Errorf("pisim: Board.PrefixString %q: not a relative path", b.PrefixString)
		}
		return strings.TrimSuffix(b.PrefixString, "/"), nil
	case PrefixMAC:
		hw, err := net.ParseMAC(b.MAC)
		if err != nil {
			return "", fmt.Errorf("pisim: Board.MAC: %w", err)
		}
		parts := make([]string, len(hw))
		for i, x := range hw {
			parts[i] = fmt.Sprintf("%02x", x)
		}
		return strings.Join(parts, "-"), nil
	}
	return "", fmt.Errorf("pisim: Board.Prefix %d: unknown prefix mode", int(b.Prefix))
}

// NormalizeSerial returns serial as the 8 lower-case hex digits a Pi puts
// in its prefix. It accepts 8 hex digits, or 16 starting "10000000" or
// "00000000", in either case.
func NormalizeSerial(serial string) (string, error) {
	s := strings.ToLower(serial)
	if len(s) == 16 && (strings.HasPrefix(s, "10000000") || strings.HasPrefix(s, "00000000")) {
		s = s[8:]
	}
	if len(s) != 8 {
		return "", fmt.Errorf("pisim: serial %q: want 8 hex digits (or 16 starting 10000000 or 00000000)", serial)
	}
	if _, err := strconv.ParseUint(s, 16, 32); err != nil {
		return "", fmt.Errorf("pisim: serial %q: not hexadecimal", serial)
	}
	return s, nil
}

// Boot runs the board's network boot against b.Server: every file of the
// model's sequence is probed or read as the Pi does (see the package
// documentation), each read verified against b.Expect.
//
// It returns an error without a Result when the Board is not valid.
// Otherwise it returns the Result and its Err: nil when every request
// went as Expect says. ctx ends the boot early (the request in flight
// fails with Cancelled).
func (b *Board) Boot(ctx context.Context) (*Result, error) {
	if !b.Model.valid() {
		return nil, fmt.Errorf("pisim: Board.Model %d: unknown model", int(b.Model))
	}
	prefix, err := b.PrefixOf()
	if err != nil && b.Model != Pi3ROM { // the ROM uses no prefix
		return nil, err
	}
	if b.Server == "" {
		return nil, errors.New("pisim: Board.Server is empty")
	}
	if b.Expect == nil {
		return nil, errors.New("pisim: Board.Expect is nil")
	}
	r := &runner{b: b, ctx: ctx, res: &Result{Model: b.Model, Prefix: prefix, Start: time.Now()}}
	r.fileTimeout = b.FileTimeout
	if r.fileTimeout <= 0 {
		r.fileTimeout = DefaultFileTimeout
	}
	retransmit := b.Retransmit
	if retransmit <= 0 {
		retransmit = tftp.DefaultClientTimeout
	}
	// Enough retries that the file deadline, not the retry count, ends a
	// silent transfer, as on a Pi.
	retries := int(r.fileTimeout/retransmit) + 2
	r.rom = &tftp.Client{BlockSize: 512, Timeout: b.Retransmit, Retries: retries}
	r.second = &tftp.Client{BlockSize: b.Model.BlockSize(), TransferSize: true, Timeout: b.Retransmit, Retries: retries}
	r.gap = b.DuplicateGap
	if r.gap <= 0 {
		r.gap = DefaultDuplicateGap
	}

	cur := prefix
	for _, st := range b.plan() {
		if r.res.Err != nil && (!b.KeepGoing || ctx.Err() != nil) {
			break
		}
		p := join(cur, st.name)
		if st.rom {
			p = st.name
		}
		switch {
		case st.prefixCheck:
			if !r.prefixCheck(prefix) && prefix != "" {
				cur = ""
				r.res.FellBack = true
			}
		case st.act == probe:
			r.probe(p, st.name)
		case st.act == load:
			r.read(p, st.name, st.rom, st.copies)
		case st.act == probeLoad:
			if r.probe(p, st.name) {
				r.read(p, st.name, st.rom, st.copies)
			}
		}
	}
	r.res.Duration = time.Since(r.res.Start)
	return r.res, r.res.Err
}

// runner is the state of one Boot.
type runner struct {
	b           *Board
	ctx         context.Context
	rom, second *tftp.Client
	fileTimeout time.Duration
	gap         time.Duration
	res         *Result // only written from Boot's goroutine
}

// record adds q to the result.
func (r *runner) record(q Request) {
	res := r.res
	res.Requests = append(res.Requests, q)
	switch {
	case q.Outcome == Missing:
		res.Missing++
	case q.Probe:
		res.Probes++
	}
	if !q.Probe {
		res.Bytes += q.Size
		if q.Outcome == OK || isContentFailure(q.Err) {
			res.Reads++
		}
	}
	if q.Outcome == Failed {
		res.Failures++
		if res.Err == nil {
			res.Err = q.Err
		}
	}
	if r.b.Trace != nil {
		r.b.Trace(q)
	}
}

// isContentFailure reports whether err is a read that completed with
// content other than expected.
func isContentFailure(err error) bool {
	var f *Failure
	return errors.As(err, &f) && (f.Cause == HashMismatch || f.Cause == SizeMismatch || f.Cause == Unexpected)
}

// options returns the options of a request as a Pi sends them.
func (r *runner) options(rom bool) tftp.Options {
	if rom {
		return nil
	}
	o := tftp.Options{{Name: tftp.OptTransferSize, Value: "0"}}
	if bs := r.b.Model.BlockSize(); bs != 512 {
		o = append(o, tftp.Option{Name: tftp.OptBlockSize, Value: strconv.Itoa(bs)})
	}
	return o
}

// classify turns a client error into the request's outcome: Missing when
// the file is absent as expected, else a Failure.
func (r *runner) classify(q *Request, expected bool, err error) {
	f := &Failure{Path: q.Path, Probe: q.Probe, Err: err}
	var te *tftp.Error
	switch {
	case errors.Is(err, fs.ErrNotExist) && errors.As(err, &te):
		if !expected {
			q.Outcome = Missing
			return
		}
		f.Cause = NotFound
	case r.ctx.Err() != nil:
		f.Cause = Cancelled
	case errors.Is(err, context.DeadlineExceeded):
		f.Cause = Timeout
		f.Err = fmt.Errorf("no answer within %v: %w", r.fileTimeout, err)
	case errors.As(err, &te):
		f.Cause = ServerError
	default:
		f.Cause = TransferError
	}
	q.Outcome, q.Err = Failed, f
}

// probe makes one tsize probe for p and reports whether the file exists.
func (r *runner) probe(p, name string) bool {
	exists, _ := r.probeOnly(p, name, true)
	return exists
}

// probeOnly probes p; judge says whether to hold the answer against the
// manifest. It reports whether the file exists and whether the probe
// failed.
func (r *runner) probeOnly(p, name string, judge bool) (exists, failed bool) {
	q := Request{Path: p, Name: name, Options: r.options(false), Probe: true, Size: -1}
	exp, expected := r.b.Expect[name]
	start := time.Now()
	q.At = start.Sub(r.res.Start)
	ctx, cancel := context.WithTimeout(r.ctx, r.fileTimeout)
	size, err := r.second.Probe(ctx, r.b.Server, p)
	cancel()
	q.Duration = time.Since(start)
	q.Size = size
	switch {
	case err != nil:
		if !judge {
			expected = false // a missing file is only a sign to drop the prefix
		}
		r.classify(&q, expected, err)
	case !judge:
	case !expected:
		q.Outcome, q.Err = Failed, &Failure{Path: p, Probe: true, Cause: Unexpected,
			Err: fmt.Errorf("server announced %d bytes for a file not in the manifest", size)}
	case size >= 0 && size != exp.Size:
		q.Outcome, q.Err = Failed, &Failure{Path: p, Probe: true, Cause: SizeMismatch,
			Err: fmt.Errorf("server announced %d bytes, want %d", size, exp.Size)}
	}
	r.record(q)
	return err == nil, q.Outcome == Failed
}

// prefixCheck probes the model's start*.elf files under prefix and reports
// whether one is there (or a probe failed otherwise than "missing", which
// keeps the prefix as a Pi that heard nothing would).
func (r *runner) prefixCheck(prefix string) bool {
	for _, name := range r.b.Model.prefixCandidates() {
		exists, failed := r.probeOnly(join(prefix, name), name, false)
		if exists || failed {
			return true
		}
	}
	return false
}

// read reads p, in copies concurrent requests DuplicateGap apart, each
// verified against the manifest.
func (r *runner) read(p, name string, rom bool, copies int) {
	if copies <= 1 {
		r.record(r.readOne(p, name, rom, 0))
		return
	}
	qs := make([]Request, copies)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i > 0 {
				t := time.NewTimer(time.Duration(i) * r.gap)
				select {
				case <-t.C:
				case <-r.ctx.Done():
					t.Stop()
				}
			}
			qs[i] = r.readOne(p, name, rom, i)
		}()
	}
	wg.Wait()
	for _, q := range qs {
		r.record(q)
	}
}

// readOne reads p once with a fresh socket and verifies it.
func (r *runner) readOne(p, name string, rom bool, copy int) Request {
	q := Request{Path: p, Name: name, Options: r.options(rom), Copy: copy}
	c := r.second
	if rom {
		c = r.rom
	}
	exp, expected := r.b.Expect[name]
	h := sha256.New()
	start := time.Now()
	q.At = start.Sub(r.res.Start)
	ctx, cancel := context.WithTimeout(r.ctx, r.fileTimeout)
	n, err := c.Get(ctx, r.b.Server, p, h)
	cancel()
	q.Duration = time.Since(start)
	q.Size = n
	if err != nil {
		r.classify(&q, expected, err)
		return q
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	switch {
	case !expected:
		q.Outcome, q.Err = Failed, &Failure{Path: p, Cause: Unexpected,
			Err: fmt.Errorf("server sent %d bytes of a file not in the manifest", n)}
	case n != exp.Size:
		q.Outcome, q.Err = Failed, &Failure{Path: p, Cause: SizeMismatch,
			Err: fmt.Errorf("got %d bytes, want %d", n, exp.Size)}
	case sum != exp.Sum:
		q.Outcome, q.Err = Failed, &Failure{Path: p, Cause: HashMismatch,
			Err: fmt.Errorf("SHA-256 %x, want %x", sum, exp.Sum)}
	}
	return q
}
