package bench

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nobodd-go/nobodd-go/tftp"
)

// Failure causes counted in Outcome.Failures, besides "error N: message"
// for an ERROR packet other than ERROR 1.
const (
	CauseTimeout       = "timeout"        // the per-file deadline passed, or the client ran out of retries
	CauseDeadline      = "deadline"       // the load point's total deadline passed mid-transfer
	CauseCancelled     = "cancelled"      // the caller's context ended
	CauseNotFound      = "not found"      // ERROR 1
	CauseHashMismatch  = "hash mismatch"  // the whole file came, with other bytes
	CauseSizeMismatch  = "size mismatch"  // the file came with another length than expected
	CauseTransferError = "transfer error" // anything else: a protocol or socket error
)

// Context causes that tell a job's own deadline from the point's.
var (
	errJobTimeout    = errors.New("bench: per-file deadline passed")
	errTotalDeadline = errors.New("bench: total deadline passed")
)

// Classify returns the failure cause of err, returned by a tftp.Client
// call made under ctx (a job's context from Run).
func Classify(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		switch c := context.Cause(ctx); {
		case errors.Is(c, errJobTimeout):
			return CauseTimeout
		case errors.Is(c, errTotalDeadline):
			return CauseDeadline
		case errors.Is(c, context.DeadlineExceeded):
			return CauseTimeout
		}
		return CauseCancelled
	}
	var te *tftp.Error
	if errors.As(err, &te) {
		if te.Code == tftp.ErrNotFound {
			return CauseNotFound
		}
		return fmt.Sprintf("error %d: %s", uint16(te.Code), te.Message)
	}
	// tftp.Client reports running out of retries as "no reply to the
	// read request after N retries" or "no DATA block N after N retries",
	// without a sentinel error.
	if strings.Contains(err.Error(), " retries") {
		return CauseTimeout
	}
	return CauseTransferError
}

// Digest is an expected file: its size and SHA-256.
type Digest struct {
	Size int64
	Sum  [sha256.Size]byte
}

// FileDigest returns the digest of the local file name.
func FileDigest(name string) (Digest, error) {
	f, err := os.Open(name)
	if err != nil {
		return Digest{}, err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Digest{}, &os.PathError{Op: "read", Path: name, Err: err}
	}
	d := Digest{Size: n}
	h.Sum(d.Sum[:0])
	return d, nil
}

// Transfer is a Job source: each job reads File from the server at Addr
// with Client and checks what came against Expect.
type Transfer struct {
	// Client makes the requests; its Progress field is replaced (to learn
	// the block and window sizes the server agreed to).
	Client tftp.Client
	// Addr is the server's "host:port".
	Addr string
	// File is the remote file name.
	File string
	// Expect, when not nil, is what every transfer must receive (a
	// negative Size checks the digest alone). When nil
	// the digests are compared across transfers afterwards (VerifyMajority).
	Expect *Digest
}

// Job reads the file once; use it as Run's Job.
func (t *Transfer) Job(ctx context.Context, _ int) Outcome {
	var o Outcome
	h := sha256.New()
	c := t.Client
	c.Progress = func(p tftp.Progress) {
		if o.BlockSize == 0 {
			o.BlockSize, o.WindowSize = p.BlockSize, p.WindowSize
		}
	}
	n, err := c.Get(ctx, t.Addr, t.File, h)
	o.Bytes = n
	if err != nil {
		o.Fail(Classify(ctx, err), err)
		return o
	}
	o.Files = 1
	h.Sum(o.Digest[:0])
	o.HasDigest = true
	if e := t.Expect; e != nil {
		switch {
		case e.Size >= 0 && n != e.Size:
			o.Fail(CauseSizeMismatch, fmt.Errorf("bench: %s: received %d bytes, want %d", t.File, n, e.Size))
		case o.Digest != e.Sum:
			o.Fail(CauseHashMismatch, fmt.Errorf("bench: %s: SHA-256 %x, want %x", t.File, o.Digest, e.Sum))
		}
	}
	return o
}

// VerifyMajority compares the digests of the transfers in r that received
// a whole file: the most common one (the first seen among equals) is taken
// as the file's, and every other is marked a hash mismatch. It returns the
// reference digest, and false when no transfer received a whole file.
func VerifyMajority(r *Result) ([sha256.Size]byte, bool) {
	count := map[[sha256.Size]byte]int{}
	var best [sha256.Size]byte
	bestN := 0
	for i := range r.Outcomes {
		o := &r.Outcomes[i]
		if !o.Ran || !o.HasDigest {
			continue
		}
		count[o.Digest]++
		if c := count[o.Digest]; c > bestN {
			best, bestN = o.Digest, c
		}
	}
	if bestN == 0 {
		return best, false
	}
	for i := range r.Outcomes {
		o := &r.Outcomes[i]
		if o.Ran && o.HasDigest && o.Digest != best {
			o.Fail(CauseHashMismatch, fmt.Errorf("bench: SHA-256 %x differs from the %x of %d other transfers", o.Digest, best, bestN))
		}
	}
	return best, true
}
