package multinode

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/testserver"
)

// The tests of this file check the guarantees of docs/multinode.md that
// rest on the shared directory: creating a name through two nodes at once
// gives exactly one success, a suspension root locked cannot be lifted by
// the owning reseller through any node, and failed logins count on every
// node.

// sharedDirectory are the variants whose nodes share the directory (with
// redis+sqlite each node has its own directory file: a name created on one
// node does not exist on the other, so there is no race to decide).
func sharedDirectory() []variant {
	var vs []variant
	for _, v := range variants {
		if v.sharedLedger {
			vs = append(vs, v)
		}
	}
	return vs
}

var rootBasic = testserver.Basic("root", testserver.RootPassword)

// whmResult is a WHM API 1 answer.
type whmResult struct {
	status int // HTTP
	result int // metadata.result
	reason string
	data   map[string]any
	body   []byte
}

func decodeWHM(r *response) (whmResult, error) {
	var v struct {
		Metadata struct {
			Result *int   `json:"result"`
			Reason string `json:"reason"`
		} `json:"metadata"`
		Data map[string]any `json:"data"`
	}
	d := json.NewDecoder(bytes.NewReader(r.body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil || v.Metadata.Result == nil {
		return whmResult{}, fmt.Errorf("not a WHM API 1 answer (HTTP %d): %s", r.StatusCode, r.body)
	}
	return whmResult{status: r.StatusCode, result: *v.Metadata.Result, reason: v.Metadata.Reason, data: v.Data, body: r.body}, nil
}

// whm calls a WHM API 1 function on n.
func whm(t testing.TB, cl *http.Client, n *node, authz, fn string, params url.Values) whmResult {
	t.Helper()
	q := url.Values{"api.version": {"1"}}
	for k, v := range params {
		q[k] = v
	}
	r := do(t, cl, "GET", n.url("whostmgrd", "/json-api/"+fn+"?"+q.Encode()), authz, nil)
	w, err := decodeWHM(r)
	if err != nil {
		t.Fatalf("%s on %s: %v", fn, n.name, err)
	}
	if w.status != 200 {
		t.Fatalf("%s on %s: HTTP %d: %s", fn, n.name, w.status, w.body)
	}
	return w
}

// uapiResult is the bare UAPI result of /execute.
type uapiResult struct {
	status int // HTTP
	Status int `json:"status"`
	Errors []string
	Data   any
	body   []byte
}

func decodeUAPI(r *response) (uapiResult, error) {
	var v uapiResult
	if err := json.Unmarshal(r.body, &v); err != nil {
		return uapiResult{}, fmt.Errorf("not a UAPI result (HTTP %d): %s", r.StatusCode, r.body)
	}
	v.status, v.body = r.StatusCode, r.body
	return v, nil
}

// race runs the two functions at the same moment (both goroutines wait on
// one channel) and returns when both are done.
func race(a, b func()) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, f := range []func(){a, b} {
		wg.Go(func() {
			<-start
			f()
		})
	}
	close(start)
	wg.Wait()
}

const raceRounds = 20

// TestConcurrentProvisioningAcrossNodes creates the same account (WHM
// createacct) and the same mailbox (UAPI Email::add_pop) through two uapid
// processes at the same moment, round after round: exactly one of the two
// succeeds, the other is told the name already exists, and what the winner
// created is intact (its domain, its password).
func TestConcurrentProvisioningAcrossNodes(t *testing.T) {
	t.Parallel()
	for _, v := range sharedDirectory() {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, v)
			nodes := c.startProcs(t, "A", "B")
			cl := client(nodes...)
			// Open the connections before the rounds, so that both
			// requests of a round leave at once.
			for _, n := range nodes {
				whm(t, cl, n, rootBasic, "version", nil)
				do(t, cl, "GET", n.url("cpaneld", "/execute/Email/list_pops"), aliceToken, nil)
			}
			t.Run("createacct", func(t *testing.T) { raceCreateacct(t, cl, nodes) })
			t.Run("createacct same domain", func(t *testing.T) { raceDomain(t, cl, nodes) })
			t.Run("add_pop", func(t *testing.T) { raceAddPop(t, cl, nodes) })
		})
	}
}

