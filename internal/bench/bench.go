// Package bench is `uapid bench`, uapid's load tool. It starts uapid in
// this process on a fresh data directory with a generated fixture (or
// targets a running server), drives each scenario with C concurrent
// keep-alive HTTPS connections for a fixed time after a warm-up, and
// measures, in the same run, the ceilings the results are compared with: a
// bare net/http TLS server with the same certificate answering a fixed body
// of the size of a create answer, and the bare crypt(3) verification of
// the fixture's $6$ hashes. It prints one table (and writes it as JSON with
// --json) together with the performance targets of BENCHMARKS.md, each
// evaluated on the numbers of this run.
package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uapid/uapid/internal/passwd"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/tlsutil"
)

// Scenario names, in the order they run.
const (
	scBaseline  = "baseline"
	scCreate    = "create"
	scCreateOpn = "create-open"
	scBasic     = "create-basic"
	scCheck     = "check-password"
	scCrypt     = "crypt"
	scLogin     = "login"
	scMixed     = "mixed"
	scBig       = "create-1m"
	scBigOpen   = "create-1m-open"
	scSweep     = "sweep"
)

var defaultScenarios = []string{scBaseline, scCreate, scCreateOpn, scBasic, scCheck, scCrypt, scLogin, scMixed}

// Options configure a run. The zero value is not useful; see defaults.
type Options struct {
	Duration, Warmup time.Duration
	Concurrency      int
	// Scenarios to run (nil: the defaults; the baseline always runs when
	// an HTTP scenario does, since every ratio needs it).
	Scenarios []string
	// Accounts and Mailboxes size the generated fixture.
	Accounts, Mailboxes int
	// Rate is the open-loop rate of create-open, create-1m-open and sweep:
	// "N" requests/s, or "Fx" (e.g. "0.5x") for that fraction of the
	// closed-loop throughput measured in this run on the same store
	// (create's for create-open, create-1m's for the other two).
	Rate string
	// Prefill > 0 adds the large-store phase: that many live sessions are
	// bulk-inserted and the server restarted on them (start-up time,
	// create-1m, create-1m-open), then Sweep expired sessions are inserted
	// and swept while the sweep scenario runs.
	Prefill, Sweep int
	// SweepMax bounds the sweep scenario.
	SweepMax time.Duration
	// LoginPool is how many sessions the login scenario may consume (0:
	// sized from the baseline's throughput).
	LoginPool int
	// DataDir is the in-process server's data directory ("": a temporary
	// one, removed at the end unless Keep).
	DataDir string
	Keep    bool
	// Store (postgres://…) and SessionStore (redis://…) make the
	// in-process server use shared stores instead of the embedded SQLite
	// one: the run works in a PostgreSQL schema and under a Redis key
	// prefix of its own, removed at the end. The large-store phase needs
	// the SQLite store.
	Store, SessionStore string

	// A running server instead of an in-process one.
	TargetCPanel, TargetWebmail string
	Token                       string // "user:TOKEN" of an account
	TargetMailboxes             []string
	AccountPassword, BoxPass    string
	CAFile                      string

	// WaitQuiet > 0 makes the run first wait (at most that long) until the
	// machine's 1-minute load average is below QuietLoad.
	WaitQuiet time.Duration
	QuietLoad float64

	JSON    string
	Command string    // recorded in the report
	Out     io.Writer // the table
	Log     io.Writer // progress
}

func defaults() Options {
	return Options{
		Duration: 10 * time.Second, Warmup: 2 * time.Second, Concurrency: 32,
		Accounts: 1000, Mailboxes: 10000, Rate: "0.5x", SweepMax: 5 * time.Minute,
	}
}

