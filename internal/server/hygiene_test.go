package server_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/testserver"
)

func TestBodyAndHeaderLimits(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	const fn = "/execute/Session/create_webmail_session_for_mail_user"
	// A 10 MB body announced by Content-Length is refused before it is read.
	body := strings.NewReader(strings.Repeat("a", 10<<20))
	req, _ := http.NewRequest("POST", srv.URL("cpaneld", fn), body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", aliceToken())
	r := srv.Do(nil, req)
	if r.StatusCode != http.StatusRequestEntityTooLarge || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("10 MB body: HTTP %d %s", r.StatusCode, r.Body)
	}
	// A chunked body (no length) is cut off at the limit: 413 too.
	pr, pw := io.Pipe()
	go func() {
		chunk := []byte("login=" + strings.Repeat("b", 64<<10))
		for range 40 {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ = http.NewRequest("POST", srv.URL("cpaneld", fn), pr)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", aliceToken())
	r = srv.Do(nil, req)
	if r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked 2.5 MB body: HTTP %d %s", r.StatusCode, r.Body)
	}
	// 1 MB of headers: 431.
	req, _ = http.NewRequest("GET", srv.URL("cpaneld", fn), nil)
	req.Header.Set("X-Big", strings.Repeat("h", 1<<20))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("1 MB headers: HTTP %d", resp.StatusCode)
	}
}

func TestSlowLorisHoldsOnlyItsShare(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Args: []string{"--max-conns-per-ip", "5", "--read-header-timeout", "1s"}})
	addr := srv.Addrs["cpaneld"]
	// The slow client opens its share of connections and sends nothing.
	var idle []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond) // let the server accept them
	// One more from the same address is closed at once.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || n > 0 {
		t.Fatal("a connection over the per-address cap was served")
	}
	c.Close()
	// Another client address (127.0.0.2 is loopback too) is served.
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	tr := &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{RootCAs: srv.RootCAs, ServerName: "localhost"}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", srv.URL("cpaneld", selfFn), nil)
	req.Header.Set("Authorization", aliceToken())
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("another client could not be served: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("another client: HTTP %d", resp.StatusCode)
	}
	// The idle connections are closed by the header timeout, freeing the
	// address's share.
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c)
	}
	if r := srv.Get("cpaneld", selfFn, aliceToken()); r.StatusCode != 200 {
		t.Fatalf("after the slow connections timed out: HTTP %d", r.StatusCode)
	}
}

func TestSecurityHeadersOnHTML(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Plain: true})
	for _, svc := range []string{"webmaild", "webmaild-plain"} {
		r := srv.Get(svc, "/login/", "")
		h := r.Header
		if r.StatusCode != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Fatalf("%s /login/: HTTP %d %s", svc, r.StatusCode, h.Get("Content-Type"))
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if h.Get(k) != want {
				t.Fatalf("%s: %s = %q, want %q", svc, k, h.Get(k), want)
			}
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("%s: CSP %q", svc, csp)
		}
		hsts := h.Get("Strict-Transport-Security")
		if (svc == "webmaild") != (hsts != "") {
			t.Fatalf("%s: HSTS %q (want it on TLS only)", svc, hsts)
		}
	}
}
