package session_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/session"
)

var (
	reToken     = regexp.MustCompile(`^/cpsess[0-9]{10}$`)
	reLogin     = regexp.MustCompile(`^(.+):[0-9A-Za-z_]{16}:([A-Za-z_]+),[0-9a-f]{32}$`)
	reCookie    = regexp.MustCompile(`^(.+):[0-9A-Za-z_]{16},[0-9a-f]{32}$`)
	reID        = regexp.MustCompile(`^[a-z2-7]{20}$`)
	reTempUser  = regexp.MustCompile(`^cpses_al[0-9a-z]{8}$`)
	reTempPass  = regexp.MustCompile(`^[0-9A-Za-z_]{32}$`)
	reSecretHex = regexp.MustCompile(`,[0-9a-f]{32}$`)
)

func TestNewToken(t *testing.T) {
	const n = 10000
	seen := make(map[string]bool, n)
	var digits [10]int
	for range n {
		tok := session.NewToken()
		if !reToken.MatchString(tok) || !session.ValidToken(tok) {
			t.Fatalf("bad token %q", tok)
		}
		if tok == "/cpsess0000000000" {
			t.Fatalf("all-zero token")
		}
		seen[tok] = true
		for _, c := range tok[len("/cpsess"):] {
			digits[c-'0']++
		}
	}
	if len(seen) < n-5 {
		t.Fatalf("only %d distinct tokens of %d", len(seen), n)
	}
	// Each digit should appear about 10,000 times; a broken generator
	// (say, one that never yields 9) shows up far outside these bounds.
	for d, c := range digits {
		if c < 9000 || c > 11000 {
			t.Errorf("digit %d appears %d times in 100,000 digits", d, c)
		}
	}
}

func TestValidToken(t *testing.T) {
	for tok, want := range map[string]bool{
		"/cpsess0123456789":  true,
		"/cpsess0000000000":  true, // well-formed, never issued
		"/cpsess012345678":   false,
		"/cpsess01234567890": false,
		"cpsess0123456789":   false,
		"/cpsess012345678a":  false,
		"/CPSESS0123456789":  false,
		"/cpsess-123456789":  false,
		"/cpsess０123456789":  false,
		"":                   false,
	} {
		if got := session.ValidToken(tok); got != want {
			t.Errorf("ValidToken(%q) = %v, want %v", tok, got, want)
		}
	}
}

func TestTokenFromPath(t *testing.T) {
	for _, tc := range []struct {
		path, token, rest string
		ok                bool
	}{
		{"/cpsess0123456789/login/", "/cpsess0123456789", "/login/", true},
		{"/cpsess0123456789/", "/cpsess0123456789", "/", true},
		{"/cpsess0123456789", "/cpsess0123456789", "", true},
		{"/cpsess0123456789/execute/Session/create_temp_user", "/cpsess0123456789", "/execute/Session/create_temp_user", true},
		{"/cpsess01234567890/login/", "", "", false},
		{"/cpsess012345678/login/", "", "", false},
		{"/cpsess0123456789x/login/", "", "", false},
		{"/login/", "", "", false},
		{"/execute/Session/x", "", "", false},
		{"//cpsess0123456789/", "", "", false},
		{"", "", "", false},
	} {
		token, rest, ok := session.TokenFromPath(tc.path)
		if token != tc.token || rest != tc.rest || ok != tc.ok {
			t.Errorf("TokenFromPath(%q) = %q, %q, %v; want %q, %q, %v",
				tc.path, token, rest, ok, tc.token, tc.rest, tc.ok)
		}
	}
}

func TestLoginSecret(t *testing.T) {
	for _, tc := range []struct{ user, tag string }{
		{"bob@example.com", session.TagMailUser},
		{"first.last+box@sub.example.co.uk", session.TagMailUser},
		{"alice", session.TagSelf},
		{"root", session.TagUserSession},
		{"jos\u00e9@b\u00fccher.example", session.TagMailUser},
	} {
		s := session.NewLoginSecret(tc.user, tc.tag)
		m := reLogin.FindStringSubmatch(s)
		if m == nil || m[1] != tc.user || m[2] != tc.tag {
			t.Fatalf("NewLoginSecret(%q, %q) = %q: wrong shape", tc.user, tc.tag, s)
		}
		user, tag, ok := session.ParseLoginSecret(s)
		if !ok || user != tc.user || tag != tc.tag {
			t.Errorf("ParseLoginSecret(%q) = %q, %q, %v", s, user, tag, ok)
		}
		if _, ok := session.ParseCookieSecret(s); ok {
			t.Errorf("ParseCookieSecret accepted the login secret %q", s)
		}
		if s2 := session.NewLoginSecret(tc.user, tc.tag); s2 == s {
			t.Errorf("two login secrets are equal")
		}
	}
}

