package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/uapid/uapid/internal/store"
)

func (s suite) sharedDirectoryTests() []namedTest {
	return []namedTest{
		{"TwoProcesses", s.testTwoProcesses},
		{"ConcurrentWriters", s.testConcurrentWriters},
		{"RaceCreateAccount", s.testRaceCreateAccount},
		{"RaceCreateDomain", s.testRaceCreateDomain},
		{"RaceCreateMailbox", s.testRaceCreateMailbox},
		{"RaceCreateToken", s.testRaceCreateToken},
		{"RaceCreateTokenSameSecret", s.testRaceCreateTokenSameSecret},
	}
}

func (s suite) dirPair(t testing.TB) (a, b store.Directory) {
	t.Helper()
	ha, hb := s.pair(t)
	if ha.Dir == nil || hb.Dir == nil {
		t.Fatal("Backend.Pair returned no Directory this time")
	}
	return ha.Dir, hb.Dir
}

// checkGenMoved checks that both handles see the generation moved by want
// since g0.
func checkGenMoved(t testing.TB, what string, a, b store.Directory, g0 int64, want int) {
	t.Helper()
	ga, gb := gen(t, a), gen(t, b)
	if ga != gb {
		t.Errorf("%s: handles disagree on the generation: %d vs %d", what, ga, gb)
	}
	if ga != g0+int64(want) {
		t.Errorf("%s: generation %d -> %d, want +%d (one per change)", what, g0, ga, want)
	}
}

// testTwoProcesses simulates the CLI and a running server: two handles on
// one store see each other's changes, and the generation that the server
// watches moves with every change made by the other.
func (s suite) testTwoProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	server, cli := s.dirPair(t)

	g := gen(t, server)
	update := func(user string, fn func(a *store.Account)) func() error {
		return func() error {
			_, err := cli.UpdateAccount(ctx, user, func(a *store.Account) error { fn(a); return nil })
			return err
		}
	}
	steps := []struct {
		name string
		do   func() error
		see  func() bool
	}{
		{"account add", func() error {
			return cli.CreateAccount(ctx, store.Account{User: "alice", PasswordHash: hashA, Domains: []string{"alice.test"}})
		}, func() bool { a, err := server.GetAccount(ctx, "alice"); return err == nil && a.PasswordHash == hashA }},
		{"account passwd", update("alice", func(a *store.Account) { a.PasswordHash = hashB }),
			func() bool { a, _ := server.GetAccount(ctx, "alice"); return a.PasswordHash == hashB }},
		{"account suspend", update("alice", func(a *store.Account) { a.Suspended, a.SuspendReason = true, "abuse" }),
			func() bool { a, _ := server.GetAccount(ctx, "alice"); return a.Suspended && a.SuspendReason == "abuse" }},
		{"account plan", update("alice", func(a *store.Account) { a.Plan = "Gold" }),
			func() bool { a, _ := server.GetAccount(ctx, "alice"); return a.Plan == "Gold" }},
		{"account domain", update("alice", func(a *store.Account) { a.Domains = append(a.Domains, "shop.alice.test") }),
			func() bool { o, err := server.DomainOwner(ctx, "shop.alice.test"); return err == nil && o == "alice" }},
		{"mailbox add", func() error {
			return cli.CreateMailbox(ctx, store.Mailbox{Address: "info@alice.test", Account: "alice", PasswordHash: hashA})
		}, func() bool { _, err := server.GetMailbox(ctx, "info@alice.test"); return err == nil }},
		{"mailbox suspend", func() error {
			_, err := cli.UpdateMailbox(ctx, "info@alice.test", func(m *store.Mailbox) error { m.SuspendedLogin = true; return nil })
			return err
		}, func() bool { m, _ := server.GetMailbox(ctx, "info@alice.test"); return m.SuspendedLogin }},
		{"token create", func() error {
			return cli.CreateToken(ctx, store.Token{User: "alice", Name: "ci", Hash: tokenHash(aliceSecret)})
		}, func() bool {
			_, err := server.TokenByHash(ctx, "alice", tokenHash(aliceSecret))
			return err == nil
		}},
		{"token revoke", func() error { return cli.RevokeToken(ctx, "alice", "ci") }, func() bool {
			_, err := server.TokenByHash(ctx, "alice", tokenHash(aliceSecret))
			return errors.Is(err, store.ErrNotFound)
		}},
		{"root passwd", func() error { return cli.SetRootPasswordHash(ctx, hashA) },
			func() bool { h, _ := server.RootPasswordHash(ctx); return h == hashA }},
		{"mailbox remove", func() error { return cli.RemoveMailbox(ctx, "info@alice.test") }, func() bool {
			_, err := server.GetMailbox(ctx, "info@alice.test")
			return errors.Is(err, store.ErrNotFound)
		}},
		{"account put", func() error {
			return cli.PutAccount(ctx, store.Account{User: "alice", PasswordHash: hashA, Domains: []string{"alice.test"}})
		}, func() bool { a, _ := server.GetAccount(ctx, "alice"); return a.PasswordHash == hashA && !a.Suspended }},
		{"account remove", func() error { return cli.RemoveAccount(ctx, "alice") }, func() bool {
			_, err := server.GetAccount(ctx, "alice")
			return errors.Is(err, store.ErrNotFound)
		}},
	}
	for _, s := range steps {
		must(t, s.do())
		if !s.see() {
			t.Errorf("%s: the other handle does not see the change", s.name)
		}
		ng := gen(t, server)
		if ng <= g {
			t.Errorf("%s: generation seen by the server did not move (%d -> %d)", s.name, g, ng)
		}
		if cg := gen(t, cli); cg != ng {
			t.Errorf("%s: handles disagree on the generation: %d vs %d", s.name, cg, ng)
		}
		g = ng
	}
}