// Main runs `uapid bench` with args.
func Main(args []string, stdout, stderr io.Writer) error {
	o := defaults()
	fs := flag.NewFlagSet("uapid bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.Duration, "duration", o.Duration, "measured time per scenario")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "warm-up before each measurement (not counted)")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "concurrent keep-alive HTTPS connections")
	scen := fs.String("scenarios", strings.Join(defaultScenarios, ","), "comma-separated scenarios: "+strings.Join(append(slices.Clone(defaultScenarios), scBig, scBigOpen, scSweep), ", ")+" (the 1m ones and sweep need --prefill)")
	fs.IntVar(&o.Accounts, "accounts", o.Accounts, "accounts in the generated fixture")
	fs.IntVar(&o.Mailboxes, "mailboxes", o.Mailboxes, "mailboxes in the generated fixture")
	fs.StringVar(&o.Rate, "rate", o.Rate, "open-loop rate of create-open, create-1m-open and sweep: N req/s, or Fx of the measured closed-loop throughput on the same store")
	fs.IntVar(&o.Prefill, "prefill", 0, "bulk-insert this many live sessions and measure start-up, create-1m, create-1m-open, RSS and sweep on that store (adds those scenarios to the default list)")
	fs.IntVar(&o.Sweep, "sweep", -1, "expired sessions to insert and sweep during the sweep scenario (default: --prefill)")
	fs.DurationVar(&o.SweepMax, "sweep-max", o.SweepMax, "longest the sweep scenario may run")
	fs.IntVar(&o.LoginPool, "login-pool", 0, "sessions pre-created for the login scenario (0: enough for three times create's measured rate)")
	fs.StringVar(&o.DataDir, "data", "", "data directory of the in-process server (default: a temporary one)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary data directory")
	fs.StringVar(&o.Store, "store", "", "measure on PostgreSQL: a postgres:// URL of a database (the run makes and drops a schema of its own)")
	fs.StringVar(&o.SessionStore, "session-store", "", "measure with sessions in Redis: a redis:// URL (the run uses and deletes a key prefix of its own)")
	fs.StringVar(&o.TargetCPanel, "target-cpanel", "", "host:port of a running server's cPanel TLS listener (instead of an in-process one)")
	fs.StringVar(&o.TargetWebmail, "target-webmail", "", "host:port of the running server's Webmail TLS listener")
	fs.StringVar(&o.Token, "token", "", "USER:TOKEN of an account on the running server")
	mb := fs.String("mailbox", "", "comma-separated mailboxes (login@domain) the --token account owns, on the running server")
	fs.StringVar(&o.AccountPassword, "password", "", "the account's password on the running server (create-basic)")
	fs.StringVar(&o.BoxPass, "mailbox-password", "", "the mailboxes' password on the running server (check-password)")
	fs.StringVar(&o.CAFile, "ca", "", "PEM certificate to trust for the running server (default: do not verify)")
	fs.DurationVar(&o.WaitQuiet, "wait-quiet", 0, "first wait up to this long for the 1-minute load average to drop below --quiet-load")
	fs.Float64Var(&o.QuietLoad, "quiet-load", 1.0, "load average that counts as quiet for --wait-quiet")
	fs.StringVar(&o.JSON, "json", "", "also write the results as JSON to this file")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (server and load generator) to this file")
	tracefile := fs.String("trace", "", "write an execution trace of the whole run to this file (go tool trace)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: uapid bench [options]\n\noptions:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench takes no arguments (got %q)", fs.Arg(0))
	}
	o.Scenarios = splitList(*scen)
	scenSet := false
	fs.Visit(func(f *flag.Flag) { scenSet = scenSet || f.Name == "scenarios" })
	if !scenSet && o.Prefill > 0 {
		o.Scenarios = append(o.Scenarios, scBig, scBigOpen, scSweep)
	}
	o.TargetMailboxes = splitList(*mb)
	if o.Sweep < 0 {
		o.Sweep = o.Prefill
	}
	o.Command = "uapid bench " + strings.Join(args, " ")
	o.Out, o.Log = stdout, stderr
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *tracefile != "" {
		f, err := os.Create(*tracefile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
		defer trace.Stop()
	}
	_, err := Run(ctx, o)
	return err
}

// waitQuiet waits up to max for the 1-minute load average to fall below
// limit (other work on the machine skews every number) and reports whether
// it did.
func waitQuiet(ctx context.Context, max time.Duration, limit float64, logf func(string, ...any)) bool {
	if max <= 0 {
		return loadAvg() < limit
	}
	deadline := time.Now().Add(max)
	for {
		la := loadAvg()
		if la < limit {
			logf("load %.2f: quiet", la)
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			logf("load %.2f: still busy after waiting %v; measuring anyway", la, max)
			return false
		}
		logf("load %.2f: waiting for it to drop below %.2f", la, limit)
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// runner holds the state of one run.
type runner struct {
	o      Options
	rep    *Report
	cast   *cast
	t      *target
	u      *uapidServer // nil when targeting a running server
	dir    string
	stores *benchStores // shared stores of the in-process server (nil: SQLite)
	logw   io.Writer
	logf   func(format string, a ...any)
	body   int     // size of a create answer
	create float64 // create's closed-loop req/s
	rate   float64 // the open-loop rate
}

// Run runs the scenarios of o and returns the report (also printed to
// o.Out and written to o.JSON).
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if len(o.Scenarios) == 0 {
		o.Scenarios = defaultScenarios
	}
	known := append(slices.Clone(defaultScenarios), scBig, scBigOpen, scSweep)
	for _, s := range o.Scenarios {
		if !slices.Contains(known, s) {
			return nil, fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(known, ", "))
		}
	}
	if o.Concurrency < 1 || o.Duration <= 0 || o.Warmup < 0 {
		return nil, fmt.Errorf("--concurrency must be at least 1 and --duration positive")
	}
	remote := o.TargetCPanel != "" || o.TargetWebmail != ""
	if remote && o.Prefill > 0 {
		return nil, fmt.Errorf("--prefill needs the in-process server (not --target-…)")
	}
	if remote && (o.Store != "" || o.SessionStore != "") {
		return nil, fmt.Errorf("--store and --session-store are for the in-process server (not --target-…)")
	}
	if o.Prefill > 0 && (o.Store != "" || o.SessionStore != "") {
		return nil, fmt.Errorf("--prefill measures the embedded SQLite store (not with --store or --session-store)")
	}
	if !remote && o.Prefill == 0 {
		for _, s := range []string{scBig, scBigOpen, scSweep} {
			if slices.Contains(o.Scenarios, s) {
				return nil, fmt.Errorf("scenario %s needs --prefill", s)
			}
		}
	}
	r := &runner{o: o, logf: func(format string, a ...any) {
		fmt.Fprintf(o.Log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
	}}
	quiet := waitQuiet(ctx, o.WaitQuiet, o.QuietLoad, r.logf)
	r.rep = &Report{
		Command: o.Command, Started: time.Now().UTC(), GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		LoadAvg: loadAvg(), Concurrency: o.Concurrency, Duration: o.Duration.String(), Warmup: o.Warmup.String(),
		Facts: map[string]any{},
	}
	if o.WaitQuiet > 0 {
		r.rep.Facts["machine_quiet_at_start"] = quiet
	}
	if r.rep.Command == "" {
		r.rep.Command = "(in-process Run)"
	}
	defer r.cleanup()
	var err error
	if remote {
		err = r.setupRemote()
	} else {
		err = r.setupLocal(ctx)
	}
	if err == nil {
		err = r.run(ctx)
	}
	if err != nil {
		return r.rep, err
	}
	r.rep.evaluate()
	r.rep.print(o.Out)
	if o.JSON != "" {
		if err := r.rep.writeJSON(o.JSON); err != nil {
			return r.rep, err
		}
	}
	return r.rep, nil
}

func (r *runner) has(s string) bool { return slices.Contains(r.o.Scenarios, s) }

func (r *runner) cleanup() {
	if r.u != nil {
		if err := r.u.stop(); err != nil {
			r.logf("stopping uapid: %v", err)
		}
		r.u = nil
	}
	if r.stores != nil {
		r.stores.close()
	}
	if c, ok := r.logw.(io.Closer); ok {
		c.Close()
	}
	if r.dir != "" && r.o.DataDir == "" && !r.o.Keep {
		os.RemoveAll(r.dir)
	}
}

// setupLocal generates the fixture and starts uapid in this process.
func (r *runner) setupLocal(ctx context.Context) error {
	dir := r.o.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "uapid-bench-*")
		if err != nil {
			return err
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	r.dir = dir
	r.logf("data directory %s", dir)
	t0 := time.Now()
	c, err := newCast(r.o.Accounts, r.o.Mailboxes)
	if err != nil {
		return err
	}
	r.cast = c
	fx := filepath.Join(dir, "bench-fixture.yaml")
	if err := c.writeFixture(fx); err != nil {
		return err
	}
	r.logf("fixture: %d accounts, %d mailboxes, %d distinct $6$ hashes in %v", len(c.accounts), len(c.mailboxes), len(c.hashes), time.Since(t0).Round(time.Millisecond))
	lf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	r.logw = lf
	t0 = time.Now()
	bs, err := prepareStores(ctx, r.o, r.logf)
	if err != nil {
		return err
	}
	r.stores = bs
	r.rep.Facts["store"] = storeName(r.o)
	u, err := startUapid(ctx, dir, fx, lf, bs)
	if err != nil {
		return err
	}
	r.u = u
	r.rep.Facts["fixture_load_s"] = round(time.Since(t0).Seconds(), 2)
	r.logf("uapid started with the fixture in %v", time.Since(t0).Round(time.Millisecond))
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(filepath.Join(dir, tlsutil.CertFile))
	if err != nil {
		return err
	}
	pool.AppendCertsFromPEM(pem)
	r.t = &target{cpanel: u.cpanel, webmail: u.webmail, boxes: newTargetBoxes(c),
		tls: &tls.Config{RootCAs: pool, ServerName: "localhost"}}
	return nil
}

// setupRemote targets a running server.
func (r *runner) setupRemote() error {
	o := r.o
	if o.TargetCPanel == "" || o.Token == "" || len(o.TargetMailboxes) == 0 {
		return fmt.Errorf("a running server needs --target-cpanel, --token USER:TOKEN and --mailbox (and --target-webmail for login and mixed)")
	}
	user, tok, ok := strings.Cut(o.Token, ":")
	if !ok || user == "" || tok == "" {
		return fmt.Errorf("--token must be USER:TOKEN")
	}
	tc := &tls.Config{InsecureSkipVerify: true} // a benchmark client; --ca to verify
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--ca %s: no certificate", o.CAFile)
		}
		tc = &tls.Config{RootCAs: pool}
	}
	c := &cast{passwords: []string{o.AccountPassword, o.BoxPass}}
	c.accounts = []benchAccount{{user: user, token: tok, pw: 0}}
	for _, m := range o.TargetMailboxes {
		login, domain, ok := strings.Cut(m, "@")
		if !ok {
			return fmt.Errorf("--mailbox %q: want login@domain", m)
		}
		c.mailboxes = append(c.mailboxes, benchMailbox{login: login, domain: domain, pw: 1})
	}
	needs := map[string]bool{scBasic: o.AccountPassword == "", scCheck: o.BoxPass == "",
		scLogin: o.TargetWebmail == "", scMixed: o.TargetWebmail == ""}
	var keep []string
	for _, s := range o.Scenarios {
		if needs[s] {
			r.logf("skipping %s: its credentials or --target-webmail were not given", s)
			continue
		}
		keep = append(keep, s)
	}
	r.o.Scenarios = keep
	r.cast = c
	r.t = &target{cpanel: o.TargetCPanel, webmail: o.TargetWebmail, tls: tc, boxes: newTargetBoxes(c)}
	return nil
}

