// Package sessiontest is the conformance suite for session.Store: every
// backend (memory, SQLite, PostgreSQL, Redis) runs the same tests, so the
// guarantees written on session.Store are proved once and hold everywhere.
//
// A backend's test calls Run with a function that returns a fresh, empty
// store for each subtest, and RunShared with one that returns two stores on
// the same backing data (two processes or nodes).
//
// Times: the contract promises millisecond precision. Stores truncate the
// times they are given to the millisecond (as time.Time.UnixMilli does) and
// return them in UTC; the suite feeds times with nanoseconds and expects
// exactly the truncated value back, and checks that expiry decisions inside
// the store agree with Record.Expired at that precision.
package sessiontest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/session"
)

// t0 is the suite's "now": it has sub-millisecond digits on purpose.
var t0 = time.Date(2031, time.March, 4, 5, 6, 7, 891_234_567, time.UTC)

// Racers is how many goroutines the concurrency tests start at once.
const Racers = 50

// Run runs the conformance suite. newStore is called once per subtest and
// must return an empty store; it arranges its own cleanup (t.Cleanup), Run
// closes nothing.
func Run(t *testing.T, newStore func(t *testing.T) session.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s session.Store)
	}{
		{"CreateGetRoundTrip", testRoundTrip},
		{"CreateDuplicate", testCreateDuplicate},
		{"CreateInvalid", testCreateInvalid},
		{"Lookups", testLookups},
		{"LookupsReturnExpired", testLookupsReturnExpired},
		{"Consume", testConsume},
		{"ConsumeTwice", testConsumeTwice},
		{"ConsumeExpired", testConsumeExpired},
		{"ConsumeConsumedAndExpired", testConsumeConsumedAndExpired},
		{"ConsumeUnknown", testConsumeUnknown},
		{"ConsumeConcurrent", testConsumeConcurrent},
		{"ConsumeCookieConflict", testConsumeCookieConflict},
		{"Touch", testTouch},
		{"MarkTempCreated", testMarkTempCreated},
		{"MarkTempCreatedConcurrent", testMarkTempCreatedConcurrent},
		{"Delete", testDelete},
		{"DeleteByAccount", testDeleteByAccount},
		{"List", testList},
		{"Sweep", testSweep},
		{"SweepConcurrent", testSweepConcurrent},
		{"ReturnedRecordsAreCopies", testCopies},
		{"EmptyAndNilSlices", testEmptySlices},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// RunShared runs the tests that need two views of one store, as two
// processes or two nodes see it: newPair returns two stores backed by the
// same, initially empty, data.
func RunShared(t *testing.T, newPair func(t *testing.T) (a, b session.Store)) {
	t.Run("CreateHereUseThere", func(t *testing.T) {
		a, b := newPair(t)
		ctx := t.Context()
		r := NewRecord("alice")
		mustCreate(t, a, r)
		got, err := b.ByLoginHash(ctx, r.LoginHash)
		if err != nil {
			t.Fatalf("ByLoginHash on the other view: %v", err)
		}
		checkEqual(t, r, got)
		cookie := session.HashSecret(session.NewCookieSecret(r.User))
		if _, err := b.Consume(ctx, r.ID, cookie, t0, t0.Add(15*time.Minute)); err != nil {
			t.Fatalf("Consume on the other view: %v", err)
		}
		if _, err := a.Consume(ctx, r.ID, cookie, t0, t0.Add(15*time.Minute)); !errors.Is(err, session.ErrConsumed) {
			t.Fatalf("second Consume on the first view: %v, want ErrConsumed", err)
		}
		got, err = a.ByCookieHash(ctx, cookie)
		if err != nil || !got.Consumed {
			t.Fatalf("ByCookieHash on the first view: %+v, %v", got, err)
		}
		if _, err := b.Delete(ctx, r.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := a.Get(ctx, r.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Get after Delete on the other view: %v, want ErrNotFound", err)
		}
	})
	t.Run("ConsumeConcurrentAcross", func(t *testing.T) {
		a, b := newPair(t)
		r := NewRecord("alice")
		mustCreate(t, a, r)
		wins, consumed := raceConsume(t, []session.Store{a, b}, r.ID)
		if wins != 1 || consumed != Racers-1 {
			t.Fatalf("%d successes and %d ErrConsumed, want 1 and %d", wins, consumed, Racers-1)
		}
	})
	t.Run("MarkTempCreatedConcurrentAcross", func(t *testing.T) {
		a, b := newPair(t)
		r := NewRecord("alice")
		mustCreate(t, a, r)
		if n := raceMarkTemp(t, []session.Store{a, b}, r.ID); n != 1 {
			t.Fatalf("%d calls changed TempCreated, want exactly 1", n)
		}
	})
	t.Run("SweepConcurrentAcross", func(t *testing.T) {
		a, b := newPair(t)
		ids := createExpired(t, a, 120)
		checkSweepRace(t, []session.Store{a, b}, ids)
	})
}

// NewRecord returns a record for account with every field set (a mailbox
// session of account's mailbox, created by account, unused, expiring 300 s
// after the suite's "now").
func NewRecord(account string) session.Record {
	user := "box." + session.NewID()[:6] + "@" + account + ".example"
	tu, tp := session.NewTempUser(account)
	return session.Record{
		ID:        session.NewID(),
		User:      user,
		Account:   account,
		Service:   "webmaild",
		Token:     session.NewToken(),
		LoginHash: session.HashSecret(session.NewLoginSecret(user, session.TagMailUser)),
		Creator:   account,
		Method:    "create_webmail_session_for_mail_user",
		Origin:    "2001:db8::7",
		Locale:    "pt_br",
		ReturnURL: "https://" + account + ".example/back?x=1&y=\u00e9",
		TempUser:  tu,
		TempPass:  tp,
		CreatedAt: t0.Add(-time.Second),
		LastUsed:  t0.Add(-time.Second),
		ExpiresAt: t0.Add(300 * time.Second),
	}
}

func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// checkEqual compares a returned record with what was stored, field by
// field, times at millisecond precision and in UTC, hashes with nil and
// empty equal.
func checkEqual(t *testing.T, want, got session.Record) {
	t.Helper()
	var diffs []string
	str := func(name, w, g string) {
		if w != g {
			diffs = append(diffs, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	str("ID", want.ID, got.ID)
	str("User", want.User, got.User)
	str("Account", want.Account, got.Account)
	str("Service", want.Service, got.Service)
	str("Token", want.Token, got.Token)
	str("Creator", want.Creator, got.Creator)
	str("Method", want.Method, got.Method)
	str("Origin", want.Origin, got.Origin)
	str("Locale", want.Locale, got.Locale)
	str("ReturnURL", want.ReturnURL, got.ReturnURL)
	str("TempUser", want.TempUser, got.TempUser)
	str("TempPass", want.TempPass, got.TempPass)
	hash := func(name string, w, g []byte) {
		if !bytes.Equal(w, g) {
			diffs = append(diffs, fmt.Sprintf("%s = %x, want %x", name, g, w))
		}
		if len(g) == 0 && g != nil {
			diffs = append(diffs, name+" is empty but not nil")
		}
	}
	hash("LoginHash", want.LoginHash, got.LoginHash)
	hash("CookieHash", want.CookieHash, got.CookieHash)
	if want.Consumed != got.Consumed {
		diffs = append(diffs, fmt.Sprintf("Consumed = %v, want %v", got.Consumed, want.Consumed))
	}
	if want.TempCreated != got.TempCreated {
		diffs = append(diffs, fmt.Sprintf("TempCreated = %v, want %v", got.TempCreated, want.TempCreated))
	}
	tm := func(name string, w, g time.Time) {
		if !g.Equal(ms(w)) {
			diffs = append(diffs, fmt.Sprintf("%s = %s, want %s (millisecond precision)",
				name, g.Format(time.RFC3339Nano), ms(w).Format(time.RFC3339Nano)))
		}
		if g.Location() != time.UTC {
			diffs = append(diffs, fmt.Sprintf("%s is in %s, want UTC", name, g.Location()))
		}
	}
	tm("CreatedAt", want.CreatedAt, got.CreatedAt)
	tm("LastUsed", want.LastUsed, got.LastUsed)
	tm("ExpiresAt", want.ExpiresAt, got.ExpiresAt)
	if len(diffs) > 0 {
		t.Errorf("record %s differs:\n  %s", want.ID, strings.Join(diffs, "\n  "))
	}
}

func mustCreate(t *testing.T, s session.Store, r session.Record) {
	t.Helper()
	if err := s.Create(t.Context(), r); err != nil {
		t.Fatalf("Create(%s): %v", r.ID, err)
	}
}

func mustGet(t *testing.T, s session.Store, id string) session.Record {
	t.Helper()
	r, err := s.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return r
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func testRoundTrip(t *testing.T, s session.Store) {
	ctx := t.Context()
	plain := NewRecord("alice")
	full := NewRecord("bob")
	full.Consumed, full.TempCreated = true, true
	full.CookieHash = session.HashSecret(session.NewCookieSecret(full.User))
	full.CreatedAt = t0.Add(-time.Hour)
	full.LastUsed = t0.Add(-time.Minute + 123*time.Microsecond)
	full.ExpiresAt = t0.Add(14 * time.Minute)
	for _, r := range []session.Record{plain, full} {
		mustCreate(t, s, r)
		checkEqual(t, r, mustGet(t, s, r.ID))
	}
	// Times in another zone are the same instants.
	other := NewRecord("carol")
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	other.CreatedAt, other.LastUsed, other.ExpiresAt = t0.In(zone), t0.In(zone), t0.Add(time.Hour).In(zone)
	mustCreate(t, s, other)
	checkEqual(t, other, mustGet(t, s, other.ID))
	if _, err := s.Get(ctx, session.NewID()); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get(unknown): %v, want ErrNotFound", err)
	}
}

func testCreateDuplicate(t *testing.T, s session.Store) {
	ctx := t.Context()
	orig := NewRecord("alice")
	orig.CookieHash = session.HashSecret(session.NewCookieSecret(orig.User))
	mustCreate(t, s, orig)
	for _, tc := range []struct {
		name string
		edit func(r *session.Record)
	}{
		{"id", func(r *session.Record) { r.ID = orig.ID }},
		{"token", func(r *session.Record) { r.Token = orig.Token }},
		{"login hash", func(r *session.Record) { r.LoginHash = slices.Clone(orig.LoginHash) }},
		{"cookie hash", func(r *session.Record) { r.CookieHash = slices.Clone(orig.CookieHash) }},
	} {
		dup := NewRecord("mallory")
		dup.CookieHash = session.HashSecret(session.NewCookieSecret(dup.User))
		tc.edit(&dup)
		wantErr(t, "Create with duplicate "+tc.name, s.Create(ctx, dup), session.ErrExists)
		// Nothing of dup went in, nothing of orig changed.
		checkEqual(t, orig, mustGet(t, s, orig.ID))
		if tc.name != "id" {
			if _, err := s.Get(ctx, dup.ID); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("duplicate %s: Get(dup) = %v, want ErrNotFound", tc.name, err)
			}
		}
		if tc.name != "login hash" {
			if _, err := s.ByLoginHash(ctx, dup.LoginHash); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("duplicate %s: ByLoginHash(dup) = %v, want ErrNotFound", tc.name, err)
			}
		}
		if tc.name != "cookie hash" {
			if _, err := s.ByCookieHash(ctx, dup.CookieHash); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("duplicate %s: ByCookieHash(dup) = %v, want ErrNotFound", tc.name, err)
			}
		}
	}
	all, err := s.List(ctx, "")
	if err != nil || len(all) != 1 {
		t.Fatalf("List after refused duplicates: %d records, %v; want 1", len(all), err)
	}
}

func testCreateInvalid(t *testing.T, s session.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		edit func(r *session.Record)
	}{
		{"empty id", func(r *session.Record) { r.ID = "" }},
		{"empty token", func(r *session.Record) { r.Token = "" }},
		{"short login hash", func(r *session.Record) { r.LoginHash = r.LoginHash[:31] }},
		{"long cookie hash", func(r *session.Record) { r.CookieHash = make([]byte, 33) }},
		{"huge return url", func(r *session.Record) { r.ReturnURL = strings.Repeat("x", session.MaxFieldLen+1) }},
	} {
		r := NewRecord("alice")
		tc.edit(&r)
		wantErr(t, "Create with "+tc.name, s.Create(ctx, r), session.ErrInvalid)
	}
	all, err := s.List(ctx, "")
	if err != nil || len(all) != 0 {
		t.Fatalf("List after refused records: %d records, %v; want 0", len(all), err)
	}
	// The longest allowed field is fine.
	r := NewRecord("alice")
	r.ReturnURL = strings.Repeat("y", session.MaxFieldLen)
	mustCreate(t, s, r)
	checkEqual(t, r, mustGet(t, s, r.ID))
}

func testLookups(t *testing.T, s session.Store) {
	ctx := t.Context()
	a := NewRecord("alice")
	b := NewRecord("alice")
	b.Consumed = true
	b.CookieHash = session.HashSecret(session.NewCookieSecret(b.User))
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	for _, r := range []session.Record{a, b} {
		got, err := s.ByLoginHash(ctx, r.LoginHash)
		if err != nil {
			t.Fatalf("ByLoginHash: %v", err)
		}
		checkEqual(t, r, got)
	}
	got, err := s.ByCookieHash(ctx, b.CookieHash)
	if err != nil {
		t.Fatalf("ByCookieHash: %v", err)
	}
	checkEqual(t, b, got)
	// A login hash is not a cookie hash, and the other way round.
	_, err = s.ByCookieHash(ctx, a.LoginHash)
	wantErr(t, "ByCookieHash(login hash)", err, session.ErrNotFound)
	_, err = s.ByLoginHash(ctx, b.CookieHash)
	wantErr(t, "ByLoginHash(cookie hash)", err, session.ErrNotFound)
	for name, h := range map[string][]byte{
		"unknown": session.HashSecret("nope"),
		"nil":     nil,
		"empty":   {},
		"short":   a.LoginHash[:16],
	} {
		_, err := s.ByLoginHash(ctx, h)
		wantErr(t, "ByLoginHash("+name+")", err, session.ErrNotFound)
		_, err = s.ByCookieHash(ctx, h)
		wantErr(t, "ByCookieHash("+name+")", err, session.ErrNotFound)
	}
}

func testLookupsReturnExpired(t *testing.T, s session.Store) {
	ctx := t.Context()
	r := NewRecord("alice")
	r.CookieHash = session.HashSecret(session.NewCookieSecret(r.User))
	r.ExpiresAt = t0.Add(-time.Hour)
	mustCreate(t, s, r)
	for name, get := range map[string]func() (session.Record, error){
		"Get":          func() (session.Record, error) { return s.Get(ctx, r.ID) },
		"ByLoginHash":  func() (session.Record, error) { return s.ByLoginHash(ctx, r.LoginHash) },
		"ByCookieHash": func() (session.Record, error) { return s.ByCookieHash(ctx, r.CookieHash) },
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s of an expired record: %v", name, err)
		}
		checkEqual(t, r, got)
		if !got.Expired(t0) {
			t.Errorf("%s: returned record not Expired at now", name)
		}
	}
	list, err := s.List(ctx, "alice")
	if err != nil || len(list) != 1 {
		t.Errorf("List with an expired record: %d records, %v; want 1", len(list), err)
	}
}