// testConcurrentWriters hammers one store from two handles at once; every
// call must succeed (waiting for locks, retrying conflicts: no error, no
// lost update) and every change counts once in the generation.
func (s suite) testConcurrentWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := s.dirPair(t)
	must(t, a.CreateAccount(ctx, store.Account{User: "alice", Domains: []string{"alice.test"}}))
	g0 := gen(t, a)

	const workers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*4)
	for w := range workers {
		d := a
		if w%2 == 1 {
			d = b
		}
		wg.Go(func() {
			for i := range each {
				addr := fmt.Sprintf("w%di%d@alice.test", w, i)
				if err := d.CreateMailbox(ctx, store.Mailbox{Address: addr, Account: "alice", PasswordHash: hashA}); err != nil {
					errs <- err
				}
				if err := d.CreateToken(ctx, store.Token{User: "alice", Name: fmt.Sprintf("w%di%d", w, i), Hash: newTokenHash()}); err != nil {
					errs <- err
				}
				// Read-modify-write through UpdateAccount: none may be lost.
				db := fmt.Sprintf("alice_w%di%d", w, i)
				if _, err := d.UpdateAccount(ctx, "alice", func(a *store.Account) error {
					a.Databases = append(a.Databases, db)
					return nil
				}); err != nil {
					errs <- err
				}
				if _, err := d.Generation(ctx); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mb, err := b.ListMailboxes(ctx, "alice")
	must(t, err)
	toks, err := a.ListTokens(ctx, "alice")
	must(t, err)
	if len(mb) != workers*each || len(toks) != workers*each {
		t.Errorf("%d mailboxes and %d tokens, want %d each", len(mb), len(toks), workers*each)
	}
	dbs := getAccount(t, b, "alice").Databases
	if len(dbs) != workers*each {
		t.Errorf("alice has %d databases, want %d (updates were lost)", len(dbs), workers*each)
	}
	checkGenMoved(t, "concurrent writers", a, b, g0, 3*workers*each)
}

// raceRounds runs Racers rounds of round; each round's two creations start
// at once on the two handles.
func raceRounds(t *testing.T, round func(i int)) {
	for i := range Racers {
		round(i)
		if t.Failed() {
			t.Fatalf("stopping after round %d", i)
		}
	}
}

// testRaceCreateAccount: two handles create the same user at once (with
// different data, and the second in upper case): one succeeds, the other
// gets ErrExists, and the stored account is the winner's, as both handles
// see it.
func (s suite) testRaceCreateAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := s.dirPair(t)
	must(t, a.CreateAccount(ctx, store.Account{User: "res", Domains: []string{"res.test"}, Reseller: true}))
	g0 := gen(t, a)
	raceRounds(t, func(i int) {
		user := fmt.Sprintf("race%d", i)
		accA := store.Account{User: user, PasswordHash: hashA, Domains: []string{fmt.Sprintf("a%d.test", i)}, Plan: "A"}
		accB := store.Account{User: strings.ToUpper(user), PasswordHash: hashB, Domains: []string{fmt.Sprintf("b%d.test", i), fmt.Sprintf("www.b%d.test", i)},
			Owner: "res", Plan: "B"}
		ea, eb := race2(func() error { return a.CreateAccount(ctx, accA) }, func() error { return b.CreateAccount(ctx, accB) })
		aWon, ok := oneWins(t, fmt.Sprintf("round %d: CreateAccount(%s)", i, user), ea, eb)
		if !ok {
			return
		}
		win, lose := accA, accB
		if !aWon {
			win, lose = accB, accA
		}
		want, err := store.NormalizeAccount(win)
		must(t, err)
		for hn, d := range map[string]store.Directory{"a": a, "b": b} {
			got, err := d.GetAccount(ctx, user)
			if err != nil {
				t.Errorf("round %d: GetAccount(%s) on %s: %v", i, user, hn, err)
				continue
			}
			if !store.SameAccount(got, want) {
				t.Errorf("round %d: handle %s sees\n%+v, want the winner's\n%+v", i, hn, got, want)
			}
			for _, dom := range win.Domains {
				if o, err := d.DomainOwner(ctx, dom); err != nil || o != user {
					t.Errorf("round %d: handle %s: winner's domain %s owned by %q (%v)", i, hn, dom, o, err)
				}
			}
			for _, dom := range lose.Domains {
				if o, err := d.DomainOwner(ctx, dom); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("round %d: handle %s: loser's domain %s owned by %q (%v)", i, hn, dom, o, err)
				}
			}
		}
	})
	checkGenMoved(t, "account races", a, b, g0, Racers)
	if l := listAccounts(t, b); len(l) != Racers+1 {
		t.Errorf("%d accounts after the races, want %d", len(l), Racers+1)
	}
}

// testRaceCreateDomain: two handles create two different accounts claiming
// one domain at once: one account is created with the domain, the other
// gets ErrExists and is not created at all.
func (s suite) testRaceCreateDomain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := s.dirPair(t)
	g0 := gen(t, a)
	raceRounds(t, func(i int) {
		dom := fmt.Sprintf("d%d.test", i)
		accA := store.Account{User: fmt.Sprintf("da%d", i), PasswordHash: hashA, Domains: []string{dom, fmt.Sprintf("only-a%d.test", i)}}
		accB := store.Account{User: fmt.Sprintf("db%d", i), PasswordHash: hashB, Domains: []string{fmt.Sprintf("only-b%d.test", i), strings.ToUpper(dom)}}
		ea, eb := race2(func() error { return a.CreateAccount(ctx, accA) }, func() error { return b.CreateAccount(ctx, accB) })
		aWon, ok := oneWins(t, fmt.Sprintf("round %d: two accounts claiming %s", i, dom), ea, eb)
		if !ok {
			return
		}
		win, lose := accA, accB
		if !aWon {
			win, lose = accB, accA
		}
		want, err := store.NormalizeAccount(win)
		must(t, err)
		for hn, d := range map[string]store.Directory{"a": a, "b": b} {
			if o, err := d.DomainOwner(ctx, dom); err != nil || o != win.User {
				t.Errorf("round %d: handle %s: %s owned by %q (%v), want the winner %s", i, hn, dom, o, err, win.User)
			}
			if got, err := d.GetAccount(ctx, win.User); err != nil || !store.SameAccount(got, want) {
				t.Errorf("round %d: handle %s: winner %+v (%v), want %+v", i, hn, got, err, want)
			}
			if _, err := d.GetAccount(ctx, lose.User); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("round %d: handle %s: the loser %s exists (%v)", i, hn, lose.User, err)
			}
			for _, ld := range lose.Domains {
				if strings.EqualFold(ld, dom) {
					continue
				}
				if o, err := d.DomainOwner(ctx, ld); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("round %d: handle %s: the loser's %s owned by %q (%v)", i, hn, ld, o, err)
				}
			}
		}
	})
	checkGenMoved(t, "domain races", a, b, g0, Racers)
	if l := listAccounts(t, a); len(l) != Racers {
		t.Errorf("%d accounts after the races, want %d", len(l), Racers)
	}
}

