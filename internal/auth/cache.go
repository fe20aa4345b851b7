package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// CredCache remembers, for a short time, that a password verified against a
// stored hash, so that repeated Basic-auth requests do not pay for a crypt(3)
// verification each time. An entry is keyed by an HMAC (with a key made at
// start and never stored) of the service, the user, the stored hash and the
// password: the cache holds no password, and an entry stops matching the
// moment the stored hash changes. Suspension and removal are checked against
// the directory on every request, before the cache is consulted.
//
// A nil *CredCache is valid and remembers nothing.
type CredCache struct {
	key [32]byte
	ttl time.Duration
	max int

	mu      sync.Mutex
	entries map[[32]byte]time.Time
}

// NewCredCache returns a cache holding at most max entries for ttl each.
func NewCredCache(ttl time.Duration, max int) *CredCache {
	c := &CredCache{ttl: ttl, max: max, entries: make(map[[32]byte]time.Time)}
	if _, err := rand.Read(c.key[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return c
}

func (c *CredCache) sum(service, user, hash, password string) [32]byte {
	m := hmac.New(sha256.New, c.key[:])
	for _, s := range []string{service, user, hash, password} {
		var n [4]byte
		l := len(s)
		n[0], n[1], n[2], n[3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
		m.Write(n[:])
		m.Write([]byte(s))
	}
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

// Check reports whether this exact password was verified against this exact
// hash recently.
func (c *CredCache) Check(service, user, hash, password string) bool {
	if c == nil {
		return false
	}
	k := c.sum(service, user, hash, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.entries[k]
	if !ok {
		return false
	}
	if time.Now().After(exp) {
		delete(c.entries, k)
		return false
	}
	return true
}

// Remember records a successful verification.
func (c *CredCache) Remember(service, user, hash, password string) {
	if c == nil {
		return
	}
	k := c.sum(service, user, hash, password)
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for key, exp := range c.entries {
			if now.After(exp) || len(c.entries) >= c.max {
				delete(c.entries, key)
			}
		}
	}
	c.entries[k] = now.Add(c.ttl)
}
