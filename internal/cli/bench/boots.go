package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	ib "github.com/nobodd-go/nobodd-go/internal/bench"
	"github.com/nobodd-go/nobodd-go/internal/pisim"
)

// maxSerials bounds a --serials range.
const maxSerials = 1 << 16

// boots is the boots mode.
type boots struct {
	o       *options
	models  []pisim.Model
	serials []string
	expect  pisim.Manifest
}

func newBoots(o *options) (point, error) {
	b := &boots{o: o}
	for _, s := range strings.Split(o.models, ",") {
		m, err := pisim.ParseModel(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("--model: %w", err)
		}
		if m == pisim.Pi3ROM {
			return nil, fmt.Errorf("--model %s: a boot ROM stage, not a whole boot", m)
		}
		b.models = append(b.models, m)
	}
	serials, err := parseSerials(o.serials)
	if err != nil {
		return nil, err
	}
	b.serials = serials
	b.expect, err = pisim.ManifestFS(os.DirFS(o.bootDir), ".")
	if err != nil {
		return nil, fmt.Errorf("--boot-dir %s: %w", o.bootDir, err)
	}
	if len(b.expect) == 0 {
		return nil, fmt.Errorf("--boot-dir %s: no files", o.bootDir)
	}
	return b, nil
}

// parseSerials expands a comma-separated list of serial numbers and hex
// ranges FIRST-LAST into 8-digit serials.
func parseSerials(list string) ([]string, error) {
	var out []string
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		first, last, isRange := strings.Cut(item, "-")
		if !isRange {
			s, err := pisim.NormalizeSerial(item)
			if err != nil {
				return nil, fmt.Errorf("--serials: %w", err)
			}
			out = append(out, s)
			continue
		}
		a, err := pisim.NormalizeSerial(first)
		if err != nil {
			return nil, fmt.Errorf("--serials range %q: %w", item, err)
		}
		z, err := pisim.NormalizeSerial(last)
		if err != nil {
			return nil, fmt.Errorf("--serials range %q: %w", item, err)
		}
		lo, _ := strconv.ParseUint(a, 16, 32) // NormalizeSerial checked the digits
		hi, _ := strconv.ParseUint(z, 16, 32)
		if hi < lo || hi-lo >= maxSerials {
			return nil, fmt.Errorf("--serials range %q: want FIRST ≤ LAST and at most %d serials", item, maxSerials)
		}
		for v := lo; v <= hi; v++ {
			out = append(out, fmt.Sprintf("%08x", v))
		}
	}
	return out, nil
}

// board returns the board of job i.
func (b *boots) board(addr string, i int) *pisim.Board {
	return &pisim.Board{
		Model:       b.models[i%len(b.models)],
		Serial:      b.serials[i%len(b.serials)],
		Server:      addr,
		Expect:      b.expect,
		Kernel:      b.o.kernel,
		Initramfs:   b.o.initrd,
		FileTimeout: b.o.fileTimeout,
		Retransmit:  b.o.timeout,
	}
}

func (b *boots) job(addr string) ib.Job {
	return func(ctx context.Context, i int) ib.Outcome {
		var o ib.Outcome
		// Boot returns the Result's Err as its error; only an invalid
		// Board comes without a Result.
		res, err := b.board(addr, i).Boot(ctx)
		if res == nil {
			o.Fail(ib.CauseTransferError, err)
			return o
		}
		o.Bytes, o.Files = res.Bytes, res.Reads
		for _, q := range res.Requests {
			if q.Outcome == pisim.Failed {
				o.Fail(failureKind(q.Err), q.Err)
			}
		}
		if res.Err != nil && len(o.Failures) == 0 {
			o.Fail(failureKind(res.Err), res.Err)
		}
		return o
	}
}

// failureKind returns the cause of a pisim failure.
func failureKind(err error) string {
	var f *pisim.Failure
	if errors.As(err, &f) {
		return f.Kind()
	}
	return ib.CauseTransferError
}

func (b *boots) describe(r *ib.Report) {
	names := make([]string, len(b.models))
	for i, m := range b.models {
		names[i] = m.String()
	}
	r.Mode, r.File = "boots", strings.Join(names, ",")
	if len(b.models) == 1 {
		r.BlockSize = b.models[0].BlockSize()
	}
}

func (b *boots) verify(*ib.Result) string { return "" }