func raceCreateacct(t *testing.T, cl *http.Client, nodes []*node) {
	wins := map[string]int{}
	for round := range raceRounds {
		user := fmt.Sprintf("rc%02d%s", round, randLower(6))
		var domains, passwords [2]string
		var got [2]whmResult
		var errs [2]error
		for i := range 2 {
			domains[i] = fmt.Sprintf("%s-%s.test", user, strings.ToLower(nodes[i].name))
			passwords[i] = fmt.Sprintf("Pw-%s-%s", nodes[i].name, randLower(10))
		}
		call := func(i int) func() {
			return func() {
				q := url.Values{"api.version": {"1"}, "username": {user}, "domain": {domains[i]}, "password": {passwords[i]}}
				r, err := send(cl, "GET", nodes[i].url("whostmgrd", "/json-api/createacct?"+q.Encode()), rootBasic, nil)
				if err == nil {
					got[i], err = decodeWHM(r)
				}
				errs[i] = err
			}
		}
		race(call(0), call(1))
		for i := range 2 {
			if errs[i] != nil {
				t.Fatalf("round %d: createacct on %s: %v", round, nodes[i].name, errs[i])
			}
			if got[i].status != 200 {
				t.Fatalf("round %d: createacct on %s: HTTP %d: %s", round, nodes[i].name, got[i].status, got[i].body)
			}
		}
		if got[0].result+got[1].result != 1 {
			t.Fatalf("round %d: createacct of %s through both nodes: results %d (%s) and %d (%s), want exactly one 1",
				round, user, got[0].result, got[0].body, got[1].result, got[1].body)
		}
		w, l := 0, 1
		if got[1].result == 1 {
			w, l = 1, 0
		}
		wins[nodes[w].name]++
		if want := "The account “" + user + "” already exists."; got[l].reason != want {
			t.Fatalf("round %d: the loser %s answered %q, want %q", round, nodes[l].name, got[l].reason, want)
		}
		if got[w].reason != "Account Creation Ok" {
			t.Errorf("round %d: the winner %s answered %q", round, nodes[w].name, got[w].reason)
		}
		// The winner's account is intact, seen through both nodes: its
		// domain, nothing of the loser's, its password and not the
		// loser's.
		for _, n := range nodes {
			s := whm(t, cl, n, rootBasic, "accountsummary", url.Values{"user": {user}})
			accts, _ := s.data["acct"].([]any)
			if s.result != 1 || len(accts) != 1 {
				t.Fatalf("round %d: accountsummary of %s on %s: %s", round, user, n.name, s.body)
			}
			if d := accts[0].(map[string]any)["domain"]; d != domains[w] {
				t.Fatalf("round %d: %s on %s has domain %v, want the winner's %s", round, user, n.name, d, domains[w])
			}
			s = whm(t, cl, n, rootBasic, "accountsummary", url.Values{"domain": {domains[l]}})
			if s.result != 0 || !strings.Contains(s.reason, "No account owns") {
				t.Fatalf("round %d: the loser's domain %s exists on %s: %s", round, domains[l], n.name, s.body)
			}
			for i, want := range map[int]int{w: 200, l: 401} {
				r := do(t, cl, "GET", n.url("cpaneld", "/execute/Email/list_pops"), testserver.Basic(user, passwords[i]), nil)
				if r.StatusCode != want {
					t.Fatalf("round %d: %s with the password given to %s, on %s: HTTP %d, want %d: %s",
						round, user, nodes[i].name, n.name, r.StatusCode, want, r.body)
				}
			}
		}
	}
	t.Logf("createacct races won: %v", wins)
}

