package tempdb

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// trickyStrings are round-tripped through the real servers by the
// integration tests.
var trickyStrings = []string{
	"plain",
	"it's",
	"''",
	`back\slash`,
	`\`,
	`\'`,
	`'\`,
	"back`tick",
	"``",
	`"double"`,
	`a\_b%c`,
	"new\nline\r\ttab\x1a",
	"ünï€ødé 名前 🙂",
	"; DROP USER root; --",
	"' OR '1'='1",
}

func TestMySQLQuoteIdent(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"abc", "`abc`", nil},
		{"a`b", "`a``b`", nil},
		{"``", "``````", nil},
		{`a\b`, "`a\\b`", nil},
		{`alice\_%`, "`alice\\_%`", nil},
		{"a'b\"c", "`a'b\"c`", nil},
		{"ünï 名", "`ünï 名`", nil},
		{"", "", errQuoteEmpty},
		{"a\x00b", "", errQuoteNUL},
		{"\x00", "", errQuoteNUL},
		{"a\xffb", "", errQuoteUTF8},
	} {
		got, err := mysqlQuoteIdent(tc.in)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("mysqlQuoteIdent(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestMySQLQuoteString(t *testing.T) {
	for _, tc := range []struct {
		in          string
		want, wantN string // backslash escapes on / NO_BACKSLASH_ESCAPES
		err         error
	}{
		{"abc", "'abc'", "'abc'", nil},
		{"", "''", "''", nil},
		{"it's", "'it''s'", "'it''s'", nil},
		{`a\b`, `'a\\b'`, `'a\b'`, nil},
		{`\'`, `'\\'''`, `'\'''`, nil},
		{`'\`, `'''\\'`, `'''\'`, nil},
		{`\\`, `'\\\\'`, `'\\'`, nil},
		{"a`b", "'a`b'", "'a`b'", nil},
		{`"x"`, `'"x"'`, `'"x"'`, nil},
		{"l1\nl2", "'l1\nl2'", "'l1\nl2'", nil},
		{"ünï 名", "'ünï 名'", "'ünï 名'", nil},
		{"a\x00b", "", "", errQuoteNUL},
		{"\xc3", "", "", errQuoteUTF8},
	} {
		got, err := mysqlQuoteString(tc.in, false)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("mysqlQuoteString(%q, false) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
		got, err = mysqlQuoteString(tc.in, true)
		if !errors.Is(err, tc.err) || got != tc.wantN {
			t.Errorf("mysqlQuoteString(%q, true) = %q, %v; want %q, %v", tc.in, got, err, tc.wantN, tc.err)
		}
	}
}

func TestMySQLAccountPattern(t *testing.T) {
	for in, want := range map[string]string{
		"alice":  `alice\_%`,
		"a_b":    `a\_b\_%`,
		"a%b":    `a\%b\_%`,
		`a\b`:    `a\\b\_%`,
		"t12345": `t12345\_%`,
	} {
		if got := mysqlAccountPattern(in); got != want {
			t.Errorf("mysqlAccountPattern(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckMySQLAccount(t *testing.T) {
	for _, a := range []string{"performance", "information"} {
		if err := checkMySQLAccount(a); !errors.Is(err, ErrUnsafeAccount) {
			t.Errorf("checkMySQLAccount(%q) = %v, want ErrUnsafeAccount", a, err)
		}
	}
	for _, a := range []string{"alice", "mysql", "sys", "perf", "informationx"} {
		if err := checkMySQLAccount(a); err != nil {
			t.Errorf("checkMySQLAccount(%q) = %v", a, err)
		}
	}
}

func TestPgQuoteIdent(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"abc", `"abc"`, nil},
		{"Alice", `"Alice"`, nil},
		{`a"b`, `"a""b"`, nil},
		{`""`, `""""""`, nil},
		{`a\b`, `"a\b"`, nil},
		{"a'b`c", "\"a'b`c\"", nil},
		{"ünï 名", `"ünï 名"`, nil},
		{long63, `"` + long63 + `"`, nil},
		{long63 + "a", "", errQuoteLong},
		{"", "", errQuoteEmpty},
		{"a\x00b", "", errQuoteNUL},
		{"\xff", "", errQuoteUTF8},
	} {
		got, err := pgQuoteIdent(tc.in)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("pgQuoteIdent(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestPgQuoteLiteral(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"abc", "'abc'", nil},
		{"", "''", nil},
		{"it's", "'it''s'", nil},
		{`a\b`, `E'a\\b'`, nil},
		{`\'`, `E'\\'''`, nil},
		{`it's \`, `E'it''s \\'`, nil},
		{`"x"`, `'"x"'`, nil},
		{"ünï 名", "'ünï 名'", nil},
		{"SCRAM-SHA-256$4096:c2FsdA==$a/b+c=:d=", "'SCRAM-SHA-256$4096:c2FsdA==$a/b+c=:d='", nil},
		{"a\x00b", "", errQuoteNUL},
		{"\xe2\x82", "", errQuoteUTF8},
	} {
		got, err := pgQuoteLiteral(tc.in)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("pgQuoteLiteral(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestMySQLNativeHash(t *testing.T) {
	// MariaDB: SELECT PASSWORD('password')
	if got, want := mysqlNativeHash("password"), "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"; got != want {
		t.Errorf("mysqlNativeHash = %s, want %s", got, want)
	}
}

// TestScramVerifier checks the verifier against the RFC 7677 example
// exchange (user "user", password "pencil"): the client proof must verify
// against StoredKey and the server signature must come from ServerKey.
func TestScramVerifier(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v, err := scramVerifier("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	var iter int
	var saltB64, keys string
	rest, ok := strings.CutPrefix(v, "SCRAM-SHA-256$")
	if !ok {
		t.Fatalf("verifier %q lacks the SCRAM-SHA-256$ prefix", v)
	}
	parts := strings.SplitN(rest, "$", 2)
	if len(parts) != 2 {
		t.Fatalf("verifier %q malformed", v)
	}
	if _, err := fmt.Sscanf(parts[0], "%d:", &iter); err != nil || iter != 4096 {
		t.Fatalf("iterations in %q: %d, %v", v, iter, err)
	}
	saltB64 = strings.SplitN(parts[0], ":", 2)[1]
	keys = parts[1]
	if saltB64 != "W22ZaJ0SNY7soEsUEjb6gQ==" {
		t.Errorf("salt %q", saltB64)
	}
	k := strings.SplitN(keys, ":", 2)
	storedKey, _ := base64.StdEncoding.DecodeString(k[0])
	serverKey, _ := base64.StdEncoding.DecodeString(k[1])

	authMessage := "n=user,r=rOprNGfwEbeRWgbNEkqO," +
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	mac := func(key []byte) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(authMessage))
		return h.Sum(nil)
	}
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	sig := mac(storedKey)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	if sum := sha256.Sum256(clientKey); !hmac.Equal(sum[:], storedKey) {
		t.Errorf("RFC 7677 client proof does not verify against StoredKey")
	}
	if got := base64.StdEncoding.EncodeToString(mac(serverKey)); got != "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Errorf("server signature %s, want RFC 7677's", got)
	}
}

func TestFingerprint(t *testing.T) {
	fp := Fingerprint("cpses_al12345678")
	if len(fp) != 12 || strings.Trim(fp, "0123456789abcdef") != "" {
		t.Fatalf("Fingerprint = %q, want 12 hex characters", fp)
	}
	if fp != Fingerprint("cpses_al12345678") || fp == Fingerprint("cpses_al12345679") {
		t.Fatal("Fingerprint is not a deterministic function of the name")
	}
}

func TestValidateUser(t *testing.T) {
	ok := User{Name: "cpses_al12345678", Password: strings.Repeat("aB3_", 8), Account: "alice", SessionID: "abc"}
	if err := validateUser(ok); err != nil {
		t.Fatalf("valid user refused: %v", err)
	}
	for what, mut := range map[string]func(*User){
		"empty name":        func(u *User) { u.Name = "" },
		"long name":         func(u *User) { u.Name = strings.Repeat("a", 33) },
		"quote in name":     func(u *User) { u.Name = "cpses_a'b" },
		"backtick in name":  func(u *User) { u.Name = "cpses_a`b" },
		"NUL in name":       func(u *User) { u.Name = "cpses\x00" },
		"empty password":    func(u *User) { u.Password = "" },
		"NUL in password":   func(u *User) { u.Password = "abc\x00def" },
		"newline password":  func(u *User) { u.Password = "abc\ndef" },
		"unicode password":  func(u *User) { u.Password = "pässwort" },
		"long password":     func(u *User) { u.Password = strings.Repeat("a", 129) },
		"root account":      func(u *User) { u.Account = "root" },
		"upper account":     func(u *User) { u.Account = "Alice" },
		"underscore acct":   func(u *User) { u.Account = "al_ice" },
		"quote account":     func(u *User) { u.Account = `al"ice` },
		"empty account":     func(u *User) { u.Account = "" },
		"empty session":     func(u *User) { u.SessionID = "" },
		"NUL in session id": func(u *User) { u.SessionID = "a\x00" },
	} {
		u := ok
		mut(&u)
		err := validateUser(u)
		if !errors.Is(err, ErrInvalidUser) {
			t.Errorf("%s: validateUser = %v, want ErrInvalidUser", what, err)
			continue
		}
		assertNoSecrets(t, what+" error", err.Error(), User{Password: u.Password})
	}
	// Quotes and backslashes are fine in a password: it is always quoted
	// (or hashed) before it reaches SQL.
	u := ok
	u.Password = `it's a \` + "`pw`"
	if err := validateUser(u); err != nil {
		t.Errorf("printable ASCII password refused: %v", err)
	}
}

func TestSanitize(t *testing.T) {
	const name, pw, hash = "cpses_al12345678", "S3cretPassw0rd_S3cretPassw0rd_xx", "*ABCDEF"
	fp := Fingerprint(name)
	for _, tc := range []struct {
		err      error
		want     string
		wantNot  []string
		canceled bool
	}{
		{
			err:  &mysql.MySQLError{Number: 1396, SQLState: [5]byte{'H', 'Y', '0', '0', '0'}, Message: "Operation CREATE USER failed for '" + name + "'@'localhost'"},
			want: "mysql: create user " + fp + ": error 1396 (HY000): Operation CREATE USER failed for 'user " + fp + "'@'localhost'",
		},
		{
			err:     &mysql.MySQLError{Number: 1064, SQLState: [5]byte{'4', '2', '0', '0', '0'}, Message: "You have an error in your SQL syntax near '" + pw[:10] + "'"},
			want:    "mysql: create user " + fp + ": error 1064 (42000)",
			wantNot: []string{pw[:10]},
		},
		{
			err:  &mysql.MySQLError{Number: 1045, Message: "something with " + pw + " and " + hash},
			want: "mysql: create user " + fp + ": error 1045 (\x00\x00\x00\x00\x00): something with [redacted] and [redacted]",
		},
		{
			err:  &pgconn.PgError{Code: "42710", Message: `role "` + name + `" already exists`, Detail: "pw " + pw},
			want: "mysql: create user " + fp + `: SQLSTATE 42710: role "user ` + fp + `" already exists (pw [redacted])`,
		},
		{
			err:     &pgconn.PgError{Code: "42601", Message: `syntax error at or near "` + pw + `"`},
			want:    "mysql: create user " + fp + ": SQLSTATE 42601",
			wantNot: []string{pw},
		},
		{
			err:      fmt.Errorf("dial: %w", context.Canceled),
			want:     "mysql: create user " + fp + ": dial: context canceled",
			canceled: true,
		},
		{
			err:  errors.New("driver said " + name + "/" + pw),
			want: "mysql: create user " + fp + ": driver said user " + fp + "/[redacted]",
		},
	} {
		got := sanitize("mysql: create user", name, tc.err, pw, hash)
		if got.Error() != tc.want {
			t.Errorf("sanitize(%v)\n got %q\nwant %q", tc.err, got.Error(), tc.want)
		}
		assertNoSecrets(t, "sanitized error", got.Error(), User{Name: name, Password: pw})
		for _, s := range tc.wantNot {
			if strings.Contains(got.Error(), s) {
				t.Errorf("sanitized error %q contains %q", got, s)
			}
		}
		if errors.Is(got, context.Canceled) != tc.canceled {
			t.Errorf("sanitize(%v): errors.Is(Canceled) = %v", tc.err, !tc.canceled)
		}
		var me *mysql.MySQLError
		var pe *pgconn.PgError
		if errors.As(got, &me) || errors.As(got, &pe) {
			t.Errorf("sanitized error unwraps to the driver error")
		}
	}
	if sanitize("x", name, nil) != nil {
		t.Error("sanitize(nil) != nil")
	}
}