func (r *runner) spec(newOp func(w int) (op, error)) runSpec {
	return runSpec{workers: r.o.Concurrency, warmup: r.o.Warmup, duration: r.o.Duration, newOp: newOp}
}

// measure runs one scenario and adds its row.
func (r *runner) measure(ctx context.Context, name string, spec runSpec, note string) (*result, error) {
	la := loadAvg()
	mode := "closed"
	if spec.rate > 0 {
		mode = fmt.Sprintf("open@%.0f/s", spec.rate)
	}
	r.logf("%s: %s, %d connections, load %.2f", name, mode, spec.workers, la)
	commits0, writes0 := r.writeStats()
	res, err := drive(ctx, spec)
	commits1, writes1 := r.writeStats()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	row := Row{
		Scenario: name, Mode: mode, Conns: spec.workers, Requests: res.requests, Seconds: round(res.elapsed.Seconds(), 2),
		RPS: round(res.rps(), 1), P50: ms(res.quantile(0.50)), P99: ms(res.quantile(0.99)), Errors: res.errors,
		FirstError: res.firstErr, LoadBefore: la, Note: note,
	}
	if res.requests > 0 {
		row.CPUus = round(float64(res.cpu.Microseconds())/float64(res.requests), 1)
	}
	if commits1 > commits0 {
		row.WritesPerCommit = round(float64(writes1-writes0)/float64(commits1-commits0), 1)
	}
	if res.exhausted {
		row.Note = strings.TrimSpace(row.Note + " (session pool used up: the window ends there)")
	}
	r.rep.Rows = append(r.rep.Rows, row)
	r.logf("%s: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %d errors, %.0f µs CPU per request, %.1f session writes per commit", name, row.RPS, row.P50, row.P99, row.Errors, row.CPUus, row.WritesPerCommit)
	if res.errors > 0 {
		r.logf("%s: first error: %s", name, res.firstErr)
	}
	return res, nil
}

