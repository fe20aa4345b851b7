package bench

import (
	"crypto/rand"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/uapid/uapid/internal/passwd"
)

// cast is the generated fixture: accounts, each with a token, a password
// and some mailboxes. Passwords come from a small pool of distinct
// plain texts whose $6$ (default rounds) hashes are computed once, in
// parallel, and reused through password_hash: pre-computing one hash per
// account and mailbox would cost ~20 s on 2 cores and measure nothing.
type cast struct {
	accounts  []benchAccount
	mailboxes []benchMailbox
	// passwords[i] is the plain text of hashes[i].
	passwords, hashes []string
}

type benchAccount struct {
	user, domain, token string
	pw                  int // index into cast.passwords
}

type benchMailbox struct {
	login, domain string
	account       int // index into cast.accounts
	pw            int
}

// distinctHashes is how many different password hashes the fixture uses.
const distinctHashes = 8

// newCast makes nAccounts accounts and nMailboxes mailboxes spread evenly
// over them.
func newCast(nAccounts, nMailboxes int) (*cast, error) {
	if nAccounts < 1 || nMailboxes < 1 {
		return nil, fmt.Errorf("need at least one account and one mailbox")
	}
	c := &cast{}
	k := min(distinctHashes, nAccounts+nMailboxes)
	c.passwords = make([]string, k)
	c.hashes = make([]string, k)
	for i := range k {
		c.passwords[i] = fmt.Sprintf("Bench-pass-%d-%s", i, rand.Text()[:8])
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range k {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			h, err := passwd.Hash(c.passwords[i])
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			c.hashes[i] = h
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	for i := range nAccounts {
		user := fmt.Sprintf("bench%05d", i)
		c.accounts = append(c.accounts, benchAccount{
			user: user, domain: user + ".test", token: newTokenSecret(), pw: i % k,
		})
	}
	for j := range nMailboxes {
		ai := j % nAccounts
		c.mailboxes = append(c.mailboxes, benchMailbox{
			login: fmt.Sprintf("box%05d", j/nAccounts), domain: c.accounts[ai].domain, account: ai, pw: (j + 1) % k,
		})
	}
	return c, nil
}

// newTokenSecret returns a 32-character API token secret [0-9A-Z].
func newTokenSecret() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b [32]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)] // a slight bias is fine for a benchmark
	}
	return string(b[:])
}

// writeFixture writes the cast as a fixture file (SPEC §9).
func (c *cast) writeFixture(path string) error {
	var b strings.Builder
	b.WriteString("accounts:\n")
	byAccount := make([][]int, len(c.accounts))
	for j, m := range c.mailboxes {
		byAccount[m.account] = append(byAccount[m.account], j)
	}
	for i, a := range c.accounts {
		fmt.Fprintf(&b, "  - user: %s\n    password_hash: %q\n    domains: [%s]\n    locale: en\n",
			a.user, c.hashes[a.pw], a.domain)
		fmt.Fprintf(&b, "    tokens: [{name: bench, token: %q}]\n", a.token)
		if len(byAccount[i]) > 0 {
			b.WriteString("    mailboxes:\n")
			for _, j := range byAccount[i] {
				m := c.mailboxes[j]
				fmt.Fprintf(&b, "      - address: %s@%s\n        password_hash: %q\n", m.login, m.domain, c.hashes[m.pw])
			}
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
