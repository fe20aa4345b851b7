package sqlstore

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// Direct tests of each part of the store on both dialects: a first
// exercise of every method (the conformance suite, storetest, proves the
// contract in full).

var (
	_ store.Directory = (*Directory)(nil)
	_ store.Sessions  = (*Sessions)(nil)
	_ store.Ledger    = (*Ledger)(nil)
	_ store.Attempts  = (*Attempts)(nil)
)

func TestDirectDirectory(t *testing.T) {
	t.Parallel()
	forDialects(t, func(t *testing.T, dc *dialectCase) {
		t.Parallel()
		ctx := t.Context()
		db := dc.open(t)
		d := db.Directory()

		g0, err := d.Generation(ctx)
		if err != nil || g0 != 1 {
			t.Fatalf("Generation of a new store = %d, %v; want 1", g0, err)
		}
		if h, err := d.RootPasswordHash(ctx); err != nil || h != "" {
			t.Fatalf("RootPasswordHash = %q, %v", h, err)
		}
		must(t, d.SetRootPasswordHash(ctx, hashA))
		must(t, d.SetRootPasswordHash(ctx, hashA)) // no change
		if g, _ := d.Generation(ctx); g != g0+1 {
			t.Errorf("generation after one change (and one no-op) = %d, want %d", g, g0+1)
		}
		if h, err := d.RootPasswordHash(ctx); err != nil || h != hashA {
			t.Fatalf("RootPasswordHash = %q, %v", h, err)
		}
		if err := d.SetRootPasswordHash(ctx, "a:b"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("SetRootPasswordHash(bad) = %v", err)
		}

		created := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		res := store.Account{User: "Resel", PasswordHash: hashA, Domains: []string{"Resel.test"}, Reseller: true,
			Databases: []string{"resel_wp"}, CreatedAt: created, Plan: "gold", ContactEmail: "r@resel.test"}
		must(t, d.CreateAccount(ctx, res))
		alice := store.Account{User: "alice", Owner: "resel", Domains: []string{"alice.test", "shop.alice.test"}, Locale: "pt_br"}
		must(t, d.CreateAccount(ctx, alice))
		got, err := d.GetAccount(ctx, "RESEL")
		if err != nil {
			t.Fatal(err)
		}
		want := res
		want.User, want.Domains, want.Owner, want.Locale = "resel", []string{"resel.test"}, "root", "en"
		if !store.SameAccount(got, want) || !got.CreatedAt.Equal(created) {
			t.Errorf("GetAccount = %+v, want %+v", got, want)
		}
		if _, err := d.GetAccount(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetAccount(nobody) = %v", err)
		}
		list, err := d.ListAccounts(ctx)
		if err != nil || len(list) != 2 || list[0].User != "alice" || list[1].User != "resel" ||
			!slices.Equal(list[0].Domains, []string{"alice.test", "shop.alice.test"}) || !slices.Equal(list[1].Databases, []string{"resel_wp"}) {
			t.Errorf("ListAccounts = %+v, %v", list, err)
		}
		if u, err := d.DomainOwner(ctx, "SHOP.alice.test"); err != nil || u != "alice" {
			t.Errorf("DomainOwner = %q, %v", u, err)
		}
		if _, err := d.DomainOwner(ctx, "none.test"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DomainOwner(none) = %v", err)
		}

		// Owner rules.
		if err := d.CreateAccount(ctx, store.Account{User: "bob", Owner: "alice"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("owner not a reseller: %v", err)
		}
		if err := d.RemoveAccount(ctx, "resel"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("remove a reseller that owns accounts: %v", err)
		}
		if _, err := d.UpdateAccount(ctx, "resel", func(a *store.Account) error { a.Reseller = false; return nil }); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("demote a reseller that owns accounts: %v", err)
		}

		// Mailboxes.
		must(t, d.CreateMailbox(ctx, store.Mailbox{Address: "Info@alice.test", PasswordHash: hashA}))
		must(t, d.CreateMailbox(ctx, store.Mailbox{Address: "sales@shop.alice.test", Account: "alice"}))
		if err := d.CreateMailbox(ctx, store.Mailbox{Address: "x@resel.test", Account: "alice"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("mailbox on another account's domain: %v", err)
		}
		if err := d.CreateMailbox(ctx, store.Mailbox{Address: "x@none.test"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("mailbox on an unknown domain: %v", err)
		}
		m, err := d.GetMailbox(ctx, "INFO@alice.test")
		if err != nil || m.Account != "alice" || m.PasswordHash != hashA || m.CreatedAt.IsZero() {
			t.Errorf("GetMailbox = %+v, %v", m, err)
		}
		mbs, err := d.ListMailboxes(ctx, "alice")
		if err != nil || len(mbs) != 2 || mbs[0].Address != "info@alice.test" {
			t.Errorf("ListMailboxes = %+v, %v", mbs, err)
		}
		if _, err := d.ListMailboxes(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ListMailboxes(nobody) = %v", err)
		}
		m, err = d.UpdateMailbox(ctx, "info@alice.test", func(m *store.Mailbox) error { m.SuspendedLogin = true; return nil })
		if err != nil || !m.SuspendedLogin {
			t.Errorf("UpdateMailbox = %+v, %v", m, err)
		}
		if _, err := d.UpdateAccount(ctx, "alice", func(a *store.Account) error { a.Domains = a.Domains[:1]; return nil }); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("drop a domain with mailboxes: %v", err)
		}
		a, err := d.UpdateAccount(ctx, "alice", func(a *store.Account) error {
			a.Suspended, a.SuspendReason = true, "abuse"
			a.Domains = append(a.Domains, "new.test")
			return nil
		})
		if err != nil || !a.Suspended || a.SuspendReason != "abuse" || len(a.Domains) != 3 {
			t.Errorf("UpdateAccount = %+v, %v", a, err)
		}
		sentinel := errors.New("no")
		if _, err := d.UpdateAccount(ctx, "alice", func(*store.Account) error { return sentinel }); err != sentinel {
			t.Errorf("UpdateAccount's fn error came back as %v", err)
		}
		must(t, d.PutMailbox(ctx, store.Mailbox{Address: "info@alice.test", PasswordHash: "x"}))
		if m, _ := d.GetMailbox(ctx, "info@alice.test"); m.PasswordHash != "x" || m.SuspendedLogin {
			t.Errorf("PutMailbox did not replace: %+v", m)
		}
		must(t, d.RemoveMailbox(ctx, "sales@shop.alice.test"))
		if err := d.RemoveMailbox(ctx, "sales@shop.alice.test"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RemoveMailbox twice: %v", err)
		}

		// Tokens.
		h1, h2 := hash32(), hash32()
		exp := time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)
		tok := store.Token{User: "Alice", Name: "ci", Hash: h1, ExpiresAt: exp, AllowIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}}
		must(t, d.CreateToken(ctx, tok))
		must(t, d.CreateToken(ctx, store.Token{User: "root", Name: "all", Hash: h2}))
		if err := d.CreateToken(ctx, store.Token{User: "nobody", Name: "x", Hash: hash32()}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("token of nobody: %v", err)
		}
		got1, err := d.TokenByHash(ctx, "alice", h1)
		if err != nil || got1.Name != "ci" || !got1.ExpiresAt.Equal(exp) || len(got1.AllowIPs) != 2 || got1.AllowIPs[1] != tok.AllowIPs[1] {
			t.Errorf("TokenByHash = %+v, %v", got1, err)
		}
		if _, err := d.TokenByHash(ctx, "root", h1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TokenByHash of another user's token: %v", err)
		}
		toks, err := d.ListTokens(ctx, "")
		if err != nil || len(toks) != 2 || toks[0].User != "alice" || toks[1].User != "root" {
			t.Errorf("ListTokens = %+v, %v", toks, err)
		}
		must(t, d.PutToken(ctx, store.Token{User: "alice", Name: "ci", Hash: h1, ExpiresAt: exp, AllowIPs: tok.AllowIPs}))
		must(t, d.RevokeToken(ctx, "alice", "ci"))
		if err := d.RevokeToken(ctx, "alice", "ci"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RevokeToken twice: %v", err)
		}

		// Removing an account takes everything with it.
		must(t, d.CreateToken(ctx, store.Token{User: "alice", Name: "ci2", Hash: hash32()}))
		must(t, d.RemoveAccount(ctx, "alice"))
		if _, err := d.DomainOwner(ctx, "alice.test"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("domain of a removed account: %v", err)
		}
		if _, err := d.GetMailbox(ctx, "info@alice.test"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("mailbox of a removed account: %v", err)
		}
		if toks, err := d.ListTokens(ctx, ""); err != nil || len(toks) != 1 {
			t.Errorf("tokens after removing alice: %+v, %v", toks, err)
		}
		must(t, d.CreateAccount(ctx, store.Account{User: "alice", Domains: []string{"alice.test"}}))
	})
}

