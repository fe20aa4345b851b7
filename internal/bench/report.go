package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is the outcome of one run.
type Report struct {
	Command     string    `json:"command"`
	Started     time.Time `json:"started"`
	GOMAXPROCS  int       `json:"gomaxprocs"`
	NumCPU      int       `json:"num_cpu"`
	LoadAvg     float64   `json:"loadavg_1m_at_start"`
	Concurrency int       `json:"concurrency"`
	Duration    string    `json:"duration"`
	Warmup      string    `json:"warmup"`
	Rows        []Row     `json:"rows"`
	// Facts are single measurements: start-up time, memory, sweep speed…
	Facts   map[string]any `json:"facts"`
	Targets []Target       `json:"targets"`
}

// Row is one scenario's result.
type Row struct {
	Scenario string  `json:"scenario"`
	Mode     string  `json:"mode"` // "closed" or "open@N/s"
	Conns    int     `json:"connections"`
	Requests int64   `json:"requests"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"requests_per_s"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Errors   int64   `json:"errors"`
	// CPUus is the CPU time of this process (server and load generator)
	// per request during the measurement, in microseconds: unlike req/s
	// it hardly depends on what else the machine runs.
	CPUus float64 `json:"cpu_us_per_request"`
	// Ratio is RPS over the baseline's (0 for rows that are not HTTP).
	Ratio float64 `json:"ratio_to_baseline"`
	// WritesPerCommit is the SQLite session store's group-commit batching
	// during the measurement: session writes over transactions (0 when
	// not measured: another store, or a running server).
	WritesPerCommit float64 `json:"writes_per_commit,omitempty"`
	FirstError      string  `json:"first_error,omitempty"`
	LoadBefore      float64 `json:"loadavg_1m_before"`
	Note            string  `json:"note,omitempty"`
}

// Target is one performance target evaluated on this run's numbers.
type Target struct {
	Name     string  `json:"name"`
	Measured float64 `json:"measured"`
	Limit    float64 `json:"limit"`
	Unit     string  `json:"unit"`
	AtLeast  bool    `json:"at_least"` // measured >= limit, else measured <= limit
	Met      bool    `json:"met"`
	How      string  `json:"how"`
}

func (rep *Report) row(name string) *Row {
	for i := range rep.Rows {
		if rep.Rows[i].Scenario == name {
			return &rep.Rows[i]
		}
	}
	return nil
}

func (rep *Report) fact(name string) (float64, bool) {
	v, ok := rep.Facts[name]
	if !ok {
		return 0, false
	}
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// evaluate fills in the ratios and the targets.
func (rep *Report) evaluate() {
	base := rep.row(scBaseline)
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if r.Scenario != scCrypt && base != nil && base.RPS > 0 {
			r.Ratio = round(r.RPS/base.RPS, 3)
		}
	}
	add := func(name string, measured, limit float64, unit string, atLeast bool, how string) {
		met := measured <= limit
		if atLeast {
			met = measured >= limit
		}
		rep.Targets = append(rep.Targets, Target{Name: name, Measured: round(measured, 3), Limit: limit, Unit: unit, AtLeast: atLeast, Met: met, How: how})
	}
	ratio := func(a, b *Row) (float64, bool) {
		if a == nil || b == nil || b.RPS <= 0 {
			return 0, false
		}
		return a.RPS / b.RPS, true
	}
	create := rep.row(scCreate)
	if v, ok := ratio(create, base); ok {
		add("create ≥ 0.50 × baseline", v, 0.50, "×", true, "create req/s ÷ baseline req/s")
	}
	if r := rep.row(scCreateOpn); r != nil {
		add("create p99 ≤ 10 ms at half of peak", r.P99, 10, "ms", false, "p99 of create-open ("+r.Mode+")")
	}
	if v, ok := ratio(rep.row(scLogin), base); ok {
		add("login ≥ 0.40 × baseline", v, 0.40, "×", true, "login req/s ÷ baseline req/s")
	}
	if v, ok := ratio(rep.row(scBasic), create); ok {
		add("create-basic ≥ 0.50 × create", v, 0.50, "×", true, "create-basic req/s ÷ create req/s")
	}
	if v, ok := ratio(rep.row(scCheck), rep.row(scCrypt)); ok {
		add("check-password ≥ 0.85 × bare crypt", v, 0.85, "×", true, "check-password req/s ÷ crypt verifications/s")
	}
	if v, ok := ratio(rep.row(scBig), create); ok {
		add("create with 1M sessions within 20 % of empty", v, 0.80, "×", true, "create-1m req/s ÷ create req/s")
	}
	if v, ok := rep.fact("child_rss_peak_mib"); ok {
		add("RSS ≤ 256 MiB with 1M sessions", v, 256, "MiB", false, "peak resident memory (VmHWM) of a `uapid serve` process after a create load")
	} else if v, ok := rep.fact("rss_peak_mib"); ok {
		add("RSS ≤ 256 MiB with 1M sessions", v, 256, "MiB", false, "peak resident memory (VmHWM) of the bench process, server and load generator together")
	}
	if v, ok := rep.fact("child_startup_ms"); ok {
		add("start-up ≤ 1 s with 1M sessions", v/1000, 1, "s", false, "exec of `uapid serve` to its listening lines")
	} else if v, ok := rep.fact("startup_ms"); ok {
		add("start-up ≤ 1 s with 1M sessions", v/1000, 1, "s", false, "app.Open + listen in this process, as `uapid serve` does")
	}
	if v, ok := rep.fact("sweep_rows_per_s"); ok {
		add("sweep ≥ 20,000 rows/s at half of peak", v, 20000, "rows/s", true, "expired sessions removed per second while create-1m-open's load runs (sweep row)")
	}
	if sw, n := rep.row(scSweep), rep.row(scBigOpen); sw != nil && n != nil && n.P99 > 0 {
		add("p99 during the sweep ≤ 2 × normal", sw.P99/n.P99, 2, "×", false, "p99 of sweep ÷ p99 of create-1m-open (same rate)")
	}
}

func (rep *Report) print(w io.Writer) {
	fmt.Fprintf(w, "uapid bench: %s\n", rep.Command)
	fmt.Fprintf(w, "%s, GOMAXPROCS %d, %d CPUs, load %.2f at start, %d connections, %s per scenario after %s warm-up\n\n",
		rep.Started.Format(time.RFC3339), rep.GOMAXPROCS, rep.NumCPU, rep.LoadAvg, rep.Concurrency, rep.Duration, rep.Warmup)
	fmt.Fprintf(w, "%-16s %-13s %9s %10s %9s %9s %7s %10s %9s\n", "scenario", "mode", "requests", "req/s", "p50 ms", "p99 ms", "errors", "×baseline", "CPU µs/r")
	for _, r := range rep.Rows {
		ratio := "-"
		if r.Ratio > 0 {
			ratio = strconv.FormatFloat(r.Ratio, 'f', 3, 64)
		}
		mode := r.Mode
		if r.Scenario == scCrypt {
			mode = fmt.Sprintf("%d goroutines", r.Conns)
		}
		fmt.Fprintf(w, "%-16s %-13s %9d %10.1f %9.2f %9.2f %7d %10s %9.0f\n", r.Scenario, mode, r.Requests, r.RPS, r.P50, r.P99, r.Errors, ratio, r.CPUus)
	}
	if len(rep.Facts) > 0 {
		fmt.Fprintln(w)
		keys := make([]string, 0, len(rep.Facts))
		for k := range rep.Facts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%-28s %v\n", k, rep.Facts[k])
		}
	}
	if len(rep.Targets) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "%-46s %10s %8s  %s\n", "target", "measured", "limit", "")
		for _, t := range rep.Targets {
			verdict := "met"
			if !t.Met {
				verdict = "NOT MET"
			}
			op := "≤"
			if t.AtLeast {
				op = "≥"
			}
			fmt.Fprintf(w, "%-46s %10s %8s  %s\n", t.Name, strconv.FormatFloat(t.Measured, 'f', -1, 64)+" "+t.Unit,
				op+" "+strconv.FormatFloat(t.Limit, 'f', -1, 64), verdict)
		}
	}
}

func (rep *Report) writeJSON(path string) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func ms(d time.Duration) float64 { return round(float64(d.Microseconds())/1000, 2) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// loadAvg is the 1-minute load average (0 when unknown).
func loadAvg() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
