package store

import (
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