func TestDirectSessions(t *testing.T) {
	t.Parallel()
	forDialects(t, func(t *testing.T, dc *dialectCase) {
		t.Parallel()
		ctx := t.Context()
		s := dc.open(t).Sessions()
		r := newSession("alice")
		must(t, s.Create(ctx, r))
		if err := s.Create(ctx, r); !errors.Is(err, store.ErrExists) {
			t.Errorf("Create twice: %v", err)
		}
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := r
		want.CreatedAt, want.LastUsed, want.ExpiresAt = ms(r.CreatedAt), ms(r.LastUsed), ms(r.ExpiresAt)
		if !sameSession(got, want) {
			t.Errorf("Get = %+v\nwant %+v", got, want)
		}
		if got.CookieHash != nil {
			t.Errorf("CookieHash of a new record = %v, want nil", got.CookieHash)
		}
		if g, err := s.ByLoginHash(ctx, r.LoginHash); err != nil || g.ID != r.ID {
			t.Errorf("ByLoginHash = %v, %v", g.ID, err)
		}
		if _, err := s.ByCookieHash(ctx, hash32()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ByCookieHash(unknown) = %v", err)
		}
		now := t0
		cookie := hash32()
		c, err := s.Consume(ctx, r.ID, cookie, now, now.Add(time.Hour))
		if err != nil || !c.Consumed || !bytes.Equal(c.CookieHash, cookie) || !c.ExpiresAt.Equal(ms(now.Add(time.Hour))) || c.TempPass != r.TempPass {
			t.Errorf("Consume = %+v, %v", c, err)
		}
		if _, err := s.Consume(ctx, r.ID, hash32(), now, now.Add(time.Hour)); !errors.Is(err, store.ErrConsumed) {
			t.Errorf("Consume twice: %v", err)
		}
		if g, err := s.ByCookieHash(ctx, cookie); err != nil || g.ID != r.ID {
			t.Errorf("ByCookieHash = %v, %v", g.ID, err)
		}
		r2 := newSession("alice")
		must(t, s.Create(ctx, r2))
		if _, err := s.Consume(ctx, r2.ID, cookie, now, now.Add(time.Hour)); !errors.Is(err, store.ErrExists) {
			t.Errorf("Consume with another record's cookie hash: %v", err)
		}
		if _, err := s.Consume(ctx, r2.ID, hash32(), r2.ExpiresAt, r2.ExpiresAt.Add(time.Hour)); !errors.Is(err, store.ErrExpired) {
			t.Errorf("Consume at expiry: %v", err)
		}
		if _, err := s.Consume(ctx, "nope", hash32(), now, now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Consume(unknown): %v", err)
		}
		must(t, s.Touch(ctx, r.ID, now.Add(time.Minute), now.Add(2*time.Hour)))
		if err := s.Touch(ctx, r.ID, now.Add(3*time.Hour), now.Add(4*time.Hour)); !errors.Is(err, store.ErrExpired) {
			t.Errorf("Touch after expiry: %v", err)
		}
		if err := s.Touch(ctx, "nope", now, now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Touch(unknown): %v", err)
		}
		if ok, err := s.MarkTempCreated(ctx, r.ID); !ok || err != nil {
			t.Errorf("MarkTempCreated = %v, %v", ok, err)
		}
		if ok, err := s.MarkTempCreated(ctx, r.ID); ok || err != nil {
			t.Errorf("MarkTempCreated twice = %v, %v", ok, err)
		}
		if _, err := s.MarkTempCreated(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MarkTempCreated(unknown) = %v", err)
		}
		bob := newSession("bob")
		bob.CreatedAt = t0.Add(-time.Hour)
		must(t, s.Create(ctx, bob))
		l, err := s.List(ctx, "")
		if err != nil || len(l) != 3 || l[0].ID != bob.ID {
			t.Errorf("List = %d records, %v", len(l), err)
		}
		if l, err := s.List(ctx, "alice"); err != nil || len(l) != 2 {
			t.Errorf("List(alice) = %d records, %v", len(l), err)
		}
		del, err := s.DeleteByAccount(ctx, "alice", r2.User)
		if err != nil || len(del) != 1 || del[0].ID != r2.ID {
			t.Errorf("DeleteByAccount(alice, user) = %+v, %v", del, err)
		}
		del, err = s.DeleteByAccount(ctx, "alice", "")
		if err != nil || len(del) != 1 || del[0].ID != r.ID || !del[0].TempCreated || del[0].TempPass != r.TempPass {
			t.Errorf("DeleteByAccount(alice) = %+v, %v", del, err)
		}
		if d, err := s.Delete(ctx, bob.ID); err != nil || d.ID != bob.ID {
			t.Errorf("Delete = %+v, %v", d, err)
		}
		if _, err := s.Delete(ctx, bob.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Delete twice = %v", err)
		}
		// Sweep.
		for i := range 5 {
			x := newSession("sweep")
			x.ExpiresAt = t0.Add(time.Duration(i) * time.Second)
			must(t, s.Create(ctx, x))
		}
		sw, err := s.Sweep(ctx, t0.Add(3*time.Second), 2)
		if err != nil || len(sw) != 2 || !sw[0].ExpiresAt.Before(sw[1].ExpiresAt) {
			t.Errorf("Sweep(limit 2) = %d, %v", len(sw), err)
		}
		sw, err = s.Sweep(ctx, t0.Add(3*time.Second), 0)
		if err != nil || len(sw) != 2 {
			t.Errorf("Sweep(no limit) = %d, %v", len(sw), err)
		}
		if l, _ := s.List(ctx, "sweep"); len(l) != 1 {
			t.Errorf("%d records left after sweeping, want 1", len(l))
		}
		// Invalid records.
		bad := newSession("alice")
		bad.LoginHash = []byte("short")
		if err := s.Create(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Create with a short hash: %v", err)
		}
		if _, err := s.Consume(ctx, r2.ID, []byte("short"), now, now); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Consume with a short cookie hash: %v", err)
		}
	})
}

