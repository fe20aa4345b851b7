// Package storetest is the conformance suite of package store: every
// backend (sqlstore on SQLite and PostgreSQL, redisstore, the in-memory
// session store) runs the same tests, so that the guarantees written on
// store.Directory, store.Packages, store.Sessions, store.Ledger,
// store.Attempts, store.OAuth and store.Tickets, and the rules of store's
// Normalize functions, are proved once and hold for every backend.
//
// A backend's test calls Run with a Backend: New returns handles on a
// fresh, empty store (it is called once per test, from parallel tests too,
// and arranges its own cleanup); Pair, when the backend can have several
// clients on one store (two *sql.DB, two Redis clients), returns two
// independent handles on one fresh store, as two processes or nodes see
// it. Handles whose field is nil skip that part of the suite.
//
// Times: sessions are kept at millisecond precision (see store.Session);
// the suite feeds them with nanoseconds and expects exactly the truncated
// value back. The contract states no precision for the directory's times
// (CreatedAt, SuspendedAt, a token's ExpiresAt) and the attempt counters';
// the suite gives those whole seconds and compares instants (time.Equal).
//
// The suite's fixtures lie in 2031, after today, so that a backend that
// lets its keys expire on the server's clock keeps them while it runs.
package storetest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/uapid/uapid/internal/store"
)

// Handles are one handle on a store; nil fields are not tested.
type Handles struct {
	Dir      store.Directory
	Sessions store.Sessions
	Ledger   store.Ledger
	Attempts store.Attempts
	// Packages is on the same store as Dir.
	Packages store.Packages
	// OAuth is on the same store as the sessions.
	OAuth store.OAuth
	// Tickets are the sign-on tickets (kept with the sessions).
	Tickets store.Tickets
}

// Backend describes a backend under test.
type Backend struct {
	// New returns handles on a fresh, empty store, arranging its own
	// cleanup (t.Cleanup).
	New func(t testing.TB) Handles
	// Pair returns two independent handles (two *sql.DB, two Redis
	// clients: as two processes or nodes) on one fresh, empty store; nil
	// when the backend has no such thing.
	Pair func(t testing.TB) (a, b Handles)
}

// Racers is how many goroutines the concurrency tests start at once, and
// how many rounds the two-handle creation races run.
const Racers = 50

type namedTest struct {
	name string
	fn   func(t *testing.T)
}

// Run runs every test that applies to the handles New returns (a backend
// without a Dir has no directory tests, etc.: they are not run, rather
// than reported as skipped), and, when Pair is set, the two-handle tests.
func Run(t *testing.T, b Backend) {
	if b.New == nil {
		t.Fatal("storetest: Backend.New is nil")
	}
	s := suite{b: b}
	// One store tells which parts the backend has.
	probe := b.New(t)
	group := func(name string, has bool, tests []namedTest) {
		if !has {
			return
		}
		t.Run(name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, tc.fn)
			}
		})
	}
	group("Directory", probe.Dir != nil, append(s.directoryTests(), s.limitTests()...))
	group("Packages", probe.Dir != nil && probe.Packages != nil, s.packageTests())
	group("Sessions", probe.Sessions != nil, s.sessionTests())
	group("Ledger", probe.Ledger != nil, s.ledgerTests())
	group("Attempts", probe.Attempts != nil, s.attemptTests())
	group("OAuth", probe.OAuth != nil, s.oauthTests())
	group("Tickets", probe.Tickets != nil, s.ticketTests())

	if b.Pair == nil {
		return
	}
	t.Run("Shared", func(t *testing.T) {
		pa, pb := b.Pair(t)
		both := func(x, y any) bool { return x != nil && y != nil }
		shared := func(name string, has bool, tests []namedTest) {
			if !has {
				return
			}
			t.Run(name, func(t *testing.T) {
				for _, tc := range tests {
					t.Run(tc.name, tc.fn)
				}
			})
		}
		shared("Directory", both(pa.Dir, pb.Dir), s.sharedDirectoryTests())
		shared("Sessions", both(pa.Sessions, pb.Sessions), s.sharedSessionTests())
		shared("Ledger", both(pa.Ledger, pb.Ledger), s.sharedLedgerTests())
		shared("Attempts", both(pa.Attempts, pb.Attempts), s.sharedAttemptTests())
		shared("OAuth", both(pa.OAuth, pb.OAuth), s.sharedOAuthTests())
		shared("Tickets", both(pa.Tickets, pb.Tickets), s.sharedTicketTests())
	})
}

