package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is one load point's figures, as printed and as one JSON line.
// Fields that could not be measured are nil (JSON null).
type Report struct {
	Point      string  `json:"point"` // a label, such as "transfers c=10"
	Mode       string  `json:"mode"`  // "transfers" or "boots"
	Server     string  `json:"server"`
	File       string  `json:"file,omitempty"`
	BlockSize  int     `json:"blksize,omitempty"`
	WindowSize int     `json:"windowsize,omitempty"`
	Loss       float64 `json:"loss"`
	// What the server agreed to: the smallest over the point's jobs;
	// 0 when unknown (no block came, or boots).
	AgreedBlockSize  int `json:"agreed_blksize"`
	AgreedWindowSize int `json:"agreed_windowsize"`
	Total            int `json:"total"`
	Concurrency      int `json:"concurrency"`

	OK       int            `json:"ok"`
	Failed   int            `json:"failed"`
	NotRun   int            `json:"not_run"`
	Failures map[string]int `json:"failures"`
	Bytes    int64          `json:"bytes"`
	Files    int            `json:"files"`
	Seconds  float64        `json:"seconds"`
	MBps     float64        `json:"mb_per_s"` // 10^6 bytes per second, all bytes received
	PerSec   float64        `json:"per_s"`    // successful transfers or boots per second
	P50      float64        `json:"p50_s"`    // completion time of successful jobs, seconds
	P99      float64        `json:"p99_s"`
	Max      float64        `json:"max_s"`

	// From a Relay, when traffic went through one.
	ClientResends *int64 `json:"client_resends"`
	ServerResends *int64 `json:"server_resends"`
	Dropped       *int64 `json:"dropped"`

	// From a Meter, when one was given.
	ServerCPU       *float64 `json:"server_cpu_s"`
	ServerPeakRSS   *int64   `json:"server_peak_rss_bytes"`
	CPUPerGB        *float64 `json:"server_cpu_s_per_gb"` // CPU seconds per 10^9 bytes received
	MeterError      string   `json:"meter_error,omitempty"`
	FirstError      string   `json:"first_error,omitempty"`
	ReferenceSHA256 string   `json:"sha256,omitempty"`
	// Tags are the caller\'s KEY=VALUE labels, copied through.
	Tags map[string]string `json:"tags,omitempty"`
}

// Fill sets r's figures from s, and from relay statistics and server usage
// when given (nil otherwise).
func (r *Report) Fill(s Summary, rs *RelayStats, u *Usage) {
	r.OK, r.Failed, r.NotRun = s.OK, s.Failed, s.NotRun
	r.Failures = s.Failures
	r.Bytes, r.Files = s.Bytes, s.Files
	r.AgreedBlockSize, r.AgreedWindowSize = s.BlockSize, s.WindowSize
	r.Seconds = s.Elapsed.Seconds()
	if r.Seconds > 0 {
		r.MBps = float64(s.Bytes) / 1e6 / r.Seconds
		r.PerSec = float64(s.OK) / r.Seconds
	}
	r.P50, r.P99, r.Max = s.P50.Seconds(), s.P99.Seconds(), s.Max.Seconds()
	if rs != nil {
		c, sv, d := rs.ClientResends, rs.ServerResends, rs.UpDropped+rs.DownDropped
		r.ClientResends, r.ServerResends, r.Dropped = &c, &sv, &d
	}
	if u != nil {
		if u.HasCPU {
			cpu := u.CPU.Seconds()
			r.ServerCPU = &cpu
			if s.Bytes > 0 {
				per := cpu / (float64(s.Bytes) / 1e9)
				r.CPUPerGB = &per
			}
		}
		if u.HasRSS {
			rss := u.PeakRSS
			r.ServerPeakRSS = &rss
		}
	}
}

// FailureString returns the failure counts as "cause×n, …" sorted by cause,
// or "0".
func (r *Report) FailureString() string {
	if len(r.Failures) == 0 {
		return "0"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.Failures)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, r.Failures[k]))
	}
	return strings.Join(parts, ", ")
}

// WriteTable writes reports as an aligned human-readable table.
func WriteTable(w io.Writer, reports []*Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "point\tagreed bs/ws\tok/total\tMB/s\tper s\tp50\tp99\tmax\tresends c/s\tcpu s\tcpu s/GB\tpeak RSS\tfailures")
	for _, r := range reports {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.1f\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.Point, agreed(r), r.OK, r.Total, r.MBps, r.PerSec,
			secs(r.P50), secs(r.P99), secs(r.Max),
			resends(r.ClientResends, r.ServerResends),
			optFloat(r.ServerCPU, "%.2f"), optFloat(r.CPUPerGB, "%.2f"), optMiB(r.ServerPeakRSS),
			r.FailureString())
	}
	return tw.Flush()
}

func agreed(r *Report) string {
	if r.AgreedBlockSize == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", r.AgreedBlockSize, r.AgreedWindowSize)
}

func secs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}

func resends(c, s *int64) string {
	if c == nil || s == nil {
		return "n/a"
	}
	return fmt.Sprintf("%d/%d", *c, *s)
}

func optFloat(v *float64, format string) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf(format, *v)
}

func optMiB(v *int64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(*v)/(1<<20))
}