// sameSession compares two records, hashes with nil and empty equal.
func sameSession(a, b store.Session) bool {
	return a.ID == b.ID && a.User == b.User && a.Account == b.Account && a.Service == b.Service &&
		a.Token == b.Token && bytes.Equal(a.LoginHash, b.LoginHash) && a.Consumed == b.Consumed &&
		bytes.Equal(a.CookieHash, b.CookieHash) && a.Creator == b.Creator && a.Method == b.Method &&
		a.Origin == b.Origin && a.Locale == b.Locale && a.ReturnURL == b.ReturnURL &&
		a.TempUser == b.TempUser && a.TempPass == b.TempPass && a.TempCreated == b.TempCreated &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastUsed.Equal(b.LastUsed) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.CreatedAt.Location() == time.UTC && a.ExpiresAt.Location() == time.UTC
}

func TestDirectLedger(t *testing.T) {
	t.Parallel()
	forDialects(t, func(t *testing.T, dc *dialectCase) {
		t.Parallel()
		ctx := t.Context()
		db := dc.open(t)
		l, other := db.Ledger(), dc.reopen(t, db).Ledger()
		if got, err := l.ListTempUsers(ctx); err != nil || len(got) != 0 {
			t.Fatalf("ListTempUsers on an empty ledger = %v, %v", got, err)
		}
		a := store.TempUser{Name: "cpses_al00000001", Account: "alice", SessionID: "sess-a"}
		b := store.TempUser{Name: "cpses_bo00000002", Account: "bob", SessionID: "sess-b"}
		must(t, l.RecordTempUser(ctx, a))
		time.Sleep(2 * time.Millisecond) // oldest first
		must(t, other.RecordTempUser(ctx, b))
		must(t, other.RecordTempUser(ctx, a)) // again: no-op
		stolen := a
		stolen.SessionID = "sess-x"
		if err := other.RecordTempUser(ctx, stolen); !errors.Is(err, store.ErrExists) {
			t.Errorf("RecordTempUser of a taken name = %v, want ErrExists", err)
		}
		if err := l.RecordTempUser(ctx, store.TempUser{Name: "x"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("RecordTempUser without a session = %v, want ErrInvalid", err)
		}
		for _, ll := range []*Ledger{l, other} {
			got, err := ll.ListTempUsers(ctx)
			if err != nil || !slices.Equal(got, []store.TempUser{a, b}) {
				t.Errorf("ListTempUsers = %+v, %v", got, err)
			}
		}
		if u, err := other.GetTempUser(ctx, a.Name); err != nil || u != a {
			t.Errorf("GetTempUser = %+v, %v", u, err)
		}
		if _, err := l.GetTempUser(ctx, "cpses_nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetTempUser(absent) = %v", err)
		}
		must(t, other.RemoveTempUser(ctx, a.Name))
		must(t, l.RemoveTempUser(ctx, a.Name)) // absent: no error
		if got, err := l.ListTempUsers(ctx); err != nil || !slices.Equal(got, []store.TempUser{b}) {
			t.Errorf("ListTempUsers after a removal = %+v, %v", got, err)
		}
		// The table holds no password column.
		cols := columns(t, db, "temp_users")
		if !slices.Equal(cols, []string{"name", "account", "session_id", "created_at"}) {
			t.Errorf("temp_users columns = %v", cols)
		}
	})
}