func TestParseLoginSecretMalformed(t *testing.T) {
	const rnd, hex = "D7NiAZv1nf4bXeg9", "728fb86a7df1cf20690c65f349ac3137"
	good := "bob@example.com:" + rnd + ":" + session.TagMailUser + "," + hex
	if _, _, ok := session.ParseLoginSecret(good); !ok {
		t.Fatalf("reference %q does not parse", good)
	}
	for _, s := range []string{
		"",
		",",
		"::,",
		good[:len(good)-1],    // 31 hex
		good + "0",            // 33 hex
		strings.ToUpper(good), // upper-case hex
		strings.Replace(good, hex, "728fb86a7df1cf20690c65f349ac313g", 1),
		strings.Replace(good, ",", ";", 1),      // no comma
		strings.Replace(good, ":"+rnd, "", 1),   // no random part
		strings.Replace(good, rnd, rnd[:15], 1), // 15 random chars
		strings.Replace(good, rnd, rnd+"x", 1),  // 17 random chars
		strings.Replace(good, rnd, "D7NiAZv1nf4bXe-9", 1),
		strings.Replace(good, "bob@example.com", "", 1),       // empty user
		strings.Replace(good, "bob@example.com", "a:b", 1),    // colon in user
		strings.Replace(good, "bob@example.com", "a b", 1),    // space in user
		strings.Replace(good, "bob@example.com", "a,b", 1),    // comma in user
		strings.Replace(good, "bob@example.com", "a\x00b", 1), // NUL in user
		strings.Replace(good, "bob@example.com", "a\xffb", 1), // invalid UTF-8
		strings.Replace(good, "bob@example.com", strings.Repeat("a", 256), 1),
		strings.Replace(good, session.TagMailUser, "", 1),        // empty tag
		strings.Replace(good, session.TagMailUser, "BAD-TAG", 1), // '-' in tag
		"bob@example.com:" + rnd + "," + hex,                     // cookie shape
		"bob@example.com:" + rnd + ":" + session.TagMailUser + "," + hex + "\n",
		" bob@example.com:" + rnd + ":" + session.TagMailUser + "," + hex,
	} {
		if user, tag, ok := session.ParseLoginSecret(s); ok {
			t.Errorf("ParseLoginSecret(%q) accepted: %q, %q", s, user, tag)
		}
	}
}

func TestCookieSecret(t *testing.T) {
	for _, user := range []string{"alice", "bob@example.com", "root"} {
		s := session.NewCookieSecret(user)
		m := reCookie.FindStringSubmatch(s)
		if m == nil || m[1] != user {
			t.Fatalf("NewCookieSecret(%q) = %q: wrong shape", user, s)
		}
		got, ok := session.ParseCookieSecret(s)
		if !ok || got != user {
			t.Errorf("ParseCookieSecret(%q) = %q, %v", s, got, ok)
		}
		if _, _, ok := session.ParseLoginSecret(s); ok {
			t.Errorf("ParseLoginSecret accepted the cookie secret %q", s)
		}
	}
	const rnd, hex = "D7NiAZv1nf4bXeg9", "728fb86a7df1cf20690c65f349ac3137"
	for _, s := range []string{
		"", ",", ":," + hex, "alice:" + rnd, "alice," + hex, "alice:" + rnd + "," + hex[:31],
		"alice:" + rnd + "," + strings.ToUpper(hex), "a:b:" + rnd + "," + hex,
		"alice:" + rnd[:15] + "," + hex, "al ice:" + rnd + "," + hex,
	} {
		if user, ok := session.ParseCookieSecret(s); ok {
			t.Errorf("ParseCookieSecret(%q) accepted: %q", s, user)
		}
	}
}

