package directory

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func TestValidators(t *testing.T) {
	t.Parallel()
	type check struct {
		in   string
		want bool
	}
	for _, tc := range []struct {
		name  string
		fn    func(string) bool
		cases []check
	}{
		{"ValidUser", ValidUser, []check{
			{"alice", true}, {"a", true}, {"a123456789012345", true}, {"bob2", true},
			{"", false}, {"root", false}, {"Alice", false}, {"1alice", false}, {"a1234567890123456", false},
			{"al_ice", false}, {"al-ice", false}, {"alice ", false}, {"élise", false},
		}},
		{"ValidDomain", ValidDomain, []check{
			{"alice.test", true}, {"shop.alice.test", true}, {"a.b", true}, {"xn--bcher-kva.example", true},
			{"my-site.example.com", true}, {"1.example", true}, {strings.Repeat("a", 63) + ".test", true},
			{"", false}, {"localhost", false}, {"Alice.test", false}, {"alice.test.", false}, {".alice.test", false},
			{"alice..test", false}, {"-alice.test", false}, {"alice-.test", false}, {"al_ice.test", false},
			{"192.0.2.1", false}, {strings.Repeat("a", 64) + ".test", false}, {"alice.test/x", false},
			{strings.Repeat("abcdefghi.", 26) + "com", false}, {"*.alice.test", false},
		}},
		{"ValidLocalPart", ValidLocalPart, []check{
			{"info", true}, {"first.last", true}, {"a+tag", true}, {"x_y-z", true}, {"1", true},
			{"", false}, {".info", false}, {"info.", false}, {"a..b", false}, {"Info", false}, {"a b", false},
			{"a@b", false}, {strings.Repeat("a", 65), false}, {"ü", false},
		}},
		{"ValidAddress", ValidAddress, []check{
			{"info@alice.test", true}, {"a.b@shop.alice.test", true},
			{"info", false}, {"@alice.test", false}, {"info@", false}, {"info@localhost", false}, {"a@b@alice.test", false},
			{"INFO@alice.test", false},
		}},
		{"ValidLocale", ValidLocale, []check{
			{"en", true}, {"es_419", true}, {"pt_br", true}, {"zh_tw", true}, {"fil", true},
			{"", false}, {"EN", false}, {"e", false}, {"en-US", false}, {"en_", false}, {"../etc", false},
		}},
		{"ValidTokenName", ValidTokenName, []check{
			{"ci", true}, {"Billing_2", true}, {"a-b", true}, {strings.Repeat("x", 50), true},
			{"", false}, {"a b", false}, {"a.b", false}, {strings.Repeat("x", 51), false}, {"ü", false},
		}},
		{"ValidTokenSecret", ValidTokenSecret, []check{
			{"ROOTTOKEN0123456789ABCDEFGHIJKLM", true}, {strings.Repeat("0", 32), true},
			{"", false}, {"ROOTTOKEN0123456789ABCDEFGHIJKL", false}, {"ROOTTOKEN0123456789ABCDEFGHIJKLMN", false},
			{"roottoken0123456789abcdefghijklm", false}, {"ROOTTOKEN0123456789ABCDEFGHIJK-M", false},
		}},
		{"ValidPasswordHash", ValidPasswordHash, []check{
			{"", true}, {"$6$salt$hash", true}, {"!$6$salt$hash", true}, {"*", true},
			{"$6$a b$c", false}, {"$6$a\n", false}, {"a:b", false}, {strings.Repeat("x", 1025), false}, {"é", false},
		}},
	} {
		for _, c := range tc.cases {
			if got := tc.fn(c.in); got != c.want {
				t.Errorf("%s(%q) = %v, want %v", tc.name, c.in, got, c.want)
			}
		}
	}
}

func TestValidDatabaseName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		user, db string
		want     bool
	}{
		{"alice", "alice_wp", true},
		{"alice", "alice_2", true},
		{"alice", "alice_", false},
		{"alice", "alicewp", false},
		{"alice", "bob_wp", false},
		{"alice", "alice_WP", false},
		{"alice", "alice_w-p", false},
		{"alice", "alice_" + strings.Repeat("x", 58), true},
		{"alice", "alice_" + strings.Repeat("x", 59), false},
	} {
		if got := ValidDatabaseName(c.user, c.db); got != c.want {
			t.Errorf("ValidDatabaseName(%q, %q) = %v, want %v", c.user, c.db, got, c.want)
		}
	}
}

func TestTokenSecret(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 200 {
		s := NewTokenSecret()
		if !ValidTokenSecret(s) {
			t.Fatalf("NewTokenSecret() = %q is not valid", s)
		}
		if seen[s] {
			t.Fatalf("NewTokenSecret repeated %q", s)
		}
		seen[s] = true
		for _, r := range s {
			counts[r]++
		}
	}
	if len(counts) != 36 {
		t.Errorf("200 secrets used %d distinct characters, want all 36", len(counts))
	}
	h := HashToken("ROOTTOKEN0123456789ABCDEFGHIJKLM")
	if len(h) != 32 || !bytes.Equal(h, HashToken("ROOTTOKEN0123456789ABCDEFGHIJKLM")) {
		t.Fatalf("HashToken is not a stable SHA-256: %x", h)
	}
	// sha256("abc")
	if got := hex.EncodeToString(HashToken("abc")); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashToken(abc) = %s", got)
	}
}

func TestSplitAddress(t *testing.T) {
	t.Parallel()
	l, d, ok := SplitAddress("a@b@c.test")
	if !ok || l != "a@b" || d != "c.test" {
		t.Errorf("SplitAddress = %q %q %v", l, d, ok)
	}
	if _, _, ok := SplitAddress("nope"); ok {
		t.Error("SplitAddress(nope) ok")
	}
}
