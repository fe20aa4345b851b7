package cli_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/testserver"
)

// The tests of this file race `uapid serve` against the admin commands on
// one SQLite data directory: both create the same name at the same moment,
// round after round. Exactly one wins (the store's unique constraints
// decide, not a look before the write), the other reports that the name
// exists (the CLI with a non-zero exit and a line naming it), and what the
// winner created is intact.

const cliRaceRounds = 20

// raceServer starts a server on a new data directory holding
// testserver.Fixture. Loopback is exempt from brute-force protection: the
// tests try the loser's password on purpose.
func raceServer(t *testing.T) (string, *testserver.Server, *http.Client) {
	t.Helper()
	dir := importedDir(t)
	srv := testserver.Start(t, testserver.Options{DataDir: dir, Args: []string{"--bruteforce-allow", "127.0.0.0/8"}})
	return dir, srv, srv.Client()
}

// cliDelays returns by how much the server's request leaves after the
// admin command in successive rounds (negative: before it): from minus to
// plus the longer of the time an admin command takes and the time a
// server request takes, so that the two writes meet in some rounds
// whichever side is faster.
func cliDelays(t *testing.T, dir string, srv *testserver.Server) []time.Duration {
	t.Helper()
	start := time.Now()
	ok(t, dir, "", "account", "list")
	d := time.Since(start)
	start = time.Now()
	srv.Get("whostmgrd", "/json-api/version?api.version=1", rootBasic)
	d = max(d, time.Since(start))
	const steps = 4
	var ds []time.Duration
	for i := -steps; i <= steps; i++ {
		ds = append(ds, d*time.Duration(i)/steps)
	}
	return ds
}

// raceCLI runs the server's request and the admin command at the same
// moment, the server's request delay later (earlier when negative).
func raceCLI(delay time.Duration, server, command func()) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		<-start
		time.Sleep(delay)
		server()
	})
	wg.Go(func() {
		<-start
		time.Sleep(-delay)
		command()
	})
	close(start)
	wg.Wait()
}

