package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
)

// TokenSecretLength is the length of an API token secret.
const TokenSecretLength = 32

const tokenChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// NewTokenSecret returns a new API token secret: 32 characters [0-9A-Z]
// from crypto/rand (about 165 bits). It panics only if the system's random
// source fails.
func NewTokenSecret() string {
	b := make([]byte, TokenSecretLength)
	var buf [1]byte
	for i := 0; i < len(b); {
		if _, err := rand.Read(buf[:]); err != nil {
			panic(fmt.Sprintf("auth: crypto/rand: %v", err))
		}
		// 252 = 7*36: rejecting larger bytes keeps the choice uniform.
		if buf[0] < 252 {
			b[i] = tokenChars[buf[0]%36]
			i++
		}
	}
	return string(b)
}

// ValidTokenSecret reports whether s has the form of an API token secret:
// exactly 32 characters [0-9A-Z].
func ValidTokenSecret(s string) bool {
	if len(s) != TokenSecretLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// HashToken returns the SHA-256 of an API token secret, the form in which
// the tokens uapid issues are stored and looked up.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// hashTokenCPanel returns the SHA-512 of an API token secret: the form in
// which cPanel keeps its tokens, and so the stored hash of tokens carried
// over from cPanel with their digests.
func hashTokenCPanel(secret string) []byte {
	h := sha512.Sum512([]byte(secret))
	return h[:]
}