func TestDirectAttempts(t *testing.T) {
	t.Parallel()
	forDialects(t, func(t *testing.T, dc *dialectCase) {
		t.Parallel()
		ctx := t.Context()
		db := dc.open(t)
		a := db.Attempts()
		k := store.AttemptKey{Kind: store.AttemptUser, Value: "alice"}
		ip := store.AttemptKey{Kind: store.AttemptIP, Value: "192.0.2.1"}
		now := t0.Truncate(time.Second)
		for i := range 3 {
			st, err := a.Failure(ctx, k, now.Add(time.Duration(i)*time.Second), time.Minute)
			if err != nil || st.Failures != i+1 || st.Strikes != 0 || !st.BlockedUntil.IsZero() {
				t.Fatalf("Failure %d = %+v, %v", i, st, err)
			}
		}
		// Outside the window, the first failures are forgotten.
		if st, err := a.Failure(ctx, k, now.Add(61*time.Second), time.Minute); err != nil || st.Failures != 2 {
			t.Errorf("Failure after the window = %+v, %v; want 2 failures", st, err)
		}
		until, forget := now.Add(5*time.Minute), now.Add(time.Hour)
		// Of several nodes that see the limit crossed, one blocks.
		other := dc.reopen(t, db).Attempts()
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			x := a
			if i%2 == 1 {
				x = other
			}
			wg.Go(func() {
				ok, err := x.Block(ctx, k, 0, until, forget)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("%d of 8 racing Blocks succeeded, want 1", wins.Load())
		}
		st, err := a.Failure(ctx, k, now.Add(62*time.Second), time.Minute)
		if err != nil || st.Failures != 1 || st.Strikes != 1 || !st.BlockedUntil.Equal(until) {
			t.Errorf("state after a block = %+v, %v", st, err)
		}
		bu, err := a.BlockedUntil(ctx, []store.AttemptKey{ip, k}, now.Add(63*time.Second))
		if err != nil || len(bu) != 2 || !bu[0].IsZero() || !bu[1].Equal(until) {
			t.Errorf("BlockedUntil = %v, %v", bu, err)
		}
		if bu, err := a.BlockedUntil(ctx, []store.AttemptKey{k}, until); err != nil || !bu[0].IsZero() {
			t.Errorf("BlockedUntil at the end of the block = %v, %v", bu, err)
		}
		if ok, err := a.Block(ctx, k, 0, until, forget); ok || err != nil {
			t.Errorf("Block with stale strikes = %v, %v", ok, err)
		}
		if ok, err := a.Block(ctx, k, 1, until.Add(time.Minute), forget); !ok || err != nil {
			t.Errorf("Block with strikes 1 = %v, %v", ok, err)
		}
		must(t, a.Trust(ctx, "alice", "192.0.2.1", now.Add(time.Hour)))
		must(t, a.Trust(ctx, "alice", "192.0.2.1", now.Add(2*time.Hour)))
		if ok, err := other.Trusted(ctx, "alice", "192.0.2.1", now.Add(90*time.Minute)); !ok || err != nil {
			t.Errorf("Trusted = %v, %v", ok, err)
		}
		if ok, err := a.Trusted(ctx, "alice", "192.0.2.2", now); ok || err != nil {
			t.Errorf("Trusted(other address) = %v, %v", ok, err)
		}
		must(t, a.Sweep(ctx, now.Add(3*time.Hour), time.Minute))
		st, err = a.Failure(ctx, k, now.Add(3*time.Hour), time.Minute)
		if err != nil || st.Failures != 1 || st.Strikes != 0 {
			t.Errorf("state after a sweep = %+v, %v", st, err)
		}
		if ok, _ := a.Trusted(ctx, "alice", "192.0.2.1", now); ok {
			t.Error("trust survived its sweep")
		}
	})
}

// columns lists the columns of table in the store's schema, in order.
func columns(t testing.TB, db *DB, table string) []string {
	t.Helper()
	query := `SELECT name FROM pragma_table_info(?) ORDER BY cid`
	if db.Dialect() == "postgres" {
		query = `SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = current_schema() ORDER BY ordinal_position`
	}
	rows, err := db.SQL().QueryContext(t.Context(), db.q(query), table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		must(t, rows.Scan(&c))
		out = append(out, c)
	}
	must(t, rows.Err())
	return out
}