func TestValidUserPart(t *testing.T) {
	for u, want := range map[string]bool{
		"alice": true, "bob@example.com": true, "root": true, "jos\u00e9@x.example": true,
		"": false, "a:b": false, "a,b": false, "a b": false, "a\tb": false, "a\x7fb": false,
		"a\u0085b": false, "a\u2028b": false, "\xff": false, strings.Repeat("x", 255): true,
		strings.Repeat("x", 256): false,
	} {
		if got := session.ValidUserPart(u); got != want {
			t.Errorf("ValidUserPart(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestHashSecret(t *testing.T) {
	a := session.HashSecret("bob@example.com:D7NiAZv1nf4bXeg9:CREATE_WEBMAIL_SESSION_FOR_MAIL_USER,728fb86a7df1cf20690c65f349ac3137")
	if len(a) != 32 {
		t.Fatalf("hash has %d bytes, want 32", len(a))
	}
	if !bytes.Equal(a, session.HashSecret("bob@example.com:D7NiAZv1nf4bXeg9:CREATE_WEBMAIL_SESSION_FOR_MAIL_USER,728fb86a7df1cf20690c65f349ac3137")) {
		t.Fatal("hash is not deterministic")
	}
	// SHA-256("abc"), FIPS 180-2 test vector.
	want := []byte{0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad}
	if got := session.HashSecret("abc"); !bytes.Equal(got, want) {
		t.Fatalf("HashSecret(abc) = %x", got)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := session.NewID()
		if !reID.MatchString(id) {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestNewTempUser(t *testing.T) {
	names := map[string]bool{}
	for range 1000 {
		name, pass := session.NewTempUser("alice")
		if !reTempUser.MatchString(name) || !reTempPass.MatchString(pass) {
			t.Fatalf("bad temp user %q / password %q", name, pass)
		}
		names[name] = true
	}
	if len(names) < 990 {
		t.Fatalf("only %d distinct temp user names of 1000", len(names))
	}
	if name, _ := session.NewTempUser("a"); !regexp.MustCompile(`^cpses_a[0-9a-z]{8}$`).MatchString(name) {
		t.Errorf("temp user for a one-letter account: %q", name)
	}
}

// FuzzParseLoginSecret checks that the parser never panics, that whatever
// it accepts has the documented shape, and that a string made by
// NewLoginSecret parses back to its user and tag.
func FuzzParseLoginSecret(f *testing.F) {
	f.Add("bob@example.com:D7NiAZv1nf4bXeg9:CREATE_WEBMAIL_SESSION_FOR_MAIL_USER,728fb86a7df1cf20690c65f349ac3137", "bob@example.com")
	f.Add("alice:abcdefghijklmnop:create_user_session,00000000000000000000000000000000", "alice")
	f.Add("a:b:c,d", "a:b")
	f.Add(":::,,,", "")
	f.Add("x:0123456789abcdef:T,"+strings.Repeat("f", 32), "jos\u00e9")
	f.Add("\xff:0123456789abcdef:T,"+strings.Repeat("0", 32), "a,b")
	f.Fuzz(func(t *testing.T, s, user string) {
		if u, tag, ok := session.ParseLoginSecret(s); ok {
			if !session.ValidUserPart(u) || tag == "" || !reSecretHex.MatchString(s) ||
				s[:len(u)] != u || !strings.Contains(s, ":"+tag+",") {
				t.Fatalf("ParseLoginSecret(%q) accepted %q, %q", s, u, tag)
			}
		}
		_, _ = session.ParseCookieSecret(s)
		_, _, _ = session.TokenFromPath(s)
		if !session.ValidUserPart(user) {
			return
		}
		for _, tag := range []string{session.TagMailUser, session.TagSelf, session.TagUserSession} {
			made := session.NewLoginSecret(user, tag)
			u, g, ok := session.ParseLoginSecret(made)
			if !ok || u != user || g != tag {
				t.Fatalf("NewLoginSecret(%q, %q) = %q parses as %q, %q, %v", user, tag, made, u, g, ok)
			}
			if cu, ok := session.ParseCookieSecret(session.NewCookieSecret(user)); !ok || cu != user {
				t.Fatalf("cookie secret of %q parses as %q, %v", user, cu, ok)
			}
		}
	})
}

func BenchmarkNewToken(b *testing.B) {
	for b.Loop() {
		session.NewToken()
	}
}

func BenchmarkNewLoginSecret(b *testing.B) {
	for b.Loop() {
		session.NewLoginSecret("bob@example.com", session.TagMailUser)
	}
}

func BenchmarkHashSecret(b *testing.B) {
	s := session.NewLoginSecret("bob@example.com", session.TagMailUser)
	for b.Loop() {
		session.HashSecret(s)
	}
}
