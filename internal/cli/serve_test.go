package cli_test

import (
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/cli"
)

// baseServe are the serve flags every test starts from: a fresh data
// directory and random loopback ports, so that nothing collides.
func baseServe(t *testing.T) []string {
	return []string{"--data", t.TempDir(), "--hostname", "localhost",
		"--cpanel-addr", "127.0.0.1:0", "--webmail-addr", "127.0.0.1:0", "--whm-addr", "127.0.0.1:0"}
}

func TestServeBadConfiguration(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	pem := writeFile(t, "cert.pem", "-----BEGIN CERTIFICATE-----\nnot base64 !\n-----END CERTIFICATE-----\n")
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		code  int
		want  []string // substrings of the one stderr line
		never []string
	}{
		{name: "port too large", args: []string{"--cpanel-addr", ":99999"}, code: 1, want: []string{"flag --cpanel-addr", ":99999"}},
		{name: "port not a number", args: []string{"--webmail-addr", "abc"}, code: 1, want: []string{"flag --webmail-addr", "abc"}},
		{name: "port letters", args: []string{"--whm-addr", "1.2.3.4:x"}, code: 1, want: []string{"flag --whm-addr", "1.2.3.4:x"}},
		{name: "host not an address", args: []string{"--cpanel-plain-addr", "example.com:2082"}, code: 1, want: []string{"flag --cpanel-plain-addr", "host"}},
		{name: "bad hostname", args: []string{"--hostname", "a b"}, code: 1, want: []string{"flag --hostname"}},
		{name: "bad duration", args: []string{"--login-ttl", "soon"}, code: 1, want: []string{"flag --login-ttl", "soon"}},
		{name: "bad duration from env", env: map[string]string{"UAPID_IDLE_TIMEOUT": "forever"}, code: 1, want: []string{"environment variable UAPID_IDLE_TIMEOUT", "forever"}},
		{name: "negative duration", args: []string{"--idle-timeout", "-1s"}, code: 1, want: []string{"flag --idle-timeout", "positive"}},
		{name: "zero duration", args: []string{"--max-age", "0"}, code: 1, want: []string{"flag --max-age", "positive"}},
		{name: "idle longer than max-age", args: []string{"--idle-timeout", "2h", "--max-age", "1h"}, code: 1, want: []string{"--idle-timeout", "--max-age"}},
		{name: "bad ip-validation", args: []string{"--ip-validation", "sometimes"}, code: 1, want: []string{"flag --ip-validation", "sometimes"}},
		{name: "bad trusted proxy", args: []string{"--trusted-proxies", "10.0.0.0/99"}, code: 1, want: []string{"flag --trusted-proxies", "10.0.0.0/99"}},
		{name: "unknown config key", args: []string{"--config", writeFile(t, "u1.yaml", "datadir: /x\n")}, code: 1, want: []string{"u1.yaml", "datadir"}},
		{name: "config not YAML", args: []string{"--config", writeFile(t, "u2.yaml", "data: [\n")}, code: 1, want: []string{"u2.yaml", "flag --config"}},
		{name: "config plain text", args: []string{"--config", writeFile(t, "u3.yaml", "hello world\n")}, code: 1, want: []string{"u3.yaml", "flag --config"}},
		{name: "config from env unreadable", env: map[string]string{"UAPID_CONFIG": filepath.Join(missing, "u.yaml")}, code: 1, want: []string{"UAPID_CONFIG", "u.yaml"}},
		{name: "bad value in config file", args: []string{"--config", writeFile(t, "u4.yaml", "max-body: lots\n")}, code: 1, want: []string{"config file", "u4.yaml", "max-body", "lots"}},
		{name: "tls-cert without tls-key", args: []string{"--tls-cert", pem}, code: 1, want: []string{"--tls-cert", "--tls-key"}},
		{name: "unreadable tls-cert", args: []string{"--tls-cert", filepath.Join(missing, "c.pem"), "--tls-key", pem}, code: 1, want: []string{"flag --tls-cert", "c.pem"}},
		{name: "unreadable fixture", args: []string{"--fixture", filepath.Join(missing, "f.yaml")}, code: 1, want: []string{"flag --fixture", "f.yaml"}},
		{name: "unknown store", args: []string{"--store", "mysql://uapid:Sekr1t@db.example/uapid"}, code: 1, want: []string{"flag --store", "mysql://"}, never: []string{"Sekr1t"}},
		{name: "postgres store not available", args: []string{"--store", "postgres://uapid:Sekr1t@127.0.0.1:1/uapid"}, code: 1, want: []string{"postgres"}, never: []string{"Sekr1t"}},
		{name: "unknown session store", args: []string{"--session-store", "memcached://127.0.0.1:11211"}, code: 1, want: []string{"flag --session-store", "memcached://"}},
		{name: "redis session store not available", args: []string{"--session-store", "redis://:Sekr1t@127.0.0.1:1/0"}, code: 1, want: []string{"session-store"}, never: []string{"Sekr1t"}},
		{name: "bad log level", args: []string{"--log-level", "loud"}, code: 1, want: []string{"flag --log-level", "loud"}},
		{name: "bad webmail-redirect", args: []string{"--webmail-redirect", "mail.example/roundcube"}, code: 1, want: []string{"flag --webmail-redirect"}},
		{name: "duplicate addresses", args: []string{"--cpanel-addr", "127.0.0.1:8443", "--whm-plain-addr", "127.0.0.1:8443"}, code: 1, want: []string{"--cpanel-addr", "--whm-plain-addr", "127.0.0.1:8443"}},
		{name: "bad max-body", args: []string{"--max-body", "12"}, code: 1, want: []string{"flag --max-body", "12"}},
		{name: "bad dev value", args: []string{"--dev=sure"}, code: 1, want: []string{"flag --dev", "sure"}},
		{name: "unknown flag", args: []string{"--nonesuch", "1"}, code: 2, want: []string{"nonesuch"}},
		{name: "single-dash unknown flag", args: []string{"-x"}, code: 2, want: []string{"-x"}},
		{name: "positional argument", args: []string{"extra"}, code: 2, want: []string{"extra"}},
		{name: "missing flag value", args: []string{"--data"}, code: 2, want: []string{"data"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := serveResult(t, tc.env, append(baseServe(t), tc.args...)...)
			line := oneLine(t, r, tc.code)
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("stderr %q does not mention %q", line, w)
				}
			}
			for _, n := range tc.never {
				if strings.Contains(line, n) {
					t.Errorf("stderr %q reveals %q", line, n)
				}
			}
		})
	}
}

