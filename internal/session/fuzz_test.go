package session_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/session"
)

// fuzzTokenRE is the shape of a security token (SPEC §1).
var fuzzTokenRE = regexp.MustCompile(`^/cpsess[0-9]{10}$`)

// fuzzCookieRE is the shape NewCookieSecret produces; the user part is
// checked separately with ValidUserPart.
var fuzzCookieRE = regexp.MustCompile(`^(.*):[0-9A-Za-z_]{16},[0-9a-f]{32}$`)

// refTokenFromPath is an independent statement of TokenFromPath's contract:
// the path starts with "/cpsess" and 10 ASCII digits, and the token is the
// whole path or is followed by '/'.
func refTokenFromPath(p string) (token, rest string, ok bool) {
	const n = len("/cpsess") + 10
	if len(p) < n || p[:len("/cpsess")] != "/cpsess" {
		return "", "", false
	}
	for _, c := range []byte(p[len("/cpsess"):n]) {
		if c < '0' || c > '9' {
			return "", "", false
		}
	}
	if len(p) > n && p[n] != '/' {
		return "", "", false
	}
	return p[:n], p[n:], true
}

// FuzzTokenFromPath: whatever the path, an accepted token is "/cpsess" and
// exactly 10 digits, token+rest is the path, rest is empty or starts with
// '/', a refusal returns empty strings, and the result agrees with an
// independent reference implementation.
func FuzzTokenFromPath(f *testing.F) {
	for _, s := range []string{
		"/cpsess0123456789/login/",
		"/cpsess0123456789",
		"/cpsess0123456789/",
		"/cpsess0123456789x",
		"/cpsess012345678/",
		"/cpsess01234567890/",
		"/cpsess٠١٢٣٤٥٦٧٨٩/",
		"/cpsess0000000000/execute/Session/create_temp_user",
		"/CPSESS0123456789/",
		"cpsess0123456789/",
		"/execute/Session/x",
		"",
		"/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		token, rest, ok := session.TokenFromPath(path)
		wt, wr, wok := refTokenFromPath(path)
		if ok != wok || token != wt || rest != wr {
			t.Fatalf("TokenFromPath(%q) = %q, %q, %v; want %q, %q, %v", path, token, rest, ok, wt, wr, wok)
		}
		if !ok {
			if token != "" || rest != "" {
				t.Fatalf("TokenFromPath(%q) refused but returned %q, %q", path, token, rest)
			}
			return
		}
		if !fuzzTokenRE.MatchString(token) || !session.ValidToken(token) {
			t.Fatalf("TokenFromPath(%q) accepted token %q", path, token)
		}
		if token+rest != path {
			t.Fatalf("TokenFromPath(%q): %q + %q is not the path", path, token, rest)
		}
		if rest != "" && rest[0] != '/' {
			t.Fatalf("TokenFromPath(%q): rest %q does not start with /", path, rest)
		}
		// The token alone is a path with an empty rest.
		if t2, r2, ok2 := session.TokenFromPath(token); !ok2 || t2 != token || r2 != "" {
			t.Fatalf("TokenFromPath(%q) = %q, %q, %v", token, t2, r2, ok2)
		}
	})
}

// FuzzParseCookieSecret: the parser never panics; it accepts exactly the
// strings of NewCookieSecret's shape whose user part is valid, returning
// that user; nothing parses both as a cookie and as a login secret; and a
// secret made by NewCookieSecret for any valid user parses back to it.
func FuzzParseCookieSecret(f *testing.F) {
	f.Add("bob@example.com:D7NiAZv1nf4bXeg9,728fb86a7df1cf20690c65f349ac3137", "bob@example.com")
	f.Add("alice:abcdefghijklmnop,00000000000000000000000000000000", "alice")
	f.Add("a:b:abcdefghijklmnop,00000000000000000000000000000000", "a:b")
	f.Add("x:abcdefghijklmno_,0123456789ABCDEF0123456789abcdef", "jos\u00e9")
	f.Add("bob@example.com:D7NiAZv1nf4bXeg9:CREATE_WEBMAIL_SESSION_FOR_MAIL_USER,728fb86a7df1cf20690c65f349ac3137", "a b")
	f.Add(":abcdefghijklmnop,00000000000000000000000000000000", "")
	f.Add("\xff:abcdefghijklmnop,00000000000000000000000000000000", "\xff")
	f.Add(strings.Repeat("u", 256)+":abcdefghijklmnop,00000000000000000000000000000000", strings.Repeat("u", 255))
	f.Fuzz(func(t *testing.T, s, user string) {
		u, ok := session.ParseCookieSecret(s)
		m := fuzzCookieRE.FindStringSubmatch(s)
		want := m != nil && session.ValidUserPart(m[1])
		if ok != want {
			t.Fatalf("ParseCookieSecret(%q) ok = %v, want %v", s, ok, want)
		}
		if ok {
			if u != m[1] || !strings.HasPrefix(s, u+":") {
				t.Fatalf("ParseCookieSecret(%q) user = %q, want %q", s, u, m[1])
			}
		} else if u != "" {
			t.Fatalf("ParseCookieSecret(%q) refused but returned user %q", s, u)
		}
		if _, _, lok := session.ParseLoginSecret(s); lok && ok {
			t.Fatalf("%q parses both as a cookie and as a login secret", s)
		}

		if !session.ValidUserPart(user) {
			return
		}
		c1, c2 := session.NewCookieSecret(user), session.NewCookieSecret(user)
		if c1 == c2 {
			t.Fatalf("NewCookieSecret(%q) repeated %q", user, c1)
		}
		for _, c := range []string{c1, c2} {
			if got, ok := session.ParseCookieSecret(c); !ok || got != user {
				t.Fatalf("NewCookieSecret(%q) = %q parses as %q, %v", user, c, got, ok)
			}
			if _, _, lok := session.ParseLoginSecret(c); lok {
				t.Fatalf("cookie secret %q parses as a login secret", c)
			}
		}
		// A login secret is never a cookie secret.
		for _, tag := range []string{session.TagMailUser, session.TagSelf, session.TagUserSession} {
			if _, ok := session.ParseCookieSecret(session.NewLoginSecret(user, tag)); ok {
				t.Fatalf("login secret for %q, %q parses as a cookie secret", user, tag)
			}
		}
	})
}