// raceDomain creates two different accounts with the same domain through
// the two nodes at once: the domain goes to exactly one of them, and the
// other account is not created at all.
func raceDomain(t *testing.T, cl *http.Client, nodes []*node) {
	for round := range raceRounds / 2 {
		domain := fmt.Sprintf("rd%02d%s.test", round, randLower(6))
		var users [2]string
		var got [2]whmResult
		var errs [2]error
		for i := range 2 {
			users[i] = fmt.Sprintf("rd%02d%s", round, randLower(6))
		}
		call := func(i int) func() {
			return func() {
				q := url.Values{"api.version": {"1"}, "username": {users[i]}, "domain": {domain}, "password": {"Pw-" + randLower(10)}}
				r, err := send(cl, "GET", nodes[i].url("whostmgrd", "/json-api/createacct?"+q.Encode()), rootBasic, nil)
				if err == nil {
					got[i], err = decodeWHM(r)
				}
				errs[i] = err
			}
		}
		race(call(0), call(1))
		for i := range 2 {
			if errs[i] != nil || got[i].status != 200 {
				t.Fatalf("round %d: createacct on %s: %v %s", round, nodes[i].name, errs[i], got[i].body)
			}
		}
		if got[0].result+got[1].result != 1 {
			t.Fatalf("round %d: createacct of %s and %s with domain %s: %s and %s, want exactly one result 1",
				round, users[0], users[1], domain, got[0].body, got[1].body)
		}
		w, l := 0, 1
		if got[1].result == 1 {
			w, l = 1, 0
		}
		if want := "The domain “" + domain + "” already belongs to an account on this server."; got[l].reason != want {
			t.Fatalf("round %d: the loser %s answered %q, want %q", round, nodes[l].name, got[l].reason, want)
		}
		for _, n := range nodes {
			s := whm(t, cl, n, rootBasic, "accountsummary", url.Values{"domain": {domain}})
			accts, _ := s.data["acct"].([]any)
			if s.result != 1 || len(accts) != 1 || accts[0].(map[string]any)["user"] != users[w] {
				t.Fatalf("round %d: %s on %s: %s, want the winner %s", round, domain, n.name, s.body, users[w])
			}
			s = whm(t, cl, n, rootBasic, "accountsummary", url.Values{"user": {users[l]}})
			if s.result != 0 {
				t.Fatalf("round %d: the loser's account %s exists on %s: %s", round, users[l], n.name, s.body)
			}
		}
	}
}

func raceAddPop(t *testing.T, cl *http.Client, nodes []*node) {
	wins := map[string]int{}
	for round := range raceRounds {
		local := fmt.Sprintf("r%02d%s", round, randLower(6))
		addr := local + "@alice.test"
		var passwords [2]string
		var got [2]uapiResult
		var errs [2]error
		for i := range 2 {
			passwords[i] = fmt.Sprintf("Mail-%s-%s", nodes[i].name, randLower(10))
		}
		call := func(i int) func() {
			return func() {
				form := url.Values{"email": {local}, "domain": {"alice.test"}, "password": {passwords[i]}}
				r, err := send(cl, "POST", nodes[i].url("cpaneld", "/execute/Email/add_pop"), aliceToken, form)
				if err == nil {
					got[i], err = decodeUAPI(r)
				}
				errs[i] = err
			}
		}
		race(call(0), call(1))
		for i := range 2 {
			if errs[i] != nil {
				t.Fatalf("round %d: add_pop on %s: %v", round, nodes[i].name, errs[i])
			}
			if got[i].status != 200 {
				t.Fatalf("round %d: add_pop on %s: HTTP %d: %s", round, nodes[i].name, got[i].status, got[i].body)
			}
		}
		if got[0].Status+got[1].Status != 1 {
			t.Fatalf("round %d: add_pop of %s through both nodes: %s and %s, want exactly one status 1", round, addr, got[0].body, got[1].body)
		}
		w, l := 0, 1
		if got[1].Status == 1 {
			w, l = 1, 0
		}
		wins[nodes[w].name]++
		if want := []string{"The account " + addr + " already exists!"}; !slices.Equal(got[l].Errors, want) {
			t.Fatalf("round %d: the loser %s answered %s, want errors %q", round, nodes[l].name, got[l].body, want)
		}
		if got[w].Data != local+"+alice.test" {
			t.Errorf("round %d: the winner %s answered %s", round, nodes[w].name, got[w].body)
		}
		// The winner's password logs in to Webmail on both nodes; the
		// loser's on neither.
		for _, n := range nodes {
			for i, want := range map[int]int{w: 200, l: 401} {
				r := do(t, client(nodes...), "POST", n.url("webmaild", "/login/?login_only=1"), "",
					url.Values{"user": {addr}, "pass": {passwords[i]}})
				if r.StatusCode != want {
					t.Fatalf("round %d: Webmail login of %s with the password given to %s, on %s: HTTP %d, want %d: %s",
						round, addr, nodes[i].name, n.name, r.StatusCode, want, r.body)
				}
				if want == 200 && !strings.Contains(string(r.body), `"status":1`) {
					t.Fatalf("round %d: Webmail login of %s on %s: %s", round, addr, n.name, r.body)
				}
			}
		}
	}
	t.Logf("add_pop races won: %v", wins)
}