func testConsume(t *testing.T, s session.Store) {
	ctx := t.Context()
	r := NewRecord("alice")
	mustCreate(t, s, r)
	cookie := session.HashSecret(session.NewCookieSecret(r.User))
	now, expires := t0.Add(2*time.Second+456_789*time.Nanosecond), t0.Add(15*time.Minute)
	got, err := s.Consume(ctx, r.ID, cookie, now, expires)
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	want := r
	want.Consumed, want.CookieHash, want.LastUsed, want.ExpiresAt = true, cookie, now, expires
	checkEqual(t, want, got)
	checkEqual(t, want, mustGet(t, s, r.ID))
	byCookie, err := s.ByCookieHash(ctx, cookie)
	if err != nil {
		t.Fatalf("ByCookieHash after Consume: %v", err)
	}
	checkEqual(t, want, byCookie)
	// The login hash stays set and still finds the record.
	byLogin, err := s.ByLoginHash(ctx, r.LoginHash)
	if err != nil {
		t.Fatalf("ByLoginHash after Consume: %v", err)
	}
	checkEqual(t, want, byLogin)

	// A nil cookie hash is allowed and stays nil.
	r2 := NewRecord("alice")
	mustCreate(t, s, r2)
	got, err = s.Consume(ctx, r2.ID, nil, now, expires)
	if err != nil {
		t.Fatalf("Consume with nil cookie: %v", err)
	}
	if got.CookieHash != nil || !got.Consumed {
		t.Errorf("Consume with nil cookie: CookieHash %x, Consumed %v", got.CookieHash, got.Consumed)
	}
	// A malformed cookie hash is refused and changes nothing.
	r3 := NewRecord("alice")
	mustCreate(t, s, r3)
	_, err = s.Consume(ctx, r3.ID, cookie[:20], now, expires)
	wantErr(t, "Consume with a 20-byte cookie hash", err, session.ErrInvalid)
	checkEqual(t, r3, mustGet(t, s, r3.ID))
}

