package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/auth"
	"github.com/uapid/uapid/internal/store/memstore"
)

func TestValidScope(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "mail": true, "openid email profile": true, "https://mail.google.com/": true,
		"a  b": false, " a": false, "a ": false, `a"b`: false, `a\b`: false, "a\tb": false, "é": false,
		strings.Repeat("a", 1025): false,
	} {
		if got := validScope(s); got != want {
			t.Errorf("validScope(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestPKCEForms(t *testing.T) {
	verifier := strings.Repeat("a-._~Z9", 7) // 49 characters
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	if !validChallenge(challenge) || !validVerifier(verifier) {
		t.Fatal("a good challenge or verifier is refused")
	}
	for _, c := range []string{"", challenge[:42], challenge + "A", strings.Repeat("+", 43), strings.Repeat("A", 44)} {
		if validChallenge(c) {
			t.Errorf("validChallenge(%q)", c)
		}
	}
	for _, v := range []string{"", strings.Repeat("a", 42), strings.Repeat("a", 129), strings.Repeat("a", 42) + "/", strings.Repeat("a", 42) + "="} {
		if validVerifier(v) {
			t.Errorf("validVerifier(%q)", v)
		}
	}
	p := &Provider{}
	for _, tc := range []struct {
		req  AuthorizeRequest
		code string
	}{
		{AuthorizeRequest{ResponseType: "code"}, ""},
		{AuthorizeRequest{ResponseType: "code", CodeChallenge: challenge, CodeChallengeMethod: "S256"}, ""},
		{AuthorizeRequest{ResponseType: "code", CodeChallenge: challenge}, ErrInvalidRequest},
		{AuthorizeRequest{ResponseType: "code", CodeChallenge: challenge, CodeChallengeMethod: "plain"}, ErrInvalidRequest},
		{AuthorizeRequest{ResponseType: "code", CodeChallengeMethod: "S256"}, ErrInvalidRequest},
		{AuthorizeRequest{ResponseType: "code id_token"}, ErrUnsupportedResponseType},
		{AuthorizeRequest{}, ErrInvalidRequest},
	} {
		err := p.CheckRequest(tc.req)
		if (err == nil) != (tc.code == "") || (err != nil && err.Code != tc.code) {
			t.Errorf("CheckRequest(%+v) = %v, want %q", tc.req, err, tc.code)
		}
	}
}

func TestRedirect(t *testing.T) {
	p := &Provider{Clients: []Client{{ID: "one", RedirectURIs: []string{"https://a.example/cb"}},
		{ID: "two", RedirectURIs: []string{"https://b.example/cb", "https://c.example/cb"}}}}
	for _, tc := range []struct {
		id, uri, want, code string
	}{
		{"one", "", "https://a.example/cb", ""},
		{"one", "https://a.example/cb", "https://a.example/cb", ""},
		{"one", "https://a.example/cb/", "", ErrInvalidRequest},
		{"one", "https://A.example/cb", "", ErrInvalidRequest},
		{"one", "https://b.example/cb", "", ErrInvalidRequest},
		{"two", "", "", ErrInvalidRequest},
		{"two", "https://c.example/cb", "https://c.example/cb", ""},
		{"three", "https://a.example/cb", "", ErrInvalidClient},
		{"", "https://a.example/cb", "", ErrInvalidRequest},
	} {
		got, err := p.Redirect(tc.id, tc.uri)
		if got != tc.want || (err == nil) != (tc.code == "") || (err != nil && (err.Code != tc.code || err.Status != http.StatusBadRequest)) {
			t.Errorf("Redirect(%q, %q) = %q, %v; want %q, %q", tc.id, tc.uri, got, err, tc.want, tc.code)
		}
	}
}

// TestClientAuthentication: the secret is compared to every client's in
// constant time; either reading of an HTTP Basic secret is accepted; every
// failure counts against the address, and a blocked address is refused
// without a look at the secret.
func TestClientAuthentication(t *testing.T) {
	lim := auth.NewLimiter(auth.LimitConfig{IPMax: 2}, memstore.NewAttempts())
	p := &Provider{Auth: &auth.Authenticator{Limiter: lim}, Clients: []Client{
		{ID: "rc", SecretHash: sha256.Sum256([]byte("sec+ret-0123456789"))},
		{ID: "other", SecretHash: sha256.Sum256([]byte("other-0123456789"))},
	}}
	good, bad := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	ctx := t.Context()
	ok := func(ca ClientAuth) {
		t.Helper()
		if c, err := p.authenticate(ctx, ca); err != nil || c.ID != ca.ID {
			t.Errorf("authenticate(%s) = %v, %v", ca.ID, c.ID, err)
		}
	}
	refused := func(ca ClientAuth) {
		t.Helper()
		var oe *Error
		if _, err := p.authenticate(ctx, ca); !errors.As(err, &oe) || oe.Code != ErrInvalidClient || oe.Status != http.StatusUnauthorized {
			t.Errorf("authenticate(%+v) = %v, want invalid_client", ca, err)
		}
	}
	ok(ClientAuth{ID: "rc", Secret: "sec+ret-0123456789", Remote: good})
	ok(ClientAuth{ID: "rc", Secret: "sec ret-0123456789", AltSecret: "sec+ret-0123456789", Remote: good})
	ok(ClientAuth{ID: "other", Secret: "other-0123456789", Remote: good})
	refused(ClientAuth{ID: "rc", Secret: "other-0123456789", Remote: bad})
	refused(ClientAuth{ID: "nobody", Secret: "sec+ret-0123456789", Remote: bad})
	refused(ClientAuth{ID: "", Secret: "", Remote: bad})
	refused(ClientAuth{ID: "rc", Secret: "", Remote: bad})
	// Over the limit: the right secret from there is refused too.
	refused(ClientAuth{ID: "rc", Secret: "sec+ret-0123456789", Remote: bad})
	ok(ClientAuth{ID: "rc", Secret: "sec+ret-0123456789", Remote: good})
}
