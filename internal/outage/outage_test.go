package outage

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/redisstore"
	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/testserver"
)

// Bounds of the scenario.
const (
	// maxAnswer is the longest any request may take, in an outage too
	// (the request timeout is 15s: a store that is down must fail fast,
	// not run into it).
	maxAnswer = 6 * time.Second
	// maxRecovery is how long after the store is back requests may still
	// fail.
	maxRecovery = 30 * time.Second
	// outageFor is how long each store stays down.
	outageFor = 2 * time.Second
)

// unavailableText is the error of a request whose store cannot be reached
// (internal/server).
const unavailableText = "The service is temporarily unavailable: its data store cannot be reached. Try again shortly."

var aliceToken = testserver.CPanelToken("alice", testserver.AliceToken)

// TestPostgresOutage: one node with everything in PostgreSQL; PostgreSQL
// stops and starts again under load.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	pg := startPostgres(t)
	sc := newScenario(t, pg.DSN(), "")
	sc.outage("PostgreSQL", pg.stop, pg.start)
	sc.finish()
}

// TestPostgresAndRedisOutage: one node with the directory in PostgreSQL
// and the sessions in Redis; first PostgreSQL, then Redis stops and starts
// again under load.
func TestPostgresAndRedisOutage(t *testing.T) {
	t.Parallel()
	pg := startPostgres(t)
	rd := startRedis(t)
	sc := newScenario(t, pg.DSN(), rd.URL())
	sc.outage("PostgreSQL", pg.stop, pg.start)
	sc.outage("Redis", rd.stop, rd.start)
	sc.finish()
}

// ---- the scenario ----

// webmailSession is a Webmail login the node acknowledged.
type webmailSession struct {
	token, secret string
	used          bool   // a login with it succeeded
	failed        []*rec // its logins that failed, in order
}

// rec is one request of the load or of a probe.
type rec struct {
	op         string // "create", "login", or a probe's name
	start, end time.Time
	code       int
	ctype      string
	body       []byte
	err        error
}

func (r *rec) String() string {
	return fmt.Sprintf("%s at %s (%v): HTTP %d %s %v: %.300s", r.op, r.start.Format("15:04:05.000"),
		r.end.Sub(r.start).Round(time.Millisecond), r.code, r.ctype, r.err, r.body)
}

// window is one outage: the store was stopping in [stopping, down), down
// in [down, up), and requests succeed again from recovered on.
type window struct {
	store                         string
	stopping, down, up, recovered time.Time
}

type scenario struct {
	t        *testing.T
	srv      *testserver.Server
	key      []byte
	dsn, rdb string
	cl       *http.Client
	browser  *http.Client // holds a logged-in Webmail cookie
	landing  string       // its landing page URL
	// allow is a second node on the same stores that exempts loopback
	// from brute-force protection; acl is its client.
	allow *testserver.Server
	acl   *http.Client

	mu      sync.Mutex
	recs    []*rec
	acked   []*webmailSession
	unused  []*webmailSession // acknowledged, not used, available for a login
	windows []window

	stop chan struct{}
	wg   sync.WaitGroup
}

func newClient(srv *testserver.Server) *http.Client {
	cl := srv.Client()
	cl.Timeout = 20 * time.Second // longer than maxAnswer: a slow answer is measured, not cut
	cl.Transport.(*http.Transport).MaxIdleConnsPerHost = 16
	return cl
}

