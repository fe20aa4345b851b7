package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uapid/uapid/internal/store/redisstore/redistest"
	"github.com/uapid/uapid/internal/store/sqlstore/pgtest"
)

// TestRunTiny runs every scenario, the large-store phase included, against
// a tiny fixture for a few hundred milliseconds each, and checks that
// nothing failed and that the numbers are sane.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a short load test")
	}
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	var out, log bytes.Buffer
	o := defaults()
	o.Duration, o.Warmup = 300*time.Millisecond, 100*time.Millisecond
	o.Concurrency = 4
	o.Accounts, o.Mailboxes = 5, 20
	o.Prefill, o.Sweep = 2000, 2000
	o.LoginPool = 3000
	o.Scenarios = append(append([]string{}, defaultScenarios...), scBig, scBigOpen, scSweep)
	o.JSON = jsonPath
	o.Out, o.Log = &out, &log
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	t.Logf("\n%s", out.String())

	want := []string{scBaseline, scCreate, scCreateOpn, scBasic, scCheck, scCrypt, scLogin, scMixed, scBig, scBigOpen, scSweep}
	if len(rep.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rep.Rows), len(want))
	}
	for i, r := range rep.Rows {
		if r.Scenario != want[i] {
			t.Errorf("row %d is %s, want %s", i, r.Scenario, want[i])
		}
		if r.Errors != 0 {
			t.Errorf("%s: %d errors (first: %s)", r.Scenario, r.Errors, r.FirstError)
		}
		if r.Requests <= 0 || r.RPS <= 0 {
			t.Errorf("%s: %d requests, %.1f req/s", r.Scenario, r.Requests, r.RPS)
		}
		if r.P50 <= 0 || r.P50 > r.P99 {
			t.Errorf("%s: p50 %.3f ms, p99 %.3f ms", r.Scenario, r.P50, r.P99)
		}
		if r.Scenario == scCreate && r.WritesPerCommit < 1 {
			t.Errorf("create: %v session writes per commit, want at least 1 (the store's counters)", r.WritesPerCommit)
		}
		if r.Scenario != scCrypt && r.Ratio <= 0 {
			t.Errorf("%s: ratio to baseline %v", r.Scenario, r.Ratio)
		}
	}
	for _, f := range []string{"startup_ms", "rss_peak_mib", "sweep_s", "create_answer_bytes"} {
		if v, ok := rep.fact(f); !ok || v <= 0 {
			t.Errorf("fact %s = %v", f, rep.Facts[f])
		}
	}
	if rep.Facts["sweep_complete"] != true {
		t.Errorf("sweep did not complete: %v of the expired sessions left", rep.Facts["sweep_expired_left"])
	}
	if v, _ := rep.fact("sweep_removed_total"); v < 2000 {
		t.Errorf("sweep removed %v sessions, want at least the 2000 inserted expired ones", v)
	}
	if len(rep.Targets) != 10 {
		t.Errorf("%d targets evaluated, want 10", len(rep.Targets))
	}

	// The printed table and the JSON carry the same rows.
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Rows) != len(rep.Rows) || back.Rows[1].Requests != rep.Rows[1].Requests {
		t.Errorf("JSON rows differ from the report")
	}
	for _, r := range rep.Rows {
		if !strings.Contains(out.String(), r.Scenario+" ") {
			t.Errorf("table lacks %s", r.Scenario)
		}
	}
}

// TestTargetMode drives a running server through --target-… flags (here
// one this test starts in-process) with the create scenario only.
func TestTargetMode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a short load test")
	}
	c, err := newCast(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fx := filepath.Join(dir, "fx.yaml")
	if err := c.writeFixture(fx); err != nil {
		t.Fatal(err)
	}
	u, err := startUapid(context.Background(), dir, fx, &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer u.stop()
	var out bytes.Buffer
	o := defaults()
	// A window long enough that a request completes in it even on a
	// machine busy with other tests (a login that takes longer than the
	// whole window is not counted).
	o.Duration, o.Warmup, o.Concurrency = time.Second, 50*time.Millisecond, 2
	o.Scenarios = []string{scCreate, scLogin, scMixed}
	o.TargetCPanel, o.TargetWebmail = u.cpanel, u.webmail
	o.Token = c.accounts[0].user + ":" + c.accounts[0].token
	o.TargetMailboxes = []string{c.mailboxes[0].login + "@" + c.mailboxes[0].domain}
	o.LoginPool = 3000 // more than the warm-up uses up, also on a fast machine
	o.Out = &out
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Rows {
		if r.Errors != 0 || r.Requests == 0 {
			t.Errorf("%s: %d requests, %d errors (%s)", r.Scenario, r.Requests, r.Errors, r.FirstError)
		}
	}
	if rep.row(scBaseline) == nil || rep.row(scLogin) == nil {
		t.Errorf("rows: %+v", rep.Rows)
	}
}

func TestMainFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if err := Main([]string{"--scenarios", "nope", "--accounts", "1", "--mailboxes", "1"}, &out, &errb); err == nil ||
		!strings.Contains(err.Error(), "unknown scenario") {
		t.Fatalf("unknown scenario: %v", err)
	}
	if err := Main([]string{"--scenarios", "sweep"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "--prefill") {
		t.Fatalf("sweep without --prefill: %v", err)
	}
	if err := Main([]string{"extra"}, &out, &errb); err == nil {
		t.Fatal("positional argument accepted")
	}
}

// TestRunSharedStores runs create and login on PostgreSQL with sessions in
// Redis, as `--store postgres://… --session-store redis://…` does, and
// checks that the run leaves neither its schema nor its keys behind.
func TestRunSharedStores(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a short load test")
	}
	dsn := pgtest.NewDatabase(t) // skips, or fails in CI, without PostgreSQL
	redistest.Client(t)          // the same for Redis
	var out, log bytes.Buffer
	o := defaults()
	o.Duration, o.Warmup = 300*time.Millisecond, 50*time.Millisecond
	o.Concurrency = 2
	o.Accounts, o.Mailboxes = 2, 4
	o.LoginPool = 2000
	o.Scenarios = []string{scCreate, scLogin}
	o.Store, o.SessionStore = dsn, redistest.URL()
	o.Out, o.Log = &out, &log
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	for _, r := range rep.Rows {
		if r.Errors != 0 || r.Requests == 0 {
			t.Errorf("%s: %d requests, %d errors (%s)", r.Scenario, r.Requests, r.Errors, r.FirstError)
		}
	}
	if rep.Facts["store"] != "postgres+redis" {
		t.Errorf("store = %v", rep.Facts["store"])
	}
	var schema string
	for _, l := range strings.Split(log.String(), "\n") {
		if _, s, ok := strings.Cut(l, "store: PostgreSQL, schema "); ok {
			schema = s
		}
	}
	if schema == "" {
		t.Fatalf("no schema in the log:\n%s", log.String())
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, schema).Scan(&n); err != nil || n != 0 {
		t.Errorf("schema %s left behind (%d, %v)", schema, n, err)
	}
	if keys, err := redistest.Client(t).Keys(t.Context(), schema+":*").Result(); err != nil || len(keys) != 0 {
		t.Errorf("%d Redis keys left under %s: (%v)", len(keys), schema, err)
	}
}