func testConsumeTwice(t *testing.T, s session.Store) {
	ctx := t.Context()
	r := NewRecord("alice")
	mustCreate(t, s, r)
	c1 := session.HashSecret(session.NewCookieSecret(r.User))
	c2 := session.HashSecret(session.NewCookieSecret(r.User))
	first, err := s.Consume(ctx, r.ID, c1, t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatalf("first Consume: %v", err)
	}
	_, err = s.Consume(ctx, r.ID, c2, t0.Add(time.Second), t0.Add(2*time.Minute))
	wantErr(t, "second Consume", err, session.ErrConsumed)
	checkEqual(t, first, mustGet(t, s, r.ID))
	_, err = s.ByCookieHash(ctx, c2)
	wantErr(t, "ByCookieHash(loser's cookie)", err, session.ErrNotFound)
}

func testConsumeExpired(t *testing.T, s session.Store) {
	ctx := t.Context()
	cookie := func() []byte { return session.HashSecret(session.NewCookieSecret("x")) }

	r := NewRecord("alice")
	r.ExpiresAt = t0.Add(-time.Second)
	mustCreate(t, s, r)
	_, err := s.Consume(ctx, r.ID, cookie(), t0, t0.Add(time.Hour))
	wantErr(t, "Consume after expiry", err, session.ErrExpired)
	checkEqual(t, r, mustGet(t, s, r.ID))

	// Expiry is at millisecond precision: at the expiry's millisecond (even
	// before its nanoseconds) the record is expired; one nanosecond before
	// that millisecond it is not, and Record.Expired agrees.
	edge := NewRecord("alice")
	edge.ExpiresAt = t0 // has sub-millisecond digits
	mustCreate(t, s, edge)
	stored := mustGet(t, s, edge.ID)
	atMs := ms(t0)
	if !stored.Expired(atMs) {
		t.Fatalf("Record.Expired at the expiry's millisecond is false")
	}
	_, err = s.Consume(ctx, edge.ID, cookie(), atMs, t0.Add(time.Hour))
	wantErr(t, "Consume at the expiry's millisecond", err, session.ErrExpired)
	_, err = s.Consume(ctx, edge.ID, cookie(), atMs.Add(500*time.Microsecond), t0.Add(time.Hour))
	wantErr(t, "Consume within the expiry's millisecond", err, session.ErrExpired)
	before := atMs.Add(-time.Nanosecond)
	if stored.Expired(before) {
		t.Fatalf("Record.Expired just before the expiry's millisecond is true")
	}
	if _, err := s.Consume(ctx, edge.ID, cookie(), before, t0.Add(time.Hour)); err != nil {
		t.Fatalf("Consume just before the expiry's millisecond: %v", err)
	}
}