// newScenario starts two uapid nodes on the stores (the node under load,
// with --metrics-addr, and one that exempts loopback from brute-force
// protection, for probes) and a steady load of session creations and
// logins from a few goroutines on the first.
func newScenario(t *testing.T, dsn, redisURL string) *scenario {
	key := secretbox.NewKey()
	stores := []string{"--store", dsn}
	if redisURL != "" {
		stores = append(stores, "--session-store", redisURL)
	}
	env := map[string]string{"UAPID_SECRET_KEY": base64.StdEncoding.EncodeToString(key)}
	srv := testserver.Start(t, testserver.Options{Args: append(slices.Clone(stores), "--metrics-addr", "127.0.0.1:0"), Env: env})
	allow := testserver.Start(t, testserver.Options{Args: append(slices.Clone(stores), "--bruteforce-allow", "127.0.0.0/8"), Env: env})
	sc := &scenario{t: t, srv: srv, key: key, dsn: dsn, rdb: redisURL, cl: newClient(srv), stop: make(chan struct{}),
		allow: allow, acl: newClient(allow)}
	t.Cleanup(sc.stopLoad)

	// A logged-in Webmail session, used during and after the outages.
	s, err := sc.create()
	if err != nil {
		t.Fatal(err)
	}
	sc.browser = srv.Client()
	r := sc.request(sc.browser, "browser login", "POST", srv.URL("webmaild", s.token+"/login/"), "", url.Values{"session": {s.secret}})
	if r.code != http.StatusFound {
		t.Fatalf("login: %s", r)
	}
	s.used, sc.unused = true, nil
	sc.landing = srv.URL("webmaild", s.token+"/")
	if r := sc.request(sc.browser, "landing", "GET", sc.landing, "", nil); r.code != 200 {
		t.Fatalf("landing page: %s", r)
	}

	for w := range 3 {
		sc.wg.Go(func() { sc.worker(w) })
	}
	sc.waitAcked(20)
	return sc
}

func (sc *scenario) stopLoad() {
	select {
	case <-sc.stop:
	default:
		close(sc.stop)
	}
	sc.wg.Wait()
}