// testRaceCreateMailbox: two handles create the same address at once: one
// mailbox, the winner's password hash.
func (s suite) testRaceCreateMailbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := s.dirPair(t)
	must(t, a.CreateAccount(ctx, store.Account{User: "alice", Domains: []string{"alice.test"}}))
	g0 := gen(t, a)
	raceRounds(t, func(i int) {
		addr := fmt.Sprintf("m%d@alice.test", i)
		mA := store.Mailbox{Address: addr, Account: "alice", PasswordHash: hashA}
		mB := store.Mailbox{Address: strings.ToUpper(addr), PasswordHash: hashB, SuspendedLogin: true}
		ea, eb := race2(func() error { return a.CreateMailbox(ctx, mA) }, func() error { return b.CreateMailbox(ctx, mB) })
		aWon, ok := oneWins(t, fmt.Sprintf("round %d: CreateMailbox(%s)", i, addr), ea, eb)
		if !ok {
			return
		}
		win := mB
		if aWon {
			win = mA
		}
		for hn, d := range map[string]store.Directory{"a": a, "b": b} {
			m, err := d.GetMailbox(ctx, addr)
			if err != nil || m.Address != addr || m.Account != "alice" || m.PasswordHash != win.PasswordHash || m.SuspendedLogin != win.SuspendedLogin {
				t.Errorf("round %d: handle %s sees %+v (%v), want the winner's %+v", i, hn, m, err, win)
			}
		}
	})
	checkGenMoved(t, "mailbox races", a, b, g0, Racers)
	if l, err := b.ListMailboxes(ctx, "alice"); err != nil || len(l) != Racers {
		t.Errorf("%d mailboxes after the races (%v), want %d", len(l), err, Racers)
	}
}