type suite struct {
	b Backend
}

func (s suite) dir(t testing.TB) store.Directory {
	t.Helper()
	d := s.b.New(t).Dir
	if d == nil {
		t.Fatal("Backend.New returned no Directory this time")
	}
	return d
}

func (s suite) sessions(t testing.TB) store.Sessions {
	t.Helper()
	x := s.b.New(t).Sessions
	if x == nil {
		t.Fatal("Backend.New returned no Sessions this time")
	}
	return x
}

func (s suite) ledger(t testing.TB) store.Ledger {
	t.Helper()
	x := s.b.New(t).Ledger
	if x == nil {
		t.Fatal("Backend.New returned no Ledger this time")
	}
	return x
}

func (s suite) attempts(t testing.TB) store.Attempts {
	t.Helper()
	x := s.b.New(t).Attempts
	if x == nil {
		t.Fatal("Backend.New returned no Attempts this time")
	}
	return x
}

func (s suite) pair(t testing.TB) (a, b Handles) {
	t.Helper()
	return s.b.Pair(t)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// race2 runs fa and fb at once (both wait on one start barrier) and
// returns their errors.
func race2(fa, fb func() error) (ea, eb error) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { <-start; ea = fa() })
	wg.Go(func() { <-start; eb = fb() })
	close(start)
	wg.Wait()
	return ea, eb
}

// oneWins checks that of two racing creations exactly one succeeded and the
// other failed with ErrExists; it reports whether the first one won and
// whether the round was as it should be.
func oneWins(t testing.TB, what string, ea, eb error) (aWon, ok bool) {
	t.Helper()
	switch {
	case ea == nil && errors.Is(eb, store.ErrExists):
		return true, true
	case eb == nil && errors.Is(ea, store.ErrExists):
		return false, true
	}
	t.Errorf("%s: errors %v and %v; want exactly one success and one ErrExists", what, ea, eb)
	return false, false
}

// tokenHash is the SHA-256 of a token secret: auth.HashToken, the form in
// which uapid's own tokens are stored.
func tokenHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// tokenHash512 is the SHA-512 of a token secret, the form of tokens carried
// over from cPanel.
func tokenHash512(secret string) []byte {
	h := sha512.Sum512([]byte(secret))
	return h[:]
}

const (
	tokenChars  = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	base32Lower = "abcdefghijklmnopqrstuvwxyz234567"
	digits      = "0123456789"
	alnumLower  = "0123456789abcdefghijklmnopqrstuvwxyz"
	alnumUnder  = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
)

// randText returns n characters of alphabet (at most 256 of them) drawn
// uniformly from crypto/rand.
func randText(alphabet string, n int) string {
	limit := 256 - 256%len(alphabet)
	var b strings.Builder
	b.Grow(n)
	buf := make([]byte, 2*n+16)
	for b.Len() < n {
		rand.Read(buf)
		for _, c := range buf {
			if int(c) < limit && b.Len() < n {
				b.WriteByte(alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return b.String()
}

// newTokenSecret returns a secret of the form auth.NewTokenSecret gives.
func newTokenSecret() string { return randText(tokenChars, 32) }

// newTokenHash returns the SHA-256 of a fresh token secret.
func newTokenHash() []byte { return tokenHash(newTokenSecret()) }