// writeStats reads the group-commit counters of the in-process server's
// SQLite session store (zeros for another store or a running server).
func (r *runner) writeStats() (commits, writes int64) {
	if r.u == nil || r.u.app == nil {
		return 0, 0
	}
	s := r.u.app.Store
	for {
		switch t := s.(type) {
		case interface{ WriteStats() (int64, int64) }:
			return t.WriteStats()
		case interface{ Unwrap() store.Sessions }:
			s = t.Unwrap()
		default:
			return 0, 0
		}
	}
}

func (r *runner) run(ctx context.Context) error {
	// One create first: it checks the set-up and gives the answer's size.
	probe, err := r.t.createOp(0, false, false, nil)
	if err != nil {
		return err
	}
	if err := probe(ctx); err != nil {
		return fmt.Errorf("a first create_webmail_session_for_mail_user failed: %w", err)
	}
	r.body = r.probeSize(ctx)
	r.rep.Facts["create_answer_bytes"] = r.body

	httpScen := false
	for _, s := range r.o.Scenarios {
		if s != scCrypt {
			httpScen = true
		}
	}
	if httpScen {
		if err := r.runBaseline(ctx); err != nil {
			return err
		}
	}
	if r.has(scCreate) || r.has(scCreateOpn) || r.has(scBigOpen) || r.has(scSweep) {
		res, err := r.measure(ctx, scCreate, r.spec(func(w int) (op, error) { return r.t.createOp(w, false, false, nil) }), "token auth")
		if err != nil {
			return err
		}
		r.create = res.rps()
	}
	if err := r.setRate(); err != nil {
		return err
	}
	if r.has(scCreateOpn) {
		s := r.spec(func(w int) (op, error) { return r.t.createOp(w, false, false, nil) })
		s.rate = r.rate
		if _, err := r.measure(ctx, scCreateOpn, s, "token auth, open loop"); err != nil {
			return err
		}
	}
	if r.has(scBasic) {
		if _, err := r.measure(ctx, scBasic, r.spec(func(w int) (op, error) { return r.t.createOp(w, true, false, nil) }), "Basic auth"); err != nil {
			return err
		}
	}
	if r.has(scCheck) {
		if _, err := r.measure(ctx, scCheck, r.spec(func(w int) (op, error) { return r.t.createOp(w, false, true, nil) }), "token auth + $6$ check"); err != nil {
			return err
		}
	}
	if r.has(scCrypt) {
		if err := r.runCrypt(ctx); err != nil {
			return err
		}
	}
	if r.has(scLogin) {
		if err := r.runLogin(ctx); err != nil {
			return err
		}
	}
	if r.has(scMixed) {
		if _, err := r.measure(ctx, scMixed, r.spec(func(w int) (op, error) { return r.t.mixedOp(w) }), "create, then its login (2 requests)"); err != nil {
			return err
		}
	}
	if r.o.Prefill > 0 {
		if err := r.runBig(ctx); err != nil {
			return err
		}
	}
	return nil
}