// testRaceCreateToken: two handles create a token of the same user and
// name at once: one token, with the winner's hash.
func (s suite) testRaceCreateToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := s.dirPair(t)
	must(t, a.CreateAccount(ctx, store.Account{User: "alice", Domains: []string{"alice.test"}}))
	g0 := gen(t, a)
	raceRounds(t, func(i int) {
		user := "alice"
		if i%5 == 4 {
			user = "root"
		}
		name := fmt.Sprintf("t%d", i)
		tA := store.Token{User: user, Name: name, Hash: newTokenHash()}
		tB := store.Token{User: strings.ToUpper(user), Name: name, Hash: tokenHash512(newTokenSecret()), ExpiresAt: dirT0}
		ea, eb := race2(func() error { return a.CreateToken(ctx, tA) }, func() error { return b.CreateToken(ctx, tB) })
		aWon, ok := oneWins(t, fmt.Sprintf("round %d: CreateToken(%s/%s)", i, user, name), ea, eb)
		if !ok {
			return
		}
		win, lose := tA, tB
		if !aWon {
			win, lose = tB, tA
		}
		for hn, d := range map[string]store.Directory{"a": a, "b": b} {
			got, err := d.TokenByHash(ctx, user, win.Hash)
			if err != nil || got.Name != name || got.User != user || !bytes.Equal(got.Hash, win.Hash) || !got.ExpiresAt.Equal(win.ExpiresAt) {
				t.Errorf("round %d: handle %s: TokenByHash(winner) = %+v, %v", i, hn, got, err)
			}
			if _, err := d.TokenByHash(ctx, user, lose.Hash); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("round %d: handle %s: the loser's hash is found (%v)", i, hn, err)
			}
		}
	})
	checkGenMoved(t, "token races", a, b, g0, Racers)
	all, err := b.ListTokens(ctx, "")
	must(t, err)
	if len(all) != Racers {
		t.Errorf("%d tokens after the races, want %d", len(all), Racers)
	}
}

// testRaceCreateTokenSameSecret: two handles create two tokens of one user
// with the same hash at once (CreateToken: ErrExists when the user has a
// token with that hash): one is created.
func (s suite) testRaceCreateTokenSameSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := s.dirPair(t)
	must(t, a.CreateAccount(ctx, store.Account{User: "alice", Domains: []string{"alice.test"}}))
	g0 := gen(t, a)
	raceRounds(t, func(i int) {
		h := newTokenHash()
		tA := store.Token{User: "alice", Name: fmt.Sprintf("a%d", i), Hash: h}
		tB := store.Token{User: "alice", Name: fmt.Sprintf("b%d", i), Hash: slices.Clone(h)}
		ea, eb := race2(func() error { return a.CreateToken(ctx, tA) }, func() error { return b.CreateToken(ctx, tB) })
		aWon, ok := oneWins(t, fmt.Sprintf("round %d: two tokens with one secret", i), ea, eb)
		if !ok {
			return
		}
		win := tB
		if aWon {
			win = tA
		}
		for hn, d := range map[string]store.Directory{"a": a, "b": b} {
			if got, err := d.TokenByHash(ctx, "alice", h); err != nil || got.Name != win.Name {
				t.Errorf("round %d: handle %s: TokenByHash = %+v, %v; want %s", i, hn, got, err, win.Name)
			}
		}
	})
	checkGenMoved(t, "same-secret races", a, b, g0, Racers)
	all, err := a.ListTokens(ctx, "alice")
	must(t, err)
	if len(all) != Racers {
		t.Errorf("%d tokens after the races, want %d", len(all), Racers)
	}
}