// TestRootLockedSuspension suspends the reseller res's account carol as
// root with disallowun=1 through one node: res can neither lift nor
// change that suspension through the other node (nor the first), root can.
// listaccts shows what WHM remembers of an account (plan, contact address,
// suspension reason, time and lock) the same way on every node, and the
// same on PostgreSQL (and with Redis sessions) as on one SQLite node.
func TestRootLockedSuspension(t *testing.T) {
	t.Parallel()
	layouts := []variant{{name: "sqlite", setup: func(*testing.T) []string { return nil }}}
	layouts = append(layouts, sharedDirectory()...)
	var mu sync.Mutex
	seen := map[string]string{} // layout → normalised listaccts entries
	t.Run("layouts", func(t *testing.T) {
		for _, v := range layouts {
			t.Run(v.name, func(t *testing.T) {
				t.Parallel()
				c := newCluster(t, v)
				var a, b *node
				if v.name == "sqlite" {
					a = c.start(t, "S", "")
					b = a
				} else {
					a, b = c.start(t, "A", ""), c.start(t, "B", "")
				}
				entries := checkLockedSuspension(t, client(a, b), a, b)
				mu.Lock()
				seen[v.name] = entries
				mu.Unlock()
			})
		}
	})
	if t.Failed() {
		return
	}
	want := seen["sqlite"]
	for _, name := range slices.Sorted(maps.Keys(seen)) {
		if seen[name] != want {
			t.Errorf("listaccts entries on %s differ from SQLite's:\n%s\nSQLite:\n%s", name, seen[name], want)
		}
	}
}

var (
	startdateRE  = regexp.MustCompile(`^\d\d [A-Z][a-z]{2} \d\d \d\d:\d\d$`)
	resToken     = testserver.WHMToken("res", testserver.ResToken)
	resBasic     = testserver.Basic("res", testserver.ResPassword)
	lockedReason = "Only root can unsuspend the account “carol”: root locked its suspension."
)

// entryOf returns the listaccts entry of user as seen by authz through n.
func entryOf(t *testing.T, cl *http.Client, n *node, authz, user string) map[string]any {
	t.Helper()
	r := whm(t, cl, n, authz, "listaccts", nil)
	accts, _ := r.data["acct"].([]any)
	if r.result != 1 {
		t.Fatalf("listaccts on %s: %s", n.name, r.body)
	}
	for _, a := range accts {
		if e, _ := a.(map[string]any); e["user"] == user {
			return e
		}
	}
	t.Fatalf("listaccts on %s has no %s: %s", n.name, user, r.body)
	return nil
}