// probeSize returns the size of one create answer.
func (r *runner) probeSize(ctx context.Context) int {
	c := newClient(r.t.tls)
	defer c.close()
	b := r.t.boxes[0]
	req, err := r.t.createRequest(ctx, b, false, false)
	if err == nil {
		if _, body, err := c.do(req); err == nil && len(body) > 0 {
			return len(body)
		}
	}
	return 200
}

func (r *runner) setRate() error {
	if f, ok := rateFraction(r.o.Rate); ok {
		r.rate = f * r.create
		return nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(r.o.Rate), 64)
	if err != nil || v <= 0 {
		return fmt.Errorf("--rate %q: want N or Fx", r.o.Rate)
	}
	r.rate = v
	return nil
}

// rateFraction parses an "Fx" rate (a fraction of a measured peak).
func rateFraction(rate string) (float64, bool) {
	f, ok := strings.CutSuffix(strings.TrimSpace(rate), "x")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(f, 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	return v, true
}

func (r *runner) runBaseline(ctx context.Context) error {
	var tc *tls.Config
	var err error
	if r.dir != "" {
		tc, err = tlsutil.Load("", "", r.dir, "localhost") // the same certificate as uapid's
	} else {
		d, derr := os.MkdirTemp("", "uapid-bench-tls-*")
		if derr != nil {
			return derr
		}
		defer os.RemoveAll(d)
		tc, err = tlsutil.Load("", "", d, "localhost")
	}
	if err != nil {
		return err
	}
	b, err := startBaseline(tc, fixedBody(r.body))
	if err != nil {
		return err
	}
	defer b.stop()
	bt := *r.t
	if r.dir == "" {
		bt.tls = &tls.Config{InsecureSkipVerify: true}
	}
	_, err = r.measure(ctx, scBaseline, r.spec(func(w int) (op, error) { return bt.baselineOp(b.addr, w) }),
		fmt.Sprintf("bare net/http TLS, fixed %d-byte body", r.body))
	return err
}

// runCrypt measures the bare verification of a $6$ hash by GOMAXPROCS
// goroutines: the ceiling of check-password.
func (r *runner) runCrypt(ctx context.Context) error {
	pw, hash := "", ""
	if len(r.cast.hashes) > 0 {
		pw, hash = r.cast.passwords[0], r.cast.hashes[0]
	} else {
		pw = "Bench-crypt-1"
		h, err := passwd.Hash(pw)
		if err != nil {
			return err
		}
		hash = h
	}
	if !passwd.Verify(hash, pw) {
		return fmt.Errorf("crypt: the hash does not verify")
	}
	n := runtime.GOMAXPROCS(0)
	s := runSpec{workers: n, warmup: r.o.Warmup, duration: r.o.Duration, newOp: func(int) (op, error) {
		return func(context.Context) error {
			if !passwd.Verify(hash, pw) {
				return errors.New("verify failed")
			}
			return nil
		}, nil
	}}
	_, err := r.measure(ctx, scCrypt, s, fmt.Sprintf("passwd.Verify of one $6$ (5000 rounds) hash, %d goroutines, no HTTP", n))
	return err
}

func (r *runner) runLogin(ctx context.Context) error {
	n := r.o.LoginPool
	if n <= 0 {
		// Logins cost about what creations do: three times create's rate
		// leaves room; a pool used up ends the window early (noted).
		rate := 3 * max(r.create, 500)
		n = int(rate*(r.o.Warmup+r.o.Duration).Seconds()) + 4*r.o.Concurrency
	}
	t0 := time.Now()
	var p *pool
	var err error
	if r.u != nil {
		p, err = fillPoolDirect(ctx, r.u.app.Sessions, r.cast, n)
	} else {
		p, err = fillPoolHTTP(ctx, r.t, n, r.o.Concurrency)
	}
	if err != nil {
		return err
	}
	r.logf("login: %d sessions pre-created in %v", len(p.items), time.Since(t0).Round(time.Millisecond))
	r.rep.Facts["login_pool_sessions"] = len(p.items)
	_, err = r.measure(ctx, scLogin, r.spec(func(int) (op, error) { return r.t.poolLoginOp(p) }),
		"POST /cpsess…/login/ on Webmail, 302 + cookie")
	return err
}