// request sends one request and records it.
func (sc *scenario) request(cl *http.Client, op, method, u, authz string, form url.Values) *rec {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := &rec{op: op, start: time.Now()}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		sc.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := cl.Do(req)
	if err == nil {
		r.code, r.ctype = resp.StatusCode, resp.Header.Get("Content-Type")
		r.body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	r.err, r.end = err, time.Now()
	sc.mu.Lock()
	sc.recs = append(sc.recs, r)
	sc.mu.Unlock()
	return r
}

// create asks for a Webmail session for info@alice.test with alice's
// token and records it when acknowledged (200 with status 1).
func (sc *scenario) create() (*webmailSession, error) {
	r := sc.request(sc.cl, "create", "GET", sc.srv.URL("cpaneld", createPath), aliceToken, nil)
	var v struct {
		Status int
		Data   struct{ Token, Session string }
	}
	if r.err != nil || r.code != 200 || json.Unmarshal(r.body, &v) != nil || v.Status != 1 || v.Data.Session == "" {
		return nil, fmt.Errorf("create: %s", r)
	}
	s := &webmailSession{token: v.Data.Token, secret: v.Data.Session}
	sc.mu.Lock()
	sc.acked = append(sc.acked, s)
	sc.unused = append(sc.unused, s)
	sc.mu.Unlock()
	return s, nil
}

// login redeems s on the Webmail port (login_only=1).
func (sc *scenario) login(s *webmailSession) *rec {
	return sc.request(sc.cl, "login", "POST", sc.srv.URL("webmaild", s.token+"/login/?login_only=1"), "",
		url.Values{"session": {s.secret}})
}

// keepUnused is how many acknowledged sessions the load leaves unused
// (for the check at the end).
const keepUnused = 5

// worker creates sessions and logs in with sessions created before
// (oldest first; one request in three), with a short pause, until the
// load stops.
func (sc *scenario) worker(w int) {
	for i := 0; ; i++ {
		select {
		case <-sc.stop:
			return
		case <-time.After(time.Duration(5+w*3) * time.Millisecond):
		}
		var s *webmailSession
		if i%3 == 2 {
			sc.mu.Lock()
			if len(sc.unused) > keepUnused {
				s, sc.unused = sc.unused[0], sc.unused[1:]
			}
			sc.mu.Unlock()
		}
		if s == nil {
			sc.create()
			continue
		}
		r := sc.login(s)
		sc.mu.Lock()
		switch {
		case r.err == nil && r.code == 200 && bytes.Contains(r.body, []byte(`"status":1`)):
			s.used = true
		case r.err == nil && r.code == http.StatusServiceUnavailable:
			s.failed = append(s.failed, r)
			sc.unused = append(sc.unused, s) // try again later
		default:
			s.failed = append(s.failed, r) // judged in finish
		}
		sc.mu.Unlock()
	}
}

// waitAcked waits until n more sessions were acknowledged.
func (sc *scenario) waitAcked(n int) {
	sc.t.Helper()
	sc.mu.Lock()
	want := len(sc.acked) + n
	sc.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sc.mu.Lock()
		got := len(sc.acked)
		sc.mu.Unlock()
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			sc.t.Fatalf("only %d of %d sessions acknowledged in 30s:\n%s", got, want, sc.srv.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// probe is a request with the answer it must give while a store is
// down: 503 in the envelope of its path.
type probe struct {
	name   string
	cl     *http.Client
	method string
	url    string
	authz  string
	form   url.Values
	check  func(*rec) error
}

// Checks of the 503 answers.
func json503(r *rec) error {
	if r.code != http.StatusServiceUnavailable || r.ctype != "application/json" {
		return errors.New("want 503 application/json")
	}
	return nil
}

func uapi503(r *rec) error {
	if err := json503(r); err != nil {
		return err
	}
	var v struct {
		Status *int
		Errors []string
		Data   any
	}
	if json.Unmarshal(r.body, &v) != nil || v.Status == nil || *v.Status != 0 || len(v.Errors) != 1 || v.Errors[0] != unavailableText || v.Data != nil {
		return errors.New("want the UAPI result {\"status\":0,\"errors\":[…unavailable…]}")
	}
	return nil
}

// wrapped503 is the answer of WHM's /json-api/cpanel proxy: the UAPI
// result in its wrapped form.
func wrapped503(r *rec) error {
	if err := json503(r); err != nil {
		return err
	}
	var v struct {
		APIVersion int
		Module     string
		Result     json.RawMessage
	}
	if json.Unmarshal(r.body, &v) != nil || v.APIVersion != 3 || v.Module != "Session" {
		return errors.New("want the wrapped UAPI result {\"apiversion\":3,\"module\":\"Session\",\"result\":{…}}")
	}
	return uapi503(&rec{code: r.code, ctype: r.ctype, body: v.Result})
}

func whm503(fn string) func(r *rec) error {
	return func(r *rec) error {
		if err := json503(r); err != nil {
			return err
		}
		var v struct {
			Metadata struct {
				Result  *int
				Reason  string
				Command string
			}
			Data any
		}
		if json.Unmarshal(r.body, &v) != nil || v.Metadata.Result == nil || *v.Metadata.Result != 0 ||
			v.Metadata.Reason != unavailableText || v.Metadata.Command != fn || v.Data != nil {
			return errors.New("want WHM API 1 metadata with result 0 and the reason")
		}
		return nil
	}
}

func text503(r *rec) error {
	if r.code != http.StatusServiceUnavailable || !strings.HasPrefix(r.ctype, "text/plain") ||
		strings.TrimSpace(string(r.body)) != unavailableText {
		return errors.New("want 503 text/plain with the text")
	}
	return nil
}

func notReady(r *rec) error {
	if r.code == 200 {
		return errors.New("want not ready")
	}
	return nil
}

const (
	createPath = "/execute/Session/create_webmail_session_for_mail_user?login=info&domain=alice.test"
	proxyPath  = "/json-api/cpanel?cpanel_jsonapi_user=alice&cpanel_jsonapi_module=Session&cpanel_jsonapi_func=create_webmail_session_for_mail_user&cpanel_jsonapi_apiversion=3&login=info&domain=alice.test"
)

var (
	rootBasic = testserver.Basic("root", testserver.RootPassword)
	rootToken = testserver.WHMToken("root", testserver.RootToken)
)

// probes are requests of every kind. On the node every request touches
// every store (authentication consults the brute-force counters, which
// live with the sessions, and the directory). On the allow-listed node
// authentication does not consult the counters, so with the sessions
// store down the requests that need it fail only inside the function:
// they must answer 503 all the same.
func (sc *scenario) probes() []probe {
	srv, al := sc.srv, sc.allow
	login := url.Values{"user": {"alice"}, "pass": {testserver.AlicePassword}}
	return []probe{
		{"readyz", sc.cl, "GET", "http://" + srv.Addrs["metrics-plain"] + "/readyz", "", nil, notReady},
		{"UAPI create (token)", sc.cl, "GET", srv.URL("cpaneld", createPath), aliceToken, nil, uapi503},
		{"UAPI list_pops (Basic)", sc.cl, "GET", srv.URL("cpaneld", "/execute/Email/list_pops"), testserver.Basic("alice", testserver.AlicePassword), nil, uapi503},
		{"WHM listaccts (Basic)", sc.cl, "GET", srv.URL("whostmgrd", "/json-api/listaccts?api.version=1"), rootBasic, nil, whm503("listaccts")},
		{"WHM create_user_session (token)", sc.cl, "GET", srv.URL("whostmgrd", "/json-api/create_user_session?api.version=1&user=alice&service=cpaneld"), rootToken, nil, whm503("create_user_session")},
		{"WHM cpanel proxy", sc.cl, "GET", srv.URL("whostmgrd", proxyPath), rootToken, nil, wrapped503},
		{"password login", sc.cl, "POST", srv.URL("cpaneld", "/login/?login_only=1"), "", login, text503},
		{"landing page (cookie)", sc.browser, "GET", sc.landing, "", nil, text503},
		{"allow-listed: UAPI create (token)", sc.acl, "GET", al.URL("cpaneld", createPath), aliceToken, nil, uapi503},
		{"allow-listed: WHM create_user_session (token)", sc.acl, "GET", al.URL("whostmgrd", "/json-api/create_user_session?api.version=1&user=alice&service=cpaneld"), rootToken, nil, whm503("create_user_session")},
		{"allow-listed: WHM cpanel proxy", sc.acl, "GET", al.URL("whostmgrd", proxyPath), rootToken, nil, wrapped503},
		{"allow-listed: password login", sc.acl, "POST", al.URL("cpaneld", "/login/?login_only=1"), "", login, text503},
	}
}

// outage stops a store, checks the node's answers while it is down,
// starts the store again and waits until the node recovers.
func (sc *scenario) outage(name string, stop, start func()) {
	t := sc.t
	t.Helper()
	sc.waitAcked(10)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		sc.mu.Lock()
		n := len(sc.unused)
		sc.mu.Unlock()
		if n >= keepUnused+10 { // so that logins go on during the outage
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d unused sessions after 30s", n)
		}
	}
	w := window{store: name, stopping: time.Now()}
	stop()
	w.down = time.Now()
	t.Logf("%s stopped in %v", name, w.down.Sub(w.stopping).Round(time.Millisecond))

	probes := sc.probes()
	for n := 0; time.Since(w.down) < outageFor || n == 0; n++ {
		for _, p := range probes {
			r := sc.request(p.cl, p.name, p.method, p.url, p.authz, p.form)
			err := r.err
			if err == nil {
				err = p.check(r)
			}
			if err != nil {
				t.Errorf("%s down: %s: %v: %s", name, p.name, err, r)
			}
			if d := r.end.Sub(r.start); d > maxAnswer {
				t.Errorf("%s down: %s took %v", name, p.name, d)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.up = time.Now()
	start()
	t.Logf("%s back after %v", name, time.Since(w.down).Round(time.Millisecond))

	// Recovered: every probe succeeds, without restarting uapid.
	deadline := w.up.Add(maxRecovery)
	for {
		var failed []string
		if r := sc.request(sc.cl, "readyz", "GET", "http://"+sc.srv.Addrs["metrics-plain"]+"/readyz", "", nil); r.code != 200 {
			failed = append(failed, r.String())
		}
		if _, err := sc.create(); err != nil {
			failed = append(failed, err.Error())
		}
		if r := sc.request(sc.cl, "WHM listaccts", "GET", sc.srv.URL("whostmgrd", "/json-api/listaccts?api.version=1"), rootBasic, nil); r.code != 200 || !bytes.Contains(r.body, []byte(`"result":1`)) {
			failed = append(failed, r.String())
		}
		if r := sc.request(sc.browser, "landing page (cookie)", "GET", sc.landing, "", nil); r.code != 200 {
			failed = append(failed, r.String())
		}
		if r := sc.request(sc.acl, "allow-listed: UAPI create (token)", "GET", sc.allow.URL("cpaneld", createPath), aliceToken, nil); r.code != 200 || !bytes.Contains(r.body, []byte(`"status":1`)) {
			failed = append(failed, r.String())
		}
		if len(failed) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not recovered %v after %s came back:\n%s", maxRecovery, name, strings.Join(failed, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.recovered = time.Now()
	t.Logf("recovered %v after %s came back", w.recovered.Sub(w.up).Round(time.Millisecond), name)
	sc.mu.Lock()
	sc.windows = append(sc.windows, w)
	sc.mu.Unlock()
	sc.waitAcked(10)
}

// phase says where a request falls: "down" (entirely within outage i),
// "transition" (in flight while a store stopped, was down or started
// again, until the node had recovered) or "ok" (every store up).
func (sc *scenario) phase(r *rec) (ph string, i int) {
	for i, w := range sc.windows {
		if !r.start.Before(w.down) && !r.end.After(w.up) {
			return "down", i
		}
	}
	for i, w := range sc.windows {
		if r.end.After(w.stopping) && r.start.Before(w.recovered) {
			return "transition", i
		}
	}
	return "ok", -1
}

// overlapsStop reports whether r was in flight while a store stopped: a
// write it sent may have been done without the answer reaching uapid.
func (sc *scenario) overlapsStop(r *rec) bool {
	for _, w := range sc.windows {
		if r.start.Before(w.down) && r.end.After(w.stopping) {
			return true
		}
	}
	return false
}

// sessions opens the node's session store directly.
func (sc *scenario) sessions(ctx context.Context) (store.Sessions, func()) {
	box, err := secretbox.New(sc.key, nil)
	if err != nil {
		sc.t.Fatal(err)
	}
	if sc.rdb != "" {
		rs, err := redisstore.Open(ctx, sc.rdb, box)
		if err != nil {
			sc.t.Fatal(err)
		}
		return rs.Sessions(), func() { rs.Close() }
	}
	db, err := sqlstore.OpenPostgres(ctx, sc.dsn, sqlstore.Options{Box: box})
	if err != nil {
		sc.t.Fatal(err)
	}
	return db.Sessions(), func() { db.Close() }
}

// finish stops the load and checks every answer it got and every session
// the node acknowledged.
func (sc *scenario) finish() {
	t := sc.t
	sc.stopLoad() // from here on nothing else touches sc

	// Every answer: prompt, and a success or the 503 of its path; while a
	// store was down only 503s; once recovered only successes.
	counts := map[string]int{}
	during := make([]map[string]int, len(sc.windows))
	for i := range during {
		during[i] = map[string]int{}
	}
	for _, r := range sc.recs {
		if d := r.end.Sub(r.start); d > maxAnswer {
			t.Errorf("slow answer: %s", r)
		}
		if r.err != nil {
			t.Errorf("no answer: %s", r)
			continue
		}
		if r.op != "create" && r.op != "login" {
			continue // probes are judged where they run
		}
		if r.op == "login" && r.code == http.StatusUnauthorized {
			counts["login 401"]++
			continue // judged with its session below
		}
		ph, i := sc.phase(r)
		success := r.code == 200 && bytes.Contains(r.body, []byte(`"status":1`))
		unavailable := r.code == http.StatusServiceUnavailable
		switch r.op {
		case "create":
			unavailable = unavailable && r.ctype == "application/json" &&
				bytes.Contains(r.body, []byte(`"status":0`)) && bytes.Contains(r.body, []byte(unavailableText))
		case "login":
			unavailable = unavailable && strings.HasPrefix(r.ctype, "text/plain") && strings.TrimSpace(string(r.body)) == unavailableText
		}
		counts[r.op+" "+ph+" "+map[bool]string{true: "ok", false: "503"}[success]]++
		if ph == "down" {
			during[i][r.op]++
		}
		switch {
		case ph == "down" && !unavailable:
			t.Errorf("during an outage, want 503 in the envelope: %s", r)
		case ph == "ok" && !success:
			t.Errorf("with every store up, want success: %s", r)
		case ph == "transition" && !success && !unavailable:
			t.Errorf("while a store stopped or started, want success or 503 in the envelope: %s", r)
		}
	}
	t.Logf("load answers: %v", counts)
	for i, w := range sc.windows {
		if during[i]["create"] == 0 || during[i]["login"] == 0 {
			t.Errorf("the load sent no creation or no login while %s was down: %v", w.store, during[i])
		}
	}

	// No session acknowledged is lost: each is in the store; those that
	// were never used log in now, exactly once.
	ctx := context.Background()
	ss, closeStore := sc.sessions(ctx)
	defer closeStore()
	used, fresh, inFlight := 0, 0, 0
	for _, s := range sc.acked {
		rec, err := ss.ByLoginHash(ctx, session.HashSecret(s.secret))
		if err != nil {
			t.Errorf("acknowledged session %.24s… not in the store: %v", s.secret, err)
			continue
		}
		if s.used {
			used++
			if !rec.Consumed {
				t.Errorf("session %.24s… logged in but is not marked used in the store", s.secret)
			}
			continue
		}
		// A login that failed while a store stopped may have been done
		// by the store with the answer lost (the store executed the
		// write, then closed the connection before its reply went out):
		// then the secret is used, and a later login is refused.
		maybe, lost := false, false
		for _, f := range s.failed {
			switch {
			case f.code == http.StatusServiceUnavailable:
				maybe = maybe || sc.overlapsStop(f)
			case f.code == http.StatusUnauthorized && maybe && rec.Consumed:
				lost = true
			default:
				t.Errorf("login of acknowledged session %.24s… failed: %s (its failed logins: %v)", s.secret, f, s.failed)
			}
		}
		if lost {
			inFlight++
			t.Logf("session %.24s… was used by a login whose answer was lost while a store stopped: %v", s.secret, s.failed)
			continue
		}
		r := sc.login(s)
		switch {
		case r.code == 200 && bytes.Contains(r.body, []byte(`"status":1`)):
			fresh++
		case maybe && rec.Consumed && r.code == http.StatusUnauthorized:
			inFlight++
			t.Logf("session %.24s… was used by a login whose answer was lost while a store stopped: %v", s.secret, s.failed)
		default:
			t.Errorf("acknowledged session %.24s… (unused; failed logins %v) does not log in: %s", s.secret, s.failed, r)
		}
	}
	t.Logf("%d sessions acknowledged: %d logged in during the load, %d now, %d used by a login whose answer was lost while a store stopped",
		len(sc.acked), used, fresh, inFlight)
	if fresh == 0 {
		t.Errorf("no acknowledged session was left to log in at the end")
	}
	for _, n := range []*testserver.Server{sc.srv, sc.allow} {
		if log := n.Stderr.String(); strings.Contains(log, "panic") {
			t.Errorf("a node's log shows a panic:\n%s", log)
		}
	}
}