// normalise checks the time fields of a listaccts entry (suspendtime
// within [from, to] when the account is suspended) and replaces them with
// placeholders, so that entries of different runs compare equal.
func normalise(t *testing.T, e map[string]any, from, to time.Time) map[string]any {
	t.Helper()
	out := maps.Clone(e)
	if s, _ := e["startdate"].(string); !startdateRE.MatchString(s) {
		t.Errorf("startdate %v is not \"YY Mon DD HH:MM\"", e["startdate"])
	}
	out["startdate"] = "<startdate>"
	if n, ok := e["unix_startdate"].(json.Number); !ok || n.String() == "0" {
		t.Errorf("unix_startdate %v", e["unix_startdate"])
	}
	out["unix_startdate"] = "<unix>"
	switch st := e["suspendtime"].(type) {
	case nil:
	case json.Number:
		sec, err := st.Int64()
		if err != nil || sec < from.Unix()-1 || sec > to.Unix()+1 {
			t.Errorf("suspendtime %v not between %d and %d", st, from.Unix(), to.Unix())
		}
		out["suspendtime"] = "<unix>"
	default:
		t.Errorf("suspendtime %v (%T), want a unix time or null", st, st)
	}
	return out
}

func checkLockedSuspension(t *testing.T, cl *http.Client, a, b *node) string {
	ok := func(r whmResult, what string) {
		t.Helper()
		if r.result != 1 {
			t.Fatalf("%s: %s", what, r.body)
		}
	}
	// Root locks carol's suspension through A.
	before := time.Now()
	ok(whm(t, cl, a, rootBasic, "suspendacct", url.Values{"user": {"carol"}, "reason": {"Billing overdue"}, "disallowun": {"1"}}), "root suspendacct carol on "+a.name)
	after := time.Now()

	// The reseller can neither lift it nor change it, through either
	// node, with its token or its password.
	for _, n := range []*node{b, a} {
		for _, authz := range []string{resToken, resBasic} {
			r := whm(t, cl, n, authz, "unsuspendacct", url.Values{"user": {"carol"}})
			if r.result != 0 || r.reason != lockedReason {
				t.Fatalf("reseller unsuspendacct of root-locked carol on %s: %s, want result 0 with %q", n.name, r.body, lockedReason)
			}
		}
		r := whm(t, cl, n, resToken, "suspendacct", url.Values{"user": {"carol"}, "reason": {"Changed by res"}})
		if r.result != 0 || r.reason != lockedReason {
			t.Fatalf("reseller suspendacct of root-locked carol on %s: %s, want result 0 with %q", n.name, r.body, lockedReason)
		}
	}
	// Still suspended, with root's reason and lock, as root and as the
	// reseller see it on both nodes; carol cannot authenticate.
	var locked map[string]any
	for _, n := range []*node{a, b} {
		for _, authz := range []string{rootBasic, resToken} {
			e := entryOf(t, cl, n, authz, "carol")
			for k, want := range map[string]any{"suspended": json.Number("1"), "is_locked": json.Number("1"),
				"suspendreason": "Billing overdue", "owner": "res", "domain": "carol.test", "plan": "default", "email": "*unknown*"} {
				if e[k] != want {
					t.Errorf("carol on %s: %s = %v, want %v (%v)", n.name, k, e[k], want, e)
				}
			}
			e = normalise(t, e, before, after)
			if locked == nil {
				locked = e
			} else if !reflect.DeepEqual(locked, e) {
				t.Errorf("carol's entries differ between nodes or callers: %v and %v", locked, e)
			}
		}
		if r := do(t, cl, "GET", n.url("cpaneld", "/execute/Email/list_pops"), testserver.Basic("carol", testserver.CarolPassword), nil); r.StatusCode != 401 {
			t.Errorf("suspended carol authenticates on %s: HTTP %d", n.name, r.StatusCode)
		}
	}

	// Root lifts it through B.
	ok(whm(t, cl, b, rootBasic, "unsuspendacct", url.Values{"user": {"carol"}}), "root unsuspendacct carol on "+b.name)
	for _, n := range []*node{a, b} {
		e := entryOf(t, cl, n, resToken, "carol")
		for k, want := range map[string]any{"suspended": json.Number("0"), "is_locked": json.Number("0"),
			"suspendreason": "not suspended", "suspendtime": nil} {
			if e[k] != want {
				t.Errorf("carol on %s after root's unsuspendacct: %s = %v, want %v", n.name, k, e[k], want)
			}
		}
		if r := do(t, cl, "GET", n.url("cpaneld", "/execute/Email/list_pops"), testserver.Basic("carol", testserver.CarolPassword), nil); r.StatusCode != 200 {
			t.Errorf("unsuspended carol on %s: HTTP %d: %s", n.name, r.StatusCode, r.body)
		}
	}
	// Without disallowun the reseller may lift root's suspension.
	ok(whm(t, cl, a, rootBasic, "suspendacct", url.Values{"user": {"carol"}, "reason": {"Unlocked"}}), "root suspendacct carol without lock")
	ok(whm(t, cl, b, resToken, "unsuspendacct", url.Values{"user": {"carol"}}), "reseller unsuspendacct of an unlocked suspension")

	// What createacct and suspendacct record shows in listaccts.
	ok(whm(t, cl, a, rootBasic, "createacct", url.Values{"username": {"gina"}, "domain": {"gina.test"},
		"password": {"Gina-pass-1"}, "plan": {"gold"}, "contactemail": {"x@example.net"}}), "createacct gina")
	before = time.Now()
	ok(whm(t, cl, b, rootBasic, "suspendacct", url.Values{"user": {"gina"}, "reason": {"Abuse report"}}), "suspendacct gina")
	after = time.Now()
	var gina map[string]any
	for _, n := range []*node{a, b} {
		e := entryOf(t, cl, n, rootBasic, "gina")
		for k, want := range map[string]any{"plan": "gold", "email": "x@example.net", "suspended": json.Number("1"),
			"suspendreason": "Abuse report", "is_locked": json.Number("0"), "owner": "root", "domain": "gina.test"} {
			if e[k] != want {
				t.Errorf("gina on %s: %s = %v, want %v (%v)", n.name, k, e[k], want, e)
			}
		}
		if _, ok := e["suspendtime"].(json.Number); !ok {
			t.Errorf("gina on %s: suspendtime %v, want a unix time", n.name, e["suspendtime"])
		}
		s := whm(t, cl, n, rootBasic, "accountsummary", url.Values{"user": {"gina"}})
		accts, _ := s.data["acct"].([]any)
		if len(accts) != 1 || !reflect.DeepEqual(accts[0].(map[string]any), e) {
			t.Errorf("accountsummary of gina on %s differs from its listaccts entry: %s", n.name, s.body)
		}
		e = normalise(t, e, before, after)
		if gina == nil {
			gina = e
		} else if !reflect.DeepEqual(gina, e) {
			t.Errorf("gina's entries differ between nodes: %v and %v", gina, e)
		}
	}
	out, _ := json.MarshalIndent(map[string]any{"carol (root-locked)": locked, "gina": gina}, "", "  ")
	return string(out)
}