func TestServeBadCertificate(t *testing.T) {
	cert := writeFile(t, "cert.pem", "this is not PEM\n")
	key := writeFile(t, "key.pem", "neither is this\n")
	r := serveResult(t, nil, append(baseServe(t), "--tls-cert", cert, "--tls-key", key)...)
	line := oneLine(t, r, 1)
	if !strings.Contains(line, cert) {
		t.Errorf("stderr %q does not name the certificate file", line)
	}
}

func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	r := serveResult(t, nil, append(baseServe(t), "--webmail-addr", addr)...)
	line := oneLine(t, r, 1)
	if !strings.Contains(line, addr) {
		t.Errorf("stderr %q does not name %s", line, addr)
	}
	if !strings.Contains(line, "in use") {
		t.Errorf("stderr %q does not say the address is in use", line)
	}
}

func TestServeBadFixture(t *testing.T) {
	tests := []struct {
		name, fixture string
		line          int
	}{
		{"YAML syntax", "accounts:\n  - user: alice\n    domains: [alice.test\n", 0},
		{"tab indentation", "accounts:\n\t- user: alice\n", 2},
		{"bad user name", "accounts:\n  - user: alice\n    password: x\n    domains: [alice.test]\n  - user: Bad_Name\n    password: y\n    domains: [b.test]\n", 5},
		{"unknown key", "root:\n  password: x\nacounts: []\n", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := writeFile(t, "fixture.yaml", tc.fixture)
			r := serveResult(t, nil, append(baseServe(t), "--fixture", fx)...)
			line := oneLine(t, r, 1)
			re := regexp.MustCompile(`^uapid: ` + regexp.QuoteMeta(fx) + `:(\d+): \S`)
			m := re.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("stderr %q is not \"uapid: %s:LINE: reason\"", line, fx)
			}
			if tc.line != 0 && m[1] != strconv.Itoa(tc.line) {
				t.Errorf("line %s, want %d: %q", m[1], tc.line, line)
			}
		})
	}
}

// TestServeFixtureConflict loads a fixture that the directory refuses (a
// domain that belongs to another account): the error is still file:line.
func TestServeFixtureConflict(t *testing.T) {
	dir := importedDir(t)
	fx := writeFile(t, "fixture.yaml", "accounts:\n  - user: mallory\n    password: x\n    domains: [alice.test]\n")
	args := baseServe(t)
	args[1] = dir
	r := serveResult(t, nil, append(args, "--fixture", fx)...)
	line := oneLine(t, r, 1)
	re := regexp.MustCompile(`^uapid: ` + regexp.QuoteMeta(fx) + `:2: \S`)
	if !re.MatchString(line) {
		t.Errorf("stderr %q is not \"uapid: %s:2: reason\"", line, fx)
	}
	if strings.Count(line, fx) != 1 {
		t.Errorf("stderr %q names the file more than once", line)
	}
}

func TestServeHelp(t *testing.T) {
	r := run(t, cli.Main, "", nil, "serve", "--help")
	if r.code != 0 {
		t.Errorf("serve --help: %s", r)
	}
	if !strings.Contains(r.stdout+r.stderr, "--cpanel-addr") {
		t.Errorf("serve --help does not list the options: %s", r)
	}
}

var listenLine = regexp.MustCompile(`^listening service=(cpaneld|webmaild|whostmgrd|metrics) tls=(true|false) addr=127\.0\.0\.1:(\d+)$`)

// TestServeStartStop starts the server, checks the listening lines and stops
// it as SIGTERM would: exit 0.
func TestServeStartStop(t *testing.T) {
	var out, errb syncBuilder
	ready, stop := make(chan struct{}), make(chan struct{})
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" }, Ready: ready, Stop: stop}
	args := append([]string{"serve"}, baseServe(t)...)
	args = append(args, "--webmail-plain-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0")
	done := make(chan int, 1)
	go func() { done <- cli.Main(args, env) }()
	select {
	case <-ready:
	case code := <-done:
		t.Fatalf("serve exited with %d: %s", code, errb.String())
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{"cpaneld true", "webmaild true", "whostmgrd true", "webmaild false", "metrics false"}
	if len(lines) != len(want) {
		t.Fatalf("stdout has %d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, l := range lines {
		m := listenLine.FindStringSubmatch(l)
		if m == nil || m[1]+" "+m[2] != want[i] || m[3] == "0" {
			t.Errorf("line %d = %q, want service/tls %q with a real port", i+1, l, want[i])
		}
	}
	close(stop)
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited with %d after stop: %s", code, errb.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop")
	}
}