func testConsumeConsumedAndExpired(t *testing.T, s session.Store) {
	r := NewRecord("alice")
	r.Consumed = true
	r.ExpiresAt = t0.Add(-time.Minute)
	mustCreate(t, s, r)
	_, err := s.Consume(t.Context(), r.ID, nil, t0, t0.Add(time.Hour))
	wantErr(t, "Consume of a used and expired record", err, session.ErrConsumed)
}

func testConsumeUnknown(t *testing.T, s session.Store) {
	_, err := s.Consume(t.Context(), session.NewID(), session.HashSecret("c"), t0, t0.Add(time.Hour))
	wantErr(t, "Consume(unknown)", err, session.ErrNotFound)
}

// raceConsume starts Racers goroutines that consume id at once, spread over
// stores, and counts successes and ErrConsumed answers.
func raceConsume(t *testing.T, stores []session.Store, id string) (wins, consumed int) {
	t.Helper()
	ctx := t.Context()
	var (
		start   = make(chan struct{})
		wg      sync.WaitGroup
		mu      sync.Mutex
		other   []error
		winners []session.Record
		cookies = make([][]byte, Racers)
	)
	for i := range Racers {
		cookies[i] = session.HashSecret(session.NewCookieSecret(fmt.Sprint("racer", i)))
		wg.Go(func() {
			<-start
			r, err := stores[i%len(stores)].Consume(ctx, id, cookies[i], t0, t0.Add(15*time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
				winners = append(winners, r)
			case errors.Is(err, session.ErrConsumed):
				consumed++
			default:
				other = append(other, err)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range other {
		t.Errorf("concurrent Consume: unexpected error %v", err)
	}
	if len(winners) == 1 {
		got := mustGet(t, stores[0], id)
		if !bytes.Equal(got.CookieHash, winners[0].CookieHash) || !got.Consumed {
			t.Errorf("stored record does not carry the winner's cookie hash")
		}
	}
	return wins, consumed
}

func testConsumeConcurrent(t *testing.T, s session.Store) {
	r := NewRecord("alice")
	mustCreate(t, s, r)
	wins, consumed := raceConsume(t, []session.Store{s}, r.ID)
	if wins != 1 || consumed != Racers-1 {
		t.Fatalf("%d successes and %d ErrConsumed, want 1 and %d", wins, consumed, Racers-1)
	}
}

func testConsumeCookieConflict(t *testing.T, s session.Store) {
	ctx := t.Context()
	a, b := NewRecord("alice"), NewRecord("alice")
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	cookie := session.HashSecret(session.NewCookieSecret(a.User))
	if _, err := s.Consume(ctx, a.ID, cookie, t0, t0.Add(time.Hour)); err != nil {
		t.Fatalf("Consume: %v", err)
	}
	_, err := s.Consume(ctx, b.ID, cookie, t0, t0.Add(time.Hour))
	wantErr(t, "Consume with another record's cookie hash", err, session.ErrExists)
	checkEqual(t, b, mustGet(t, s, b.ID))
	got, err := s.ByCookieHash(ctx, cookie)
	if err != nil || got.ID != a.ID {
		t.Fatalf("ByCookieHash after the refused Consume: %s, %v; want %s", got.ID, err, a.ID)
	}
}

func testTouch(t *testing.T, s session.Store) {
	ctx := t.Context()
	r := NewRecord("alice")
	mustCreate(t, s, r)
	cookie := session.HashSecret(session.NewCookieSecret(r.User))
	consumed, err := s.Consume(ctx, r.ID, cookie, t0, t0.Add(15*time.Minute))
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	now, expires := t0.Add(10*time.Minute+999_999*time.Nanosecond), t0.Add(25*time.Minute+1)
	if err := s.Touch(ctx, r.ID, now, expires); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	want := consumed
	want.LastUsed, want.ExpiresAt = now, expires
	checkEqual(t, want, mustGet(t, s, r.ID))

	// An unused login can be touched too (Touch does not look at Consumed).
	fresh := NewRecord("alice")
	mustCreate(t, s, fresh)
	if err := s.Touch(ctx, fresh.ID, t0, t0.Add(time.Minute)); err != nil {
		t.Fatalf("Touch of an unused record: %v", err)
	}

	wantErr(t, "Touch(unknown)", s.Touch(ctx, session.NewID(), now, expires), session.ErrNotFound)

	late := want.ExpiresAt.Add(time.Millisecond)
	wantErr(t, "Touch after expiry", s.Touch(ctx, r.ID, late, late.Add(time.Hour)), session.ErrExpired)
	wantErr(t, "Touch at the expiry's millisecond",
		s.Touch(ctx, r.ID, ms(want.ExpiresAt), late.Add(time.Hour)), session.ErrExpired)
	checkEqual(t, want, mustGet(t, s, r.ID))
}

func testMarkTempCreated(t *testing.T, s session.Store) {
	ctx := t.Context()
	r := NewRecord("alice")
	mustCreate(t, s, r)
	changed, err := s.MarkTempCreated(ctx, r.ID)
	if err != nil || !changed {
		t.Fatalf("first MarkTempCreated: %v, %v; want true", changed, err)
	}
	changed, err = s.MarkTempCreated(ctx, r.ID)
	if err != nil || changed {
		t.Fatalf("second MarkTempCreated: %v, %v; want false", changed, err)
	}
	want := r
	want.TempCreated = true
	checkEqual(t, want, mustGet(t, s, r.ID))
	_, err = s.MarkTempCreated(ctx, session.NewID())
	wantErr(t, "MarkTempCreated(unknown)", err, session.ErrNotFound)

	// A record created with TempCreated already set is not changed.
	done := NewRecord("alice")
	done.TempCreated = true
	mustCreate(t, s, done)
	if changed, err := s.MarkTempCreated(ctx, done.ID); err != nil || changed {
		t.Fatalf("MarkTempCreated of a created temp user: %v, %v; want false", changed, err)
	}
}

// raceMarkTemp starts Racers goroutines calling MarkTempCreated(id) at once
// and returns how many reported a change.
func raceMarkTemp(t *testing.T, stores []session.Store, id string) int {
	t.Helper()
	var (
		start   = make(chan struct{})
		wg      sync.WaitGroup
		mu      sync.Mutex
		changed int
	)
	for i := range Racers {
		wg.Go(func() {
			<-start
			ok, err := stores[i%len(stores)].MarkTempCreated(t.Context(), id)
			if err != nil {
				t.Errorf("concurrent MarkTempCreated: %v", err)
			}
			if ok {
				mu.Lock()
				changed++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	return changed
}

func testMarkTempCreatedConcurrent(t *testing.T, s session.Store) {
	r := NewRecord("alice")
	mustCreate(t, s, r)
	if n := raceMarkTemp(t, []session.Store{s}, r.ID); n != 1 {
		t.Fatalf("%d calls changed TempCreated, want exactly 1", n)
	}
	if !mustGet(t, s, r.ID).TempCreated {
		t.Fatalf("TempCreated not set")
	}
}

func testDelete(t *testing.T, s session.Store) {
	ctx := t.Context()
	r := NewRecord("alice")
	r.CookieHash = session.HashSecret(session.NewCookieSecret(r.User))
	keep := NewRecord("alice")
	mustCreate(t, s, r)
	mustCreate(t, s, keep)
	got, err := s.Delete(ctx, r.ID)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkEqual(t, r, got)
	_, err = s.Delete(ctx, r.ID)
	wantErr(t, "second Delete", err, session.ErrNotFound)
	_, err = s.Get(ctx, r.ID)
	wantErr(t, "Get after Delete", err, session.ErrNotFound)
	_, err = s.ByLoginHash(ctx, r.LoginHash)
	wantErr(t, "ByLoginHash after Delete", err, session.ErrNotFound)
	_, err = s.ByCookieHash(ctx, r.CookieHash)
	wantErr(t, "ByCookieHash after Delete", err, session.ErrNotFound)
	_, err = s.Consume(ctx, r.ID, nil, t0, t0.Add(time.Hour))
	wantErr(t, "Consume after Delete", err, session.ErrNotFound)
	checkEqual(t, keep, mustGet(t, s, keep.ID))
	// Every key of the deleted record is free again.
	mustCreate(t, s, r)
	checkEqual(t, r, mustGet(t, s, r.ID))
}

func ids(rs []session.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func sorted(ss []string) []string {
	ss = slices.Clone(ss)
	slices.Sort(ss)
	return ss
}

func testDeleteByAccount(t *testing.T, s session.Store) {
	ctx := t.Context()
	mk := func(account, user string) session.Record {
		r := NewRecord(account)
		r.User = user
		mustCreate(t, s, r)
		return r
	}
	self := mk("alice", "alice")
	bob1 := mk("alice", "bob@alice.example")
	bob2 := mk("alice", "bob@alice.example")
	carol := mk("alice", "carol@alice.example")
	dave := mk("dave", "dave")
	daveBob := mk("dave", "bob@alice.example") // same user text, other account

	got, err := s.DeleteByAccount(ctx, "alice", "bob@alice.example")
	if err != nil {
		t.Fatalf("DeleteByAccount(alice, bob): %v", err)
	}
	if g, w := sorted(ids(got)), sorted([]string{bob1.ID, bob2.ID}); !slices.Equal(g, w) {
		t.Fatalf("DeleteByAccount(alice, bob) removed %v, want %v", g, w)
	}
	for _, r := range got {
		if r.ID == bob1.ID {
			checkEqual(t, bob1, r)
		}
	}
	got, err = s.DeleteByAccount(ctx, "alice", "")
	if err != nil {
		t.Fatalf("DeleteByAccount(alice): %v", err)
	}
	if g, w := sorted(ids(got)), sorted([]string{self.ID, carol.ID}); !slices.Equal(g, w) {
		t.Fatalf("DeleteByAccount(alice) removed %v, want %v", g, w)
	}
	got, err = s.DeleteByAccount(ctx, "alice", "")
	if err != nil || len(got) != 0 {
		t.Fatalf("second DeleteByAccount(alice): %v, %v; want none", ids(got), err)
	}
	got, err = s.DeleteByAccount(ctx, "nobody", "")
	if err != nil || len(got) != 0 {
		t.Fatalf("DeleteByAccount(nobody): %v, %v; want none", ids(got), err)
	}
	checkEqual(t, dave, mustGet(t, s, dave.ID))
	checkEqual(t, daveBob, mustGet(t, s, daveBob.ID))
}

func testList(t *testing.T, s session.Store) {
	ctx := t.Context()
	var alice []session.Record
	var all []session.Record
	// Created out of order; two share a CreatedAt and are ordered by ID.
	for i, off := range []time.Duration{5, 1, 3, 3, 0, 4} {
		account := "alice"
		if i%3 == 2 {
			account = "bob"
		}
		r := NewRecord(account)
		r.CreatedAt = t0.Add(off * time.Minute)
		if i == 1 {
			r.ExpiresAt = t0.Add(-time.Hour) // expired records are listed too
		}
		mustCreate(t, s, r)
		all = append(all, r)
		if account == "alice" {
			alice = append(alice, r)
		}
	}
	order := func(rs []session.Record) []string {
		rs = slices.Clone(rs)
		slices.SortFunc(rs, func(a, b session.Record) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		return ids(rs)
	}
	for _, tc := range []struct {
		account string
		want    []session.Record
	}{{"alice", alice}, {"", all}, {"nobody", nil}} {
		got, err := s.List(ctx, tc.account)
		if err != nil {
			t.Fatalf("List(%q): %v", tc.account, err)
		}
		if g, w := ids(got), order(tc.want); !slices.Equal(g, w) {
			t.Errorf("List(%q) = %v, want %v (oldest first, then by ID)", tc.account, g, w)
		}
	}
}

func testSweep(t *testing.T, s session.Store) {
	ctx := t.Context()
	var expired, live []string
	for i := range 7 {
		r := NewRecord("alice")
		switch i % 3 {
		case 0:
			r.ExpiresAt = t0.Add(-time.Duration(i+1) * time.Minute)
			expired = append(expired, r.ID)
		case 1:
			r.ExpiresAt = t0 // expired at its own millisecond
			expired = append(expired, r.ID)
		default:
			r.ExpiresAt = ms(t0).Add(time.Millisecond)
			live = append(live, r.ID)
		}
		mustCreate(t, s, r)
	}
	first, err := s.Sweep(ctx, ms(t0), 2)
	if err != nil {
		t.Fatalf("Sweep(limit 2): %v", err)
	}
	if len(first) != 2 {
		t.Fatalf("Sweep(limit 2) removed %d records, want 2", len(first))
	}
	rest, err := s.Sweep(ctx, ms(t0), 0)
	if err != nil {
		t.Fatalf("Sweep(no limit): %v", err)
	}
	if g, w := sorted(append(ids(first), ids(rest)...)), sorted(expired); !slices.Equal(g, w) {
		t.Fatalf("Sweeps removed %v, want %v", g, w)
	}
	for _, r := range append(first, rest...) {
		if !r.Expired(ms(t0)) {
			t.Errorf("swept record %s is not expired", r.ID)
		}
		if _, err := s.Get(ctx, r.ID); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Get(swept %s): %v, want ErrNotFound", r.ID, err)
		}
	}
	again, err := s.Sweep(ctx, ms(t0), -1)
	if err != nil || len(again) != 0 {
		t.Fatalf("third Sweep: %v, %v; want none", ids(again), err)
	}
	for _, id := range live {
		mustGet(t, s, id)
	}
}

// createExpired creates n records of account "sweep" that are expired at t0.
func createExpired(t *testing.T, s session.Store, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range n {
		r := NewRecord("sweep")
		r.ExpiresAt = t0.Add(-time.Duration(i+1) * time.Second)
		mustCreate(t, s, r)
		out[i] = r.ID
	}
	return out
}

// checkSweepRace sweeps (in small batches) from several goroutines spread
// over stores while others delete the same records by id, and checks that
// every record is returned exactly once in all.
func checkSweepRace(t *testing.T, stores []session.Store, want []string) {
	t.Helper()
	ctx := t.Context()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]int{}
	)
	note := func(rs ...session.Record) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			seen[r.ID]++
		}
	}
	start := make(chan struct{})
	for i := range 4 {
		wg.Go(func() {
			<-start
			for {
				rs, err := stores[i%len(stores)].Sweep(ctx, t0, 7)
				if err != nil {
					t.Errorf("concurrent Sweep: %v", err)
					return
				}
				if len(rs) == 0 {
					return
				}
				note(rs...)
			}
		})
	}
	for i := range 2 {
		wg.Go(func() {
			<-start
			for j := i; j < len(want); j += 3 {
				r, err := stores[(i+1)%len(stores)].Delete(ctx, want[j])
				switch {
				case err == nil:
					note(r)
				case !errors.Is(err, session.ErrNotFound):
					t.Errorf("concurrent Delete: %v", err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for _, id := range want {
		if n := seen[id]; n != 1 {
			t.Errorf("record %s returned %d times, want exactly once", id, n)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d records returned, want %d", len(seen), len(want))
	}
}

func testSweepConcurrent(t *testing.T, s session.Store) {
	ids := createExpired(t, s, 200)
	live := NewRecord("sweep")
	mustCreate(t, s, live)
	checkSweepRace(t, []session.Store{s}, ids)
	mustGet(t, s, live.ID)
}

func testCopies(t *testing.T, s session.Store) {
	ctx := t.Context()
	r := NewRecord("alice")
	r.CookieHash = session.HashSecret(session.NewCookieSecret(r.User))
	want := r
	want.LoginHash, want.CookieHash = slices.Clone(r.LoginHash), slices.Clone(r.CookieHash)
	mustCreate(t, s, r)
	// Changing what was passed to Create changes nothing stored.
	clear(r.LoginHash)
	clear(r.CookieHash)
	checkEqual(t, want, mustGet(t, s, want.ID))

	scribble := func(rs ...session.Record) {
		for _, x := range rs {
			for i := range x.LoginHash {
				x.LoginHash[i] ^= 0xff
			}
			for i := range x.CookieHash {
				x.CookieHash[i] ^= 0xff
			}
		}
	}
	got, _ := s.Get(ctx, want.ID)
	byLogin, _ := s.ByLoginHash(ctx, want.LoginHash)
	byCookie, _ := s.ByCookieHash(ctx, want.CookieHash)
	list, _ := s.List(ctx, "")
	scribble(got, byLogin, byCookie)
	scribble(list...)
	checkEqual(t, want, mustGet(t, s, want.ID))
	if _, err := s.ByLoginHash(ctx, want.LoginHash); err != nil {
		t.Errorf("ByLoginHash after changing returned copies: %v", err)
	}

	// The cookie hash given to Consume is copied too.
	u := NewRecord("alice")
	mustCreate(t, s, u)
	cookie := session.HashSecret(session.NewCookieSecret(u.User))
	keep := slices.Clone(cookie)
	consumed, err := s.Consume(ctx, u.ID, cookie, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	clear(cookie)
	scribble(consumed)
	if got, err := s.ByCookieHash(ctx, keep); err != nil || !bytes.Equal(got.CookieHash, keep) {
		t.Errorf("ByCookieHash after changing Consume's argument and result: %v", err)
	}
}

func testEmptySlices(t *testing.T, s session.Store) {
	ctx := t.Context()
	// Password logins have no login secret; empty and nil hashes mean "none",
	// may repeat across records, and come back as nil.
	var made []session.Record
	for _, h := range [][]byte{nil, {}, nil, {}} {
		r := NewRecord("alice")
		r.LoginHash, r.CookieHash, r.Consumed = h, h, true
		mustCreate(t, s, r)
		got := mustGet(t, s, r.ID)
		checkEqual(t, r, got)
		if got.LoginHash != nil || got.CookieHash != nil {
			t.Errorf("empty hashes came back as %#v, %#v; want nil", got.LoginHash, got.CookieHash)
		}
		made = append(made, r)
	}
	for _, h := range [][]byte{nil, {}} {
		_, err := s.ByLoginHash(ctx, h)
		wantErr(t, "ByLoginHash(empty)", err, session.ErrNotFound)
		_, err = s.ByCookieHash(ctx, h)
		wantErr(t, "ByCookieHash(empty)", err, session.ErrNotFound)
	}
	// An empty cookie hash given to Consume is stored as none.
	r := NewRecord("alice")
	mustCreate(t, s, r)
	got, err := s.Consume(ctx, r.ID, []byte{}, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatalf("Consume with an empty cookie hash: %v", err)
	}
	if got.CookieHash != nil {
		t.Errorf("Consume with an empty cookie hash stored %#v, want nil", got.CookieHash)
	}
	// Zero times survive the round trip.
	z := NewRecord("alice")
	z.CreatedAt, z.LastUsed, z.ExpiresAt = time.Time{}, time.Time{}, time.Time{}
	mustCreate(t, s, z)
	if got := mustGet(t, s, z.ID); !got.CreatedAt.IsZero() || !got.ExpiresAt.IsZero() {
		t.Errorf("zero times came back as %v, %v", got.CreatedAt, got.ExpiresAt)
	}
	list, err := s.List(ctx, "alice")
	if err != nil || len(list) != len(made)+2 {
		t.Fatalf("List: %d records, %v; want %d", len(list), err, len(made)+2)
	}
}