// newClusterNoAllow is newCluster without baseArgs: no address is exempt
// from brute-force protection.
func newClusterNoAllow(t *testing.T, v variant, extra ...string) *cluster {
	t.Helper()
	key := base64.StdEncoding.EncodeToString(secretbox.NewKey())
	args := append(append([]string{"--sweep-interval", "1s"}, v.setup(t)...), extra...)
	return &cluster{args: args, env: map[string]string{"UAPID_SECRET_KEY": key}}
}

// TestBruteForceAcrossNodes fails password logins from one client address
// alternately through two uapid processes (HTTP Basic on /execute through
// one, POST /login/ through the other) with --bruteforce-ip-max 6: the
// limit holds for the cluster, not per node. The nodes trust 127.0.0.1 as a
// proxy, so X-Forwarded-For names the client.
//
// The limit is the number of failures tolerated (README, SPEC §6): after 6
// failures the right password is still accepted; the 7th failure starts
// the block, and from then on the address is refused on both nodes, even
// with the right password. Counted per node, 7 failures split 4 and 3
// would block nothing.
func TestBruteForceAcrossNodes(t *testing.T) {
	t.Parallel()
	for _, v := range sharedDirectory() {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			c := newClusterNoAllow(t, v, "--trusted-proxies", "127.0.0.1/32",
				"--bruteforce-ip-max", "6", "--bruteforce-user-max", "100")
			nodes := c.startProcs(t, "A", "B")
			a, b := nodes[0], nodes[1]
			cl := client(a, b)
			const attacker = "203.0.113.77"
			good, bad := testserver.AlicePassword, "wrong-password"

			basic := func(n *node, from, pass string) int {
				t.Helper()
				req, _ := http.NewRequest("GET", n.url("cpaneld", "/execute/Email/list_pops"), nil)
				req.Header.Set("X-Forwarded-For", from)
				req.Header.Set("Authorization", testserver.Basic("alice", pass))
				return status(t, cl, req)
			}
			form := func(n *node, from, pass string) int {
				t.Helper()
				req, _ := http.NewRequest("POST", n.url("cpaneld", "/login/?login_only=1"),
					strings.NewReader(url.Values{"user": {"alice"}, "pass": {pass}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", from)
				return status(t, cl, req)
			}
			token := func(n *node, from string) int {
				t.Helper()
				req, _ := http.NewRequest("GET", n.url("cpaneld", "/execute/Email/list_pops"), nil)
				req.Header.Set("X-Forwarded-For", from)
				req.Header.Set("Authorization", aliceToken)
				return status(t, cl, req)
			}
			fail := func(i int) {
				t.Helper()
				n, how, f := a, "Basic", basic
				if i%2 == 1 {
					n, how, f = b, "POST /login/", form
				}
				if got := f(n, attacker, bad); got != 401 {
					t.Fatalf("failure %d (%s on %s): HTTP %d, want 401", i+1, how, n.name, got)
				}
			}
			for i := range 6 {
				fail(i)
			}
			// At the limit, not past it: the right password works on both.
			for _, n := range nodes {
				if got := basic(n, attacker, good); got != 200 {
					t.Fatalf("right password after 6 failures (the limit), on %s: HTTP %d, want 200", n.name, got)
				}
			}
			fail(6) // the 7th failure, on A: 4 on A and 3 on B
			for _, n := range nodes {
				if got := basic(n, attacker, good); got != 401 {
					t.Errorf("right password (Basic) after 7 failures, on %s: HTTP %d, want 401 (blocked)", n.name, got)
				}
				if got := form(n, attacker, good); got != 401 {
					t.Errorf("right password (POST /login/) after 7 failures, on %s: HTTP %d, want 401 (blocked)", n.name, got)
				}
				if got := token(n, attacker); got != 401 {
					t.Errorf("token after 7 failures, on %s: HTTP %d, want 401 (blocked)", n.name, got)
				}
				// Only that address is blocked, not the user.
				if got := basic(n, "198.51.100.20", good); got != 200 {
					t.Errorf("right password from another address, on %s: HTTP %d, want 200", n.name, got)
				}
			}
			if !strings.Contains(a.out.String()+b.out.String(), "brute-force block") {
				t.Errorf("no node logged the block")
			}
		})
	}
}

func status(t *testing.T, cl *http.Client, req *http.Request) int {
	t.Helper()
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