// httpGet sends a GET with an Authorization header and returns the status
// and body (without failing the test: it runs in a goroutine).
func httpGet(cl *http.Client, u, authz string) (int, []byte, error) {
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", authz)
	resp, err := cl.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

type whmAnswer struct {
	Metadata struct {
		Result int    `json:"result"`
		Reason string `json:"reason"`
	} `json:"metadata"`
	Data json.RawMessage `json:"data"`
}

func whmGet(cl *http.Client, srv *testserver.Server, authz, fn string, q url.Values) (whmAnswer, int, []byte, error) {
	q.Set("api.version", "1")
	code, body, err := httpGet(cl, srv.URL("whostmgrd", "/json-api/"+fn+"?"+q.Encode()), authz)
	var a whmAnswer
	if err == nil {
		err = json.Unmarshal(body, &a)
	}
	return a, code, body, err
}

var rootBasic = testserver.Basic("root", testserver.RootPassword)

// TestServeAndCLICreateAccountRace: WHM createacct against `uapid account
// add` of the same user (different domains and passwords).
func TestServeAndCLICreateAccountRace(t *testing.T) {
	t.Parallel()
	dir, srv, cl := raceServer(t)
	delays := cliDelays(t, dir, srv)
	wins := map[string]int{}
	for round := range cliRaceRounds {
		user := fmt.Sprintf("race%02d%s", round, randSuffix())
		srvDomain, cliDomain := user+"-srv.test", user+"-cli.test"
		srvPass, cliPass := "Srv-pass-"+randSuffix(), "Cli-pass-"+randSuffix()
		var (
			ans            whmAnswer
			code           int
			body           []byte
			herr           error
			cr             result
			serverWon, cli bool
		)
		raceCLI(delays[round%len(delays)], func() {
			ans, code, body, herr = whmGet(cl, srv, rootBasic, "createacct",
				url.Values{"username": {user}, "domain": {srvDomain}, "password": {srvPass}})
		}, func() {
			cr = adm(t, dir, cliPass+"\n", "account", "add", user, "--domain", cliDomain, "--password-stdin")
		})
		if herr != nil || code != 200 {
			t.Fatalf("round %d: createacct: HTTP %d %v: %s", round, code, herr, body)
		}
		serverWon, cli = ans.Metadata.Result == 1, cr.code == 0
		if serverWon == cli {
			t.Fatalf("round %d: createacct answered %s and the CLI %s: want exactly one success", round, body, cr)
		}
		winDomain, winPass, loseDomain, losePass := srvDomain, srvPass, cliDomain, cliPass
		if serverWon {
			wins["server"]++
			line := oneLine(t, cr, 1)
			if !strings.Contains(line, "“"+user+"”") || !strings.Contains(line, "already exists") {
				t.Fatalf("round %d: the CLI lost with %q: want a line naming %s that says it already exists", round, line, user)
			}
		} else {
			wins["cli"]++
			winDomain, winPass, loseDomain, losePass = cliDomain, cliPass, srvDomain, srvPass
			if want := "The account “" + user + "” already exists."; ans.Metadata.Reason != want {
				t.Fatalf("round %d: the server lost with %s, want reason %q", round, body, want)
			}
		}
		// The winner's account is intact: its domain, its password; the
		// loser left nothing behind.
		var domains []string
		for _, r := range rows(ok(t, dir, "", "account", "list")) {
			if r[0] == user {
				domains = append(domains, r[5])
			}
		}
		if len(domains) != 1 || domains[0] != winDomain {
			t.Fatalf("round %d: account list shows %s with domains %q, want once with %s", round, user, domains, winDomain)
		}
		a, _, body, err := whmGet(cl, srv, rootBasic, "accountsummary", url.Values{"domain": {loseDomain}})
		if err != nil || a.Metadata.Result != 0 {
			t.Fatalf("round %d: the loser's domain %s exists: %s", round, loseDomain, body)
		}
		for pass, want := range map[string]int{winPass: 200, losePass: 401} {
			if got := srv.Get("cpaneld", "/execute/Email/list_pops", testserver.Basic(user, pass)).StatusCode; got != want {
				t.Fatalf("round %d: %s with the %s password: HTTP %d, want %d", round, user, map[bool]string{true: "winner's", false: "loser's"}[pass == winPass], got, want)
			}
		}
	}
	t.Logf("wins: %v", wins)
}

// TestServeAndCLIAddMailboxRace: UAPI Email::add_pop against `uapid
// mailbox add` of the same address (different passwords).
func TestServeAndCLIAddMailboxRace(t *testing.T) {
	t.Parallel()
	dir, srv, cl := raceServer(t)
	delays := cliDelays(t, dir, srv)
	alice := testserver.CPanelToken("alice", testserver.AliceToken)
	wins := map[string]int{}
	for round := range cliRaceRounds {
		local := fmt.Sprintf("race%02d%s", round, randSuffix())
		addr := local + "@alice.test"
		srvPass, cliPass := "Srv-mail-"+randSuffix(), "Cli-mail-"+randSuffix()
		var (
			code int
			body []byte
			herr error
			cr   result
		)
		raceCLI(delays[round%len(delays)], func() {
			q := url.Values{"email": {local}, "domain": {"alice.test"}, "password": {srvPass}}
			code, body, herr = httpGet(cl, srv.URL("cpaneld", "/execute/Email/add_pop?"+q.Encode()), alice)
		}, func() {
			cr = adm(t, dir, cliPass+"\n", "mailbox", "add", addr, "--password-stdin")
		})
		var res struct {
			Status int      `json:"status"`
			Errors []string `json:"errors"`
		}
		if herr != nil || code != 200 || json.Unmarshal(body, &res) != nil {
			t.Fatalf("round %d: add_pop: HTTP %d %v: %s", round, code, herr, body)
		}
		serverWon := res.Status == 1
		if serverWon == (cr.code == 0) {
			t.Fatalf("round %d: add_pop answered %s and the CLI %s: want exactly one success", round, body, cr)
		}
		winPass, losePass := srvPass, cliPass
		if serverWon {
			wins["server"]++
			line := oneLine(t, cr, 1)
			if !strings.Contains(line, addr) || !strings.Contains(line, "already exists") {
				t.Fatalf("round %d: the CLI lost with %q: want a line naming %s that says it already exists", round, line, addr)
			}
		} else {
			wins["cli"]++
			winPass, losePass = cliPass, srvPass
			if len(res.Errors) != 1 || res.Errors[0] != "The account "+addr+" already exists!" {
				t.Fatalf("round %d: the server lost with %s", round, body)
			}
		}
		n := 0
		for _, r := range rows(ok(t, dir, "", "mailbox", "list", "--account", "alice")) {
			if r[0] == addr {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d: mailbox list shows %s %d times", round, addr, n)
		}
		for pass, want := range map[string]int{winPass: 200, losePass: 401} {
			r := srv.PostForm(srv.Client(), "webmaild", "/login/?login_only=1", "", url.Values{"user": {addr}, "pass": {pass}})
			if r.StatusCode != want {
				t.Fatalf("round %d: Webmail login of %s with the %s password: HTTP %d, want %d: %s", round, addr,
					map[bool]string{true: "winner's", false: "loser's"}[pass == winPass], r.StatusCode, want, r.Body)
			}
		}
	}
	t.Logf("wins: %v", wins)
}

// TestServeAndCLITokenCreateRace: WHM api_token_create against `uapid
// token create root NAME`.
func TestServeAndCLITokenCreateRace(t *testing.T) {
	t.Parallel()
	dir, srv, cl := raceServer(t)
	delays := cliDelays(t, dir, srv)
	wins := map[string]int{}
	for round := range cliRaceRounds {
		name := fmt.Sprintf("race%02d-%s", round, randSuffix())
		var (
			ans  whmAnswer
			code int
			body []byte
			herr error
			cr   result
		)
		raceCLI(delays[round%len(delays)], func() {
			ans, code, body, herr = whmGet(cl, srv, rootBasic, "api_token_create", url.Values{"token_name": {name}})
		}, func() {
			cr = adm(t, dir, "", "token", "create", "root", name)
		})
		if herr != nil || code != 200 {
			t.Fatalf("round %d: api_token_create: HTTP %d %v: %s", round, code, herr, body)
		}
		serverWon := ans.Metadata.Result == 1
		if serverWon == (cr.code == 0) {
			t.Fatalf("round %d: api_token_create answered %s and the CLI %s: want exactly one success", round, body, cr)
		}
		var secret string
		if serverWon {
			wins["server"]++
			var d struct{ Token, Name string }
			if err := json.Unmarshal(ans.Data, &d); err != nil || !tokenSecret.MatchString(d.Token) || d.Name != name {
				t.Fatalf("round %d: api_token_create data: %s", round, body)
			}
			secret = d.Token
			line := oneLine(t, cr, 1)
			if !strings.Contains(line, "“"+name+"”") || !strings.Contains(line, "already has a token") {
				t.Fatalf("round %d: the CLI lost with %q: want a line naming %s that says it exists", round, line, name)
			}
		} else {
			wins["cli"]++
			secrets := tokenSecret.FindAllString(cr.stdout, -1)
			if len(secrets) != 1 {
				t.Fatalf("round %d: the CLI won but printed %d secrets: %s", round, len(secrets), cr)
			}
			secret = secrets[0]
			if want := "An API token with the name “" + name + "” already exists."; ans.Metadata.Reason != want || string(ans.Data) != "" && string(ans.Data) != "null" {
				t.Fatalf("round %d: the server lost with %s, want reason %q and no data", round, body, want)
			}
		}
		// One token of that name, and it is the winner's.
		n := 0
		for _, r := range rows(ok(t, dir, "", "token", "list", "root")) {
			if r[0] == name {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d: token list root shows %s %d times", round, name, n)
		}
		if a, code, body, err := whmGet(cl, srv, testserver.WHMToken("root", secret), "version", url.Values{}); err != nil || code != 200 || a.Metadata.Result != 1 {
			t.Fatalf("round %d: the winner's token does not authenticate: HTTP %d %v: %s", round, code, err, body)
		}
	}
	t.Logf("wins: %v", wins)
}

// randSuffix returns 8 random lower-case letters and digits.
func randSuffix() string { return strings.ToLower(rand.Text()[:8]) }
