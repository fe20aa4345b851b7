package auth

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func TestValidTokenSecret(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want bool
	}{

		{"ROOTTOKEN0123456789ABCDEFGHIJKLM", true}, {strings.Repeat("0", 32), true},
		{"", false}, {"ROOTTOKEN0123456789ABCDEFGHIJKL", false}, {"ROOTTOKEN0123456789ABCDEFGHIJKLMN", false},
		{"roottoken0123456789abcdefghijklm", false}, {"ROOTTOKEN0123456789ABCDEFGHIJK-M", false},
	} {
		if got := ValidTokenSecret(c.in); got != c.want {
			t.Errorf("ValidTokenSecret(%q) = %v, want %v", c.in, got, c.want)
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
