// Command tabulate turns the JSON lines of "nobodd-go bench --json" runs,
// tagged server=NAME, point=ID and rep=N by bench/compare.sh, into a
// markdown table of medians over the repetitions, one row per load point
// and server, with throughput ratios to the server named by --base.
//
// Limits: medians of an even number of values are the mean of the middle
// two; a figure missing from any repetition is left out of its median, and
// shown as "n/a" when missing from all.
//
// Usage:
//
//	tabulate [--base nobodd-go] < results.jsonl > table.md
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/nobodd-go/nobodd-go/internal/bench"
)

func main() {
	base := flag.String("base", "nobodd-go", "the server ratios are relative to")
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, *base); err != nil {
		fmt.Fprintf(os.Stderr, "tabulate: %v\n", err)
		os.Exit(1)
	}
}

type key struct{ point, server string }

func median(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// throughput is the figure ratios compare: MB/s for transfers, boots per
// second for boots.
func throughput(r *bench.Report) float64 {
	if r.Mode == "boots" {
		return r.PerSec
	}
	return r.MBps
}

func run(in io.Reader, out io.Writer, base string) error {
	groups := map[key][]*bench.Report{}
	var points, servers []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		r := &bench.Report{}
		if err := json.Unmarshal(sc.Bytes(), r); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		k := key{r.Tags["point"], r.Tags["server"]}
		if k.point == "" || k.server == "" {
			return fmt.Errorf("line %d: no point or server tag", line)
		}
		if !slices.Contains(points, k.point) {
			points = append(points, k.point)
		}
		if !slices.Contains(servers, k.server) {
			servers = append(servers, k.server)
		}
		groups[k] = append(groups[k], r)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if i := slices.Index(servers, base); i > 0 {
		servers = append([]string{base}, slices.Delete(servers, i, i+1)...)
	}
	fmt.Fprintln(out, "| point | server | agreed blksize/window | throughput | × "+base+" | p50 | p99 | failed / jobs | failures | server CPU s | CPU s per GB | peak RSS MiB |")
	fmt.Fprintln(out, "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
	for _, p := range points {
		baseTP, haveBase := 0.0, false
		if rs := groups[key{p, base}]; len(rs) > 0 {
			baseTP, haveBase = median(collect(rs, func(r *bench.Report) (float64, bool) { return throughput(r), true }))
		}
		for _, s := range servers {
			rs := groups[key{p, s}]
			if len(rs) == 0 {
				continue
			}
			tp, _ := median(collect(rs, func(r *bench.Report) (float64, bool) { return throughput(r), true }))
			unit := "MB/s"
			if rs[0].Mode == "boots" {
				unit = "boots/s"
			}
			ratio := "n/a"
			if haveBase && baseTP > 0 {
				ratio = fmt.Sprintf("%.2f", tp/baseTP)
			}
			failed, jobs := 0, 0
			causes := map[string]int{}
			agreed := map[string]bool{}
			for _, r := range rs {
				failed += r.Failed + r.NotRun
				jobs += r.Total
				for c, n := range r.Failures {
					causes[c] += n
				}
				if r.AgreedBlockSize > 0 {
					agreed[fmt.Sprintf("%d/%d", r.AgreedBlockSize, r.AgreedWindowSize)] = true
				}
			}
			var cs []string
			for _, c := range slices.Sorted(maps.Keys(causes)) {
				cs = append(cs, fmt.Sprintf("%s ×%d", c, causes[c]))
			}
			ag := strings.Join(slices.Sorted(maps.Keys(agreed)), ", ")
			if ag == "" {
				ag = "-"
			}
			fmt.Fprintf(out, "| %s | %s | %s | %.2f %s | %s | %s | %s | %d / %d | %s | %s | %s | %s |\n",
				p, s, ag, tp, unit, ratio,
				med(rs, func(r *bench.Report) (float64, bool) { return r.P50, r.OK > 0 }, "%.3f s"),
				med(rs, func(r *bench.Report) (float64, bool) { return r.P99, r.OK > 0 }, "%.3f s"),
				failed, jobs, strings.Join(cs, ", "),
				med(rs, func(r *bench.Report) (float64, bool) { return deref(r.ServerCPU) }, "%.2f"),
				med(rs, func(r *bench.Report) (float64, bool) { return deref(r.CPUPerGB) }, "%.2f"),
				med(rs, func(r *bench.Report) (float64, bool) {
					if r.ServerPeakRSS == nil {
						return 0, false
					}
					return float64(*r.ServerPeakRSS) / (1 << 20), true
				}, "%.1f"))
		}
	}
	return nil
}

func deref(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

func collect(rs []*bench.Report, f func(*bench.Report) (float64, bool)) []float64 {
	var v []float64
	for _, r := range rs {
		if x, ok := f(r); ok {
			v = append(v, x)
		}
	}
	return v
}

func med(rs []*bench.Report, f func(*bench.Report) (float64, bool), format string) string {
	m, ok := median(collect(rs, f))
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf(format, m)
}
