package storetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// t0 is the sessions' "now": it has sub-millisecond digits on purpose.
var t0 = time.Date(2031, time.March, 4, 5, 6, 7, 891_234_567, time.UTC)

func (s suite) sessionTests() []namedTest {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Sessions)
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
	out := make([]namedTest, len(tests))
	for i, tc := range tests {
		out[i] = namedTest{tc.name, func(t *testing.T) { tc.fn(t, s.sessions(t)) }}
	}
	return out
}

func (s suite) sharedSessionTests() []namedTest {
	return []namedTest{
		{"CreateHereUseThere", s.testCreateHereUseThere},
		{"CreateConcurrentAcross", s.testCreateConcurrentAcross},
		{"ConsumeConcurrentAcross", s.testConsumeConcurrentAcross},
		{"MarkTempCreatedConcurrentAcross", s.testMarkTempCreatedConcurrentAcross},
		{"SweepConcurrentAcross", s.testSweepConcurrentAcross},
	}
}

func (s suite) sessionsPair(t testing.TB) (a, b store.Sessions) {
	t.Helper()
	ha, hb := s.pair(t)
	if ha.Sessions == nil || hb.Sessions == nil {
		t.Fatal("Backend.Pair returned no Sessions this time")
	}
	return ha.Sessions, hb.Sessions
}

func (s suite) testCreateHereUseThere(t *testing.T) {
	a, b := s.sessionsPair(t)
	ctx := t.Context()
	r := NewSessionRecord("alice")
	mustCreate(t, a, r)
	got, err := b.ByLoginHash(ctx, r.LoginHash)
	if err != nil {
		t.Fatalf("ByLoginHash on the other handle: %v", err)
	}
	checkEqual(t, r, got)
	cookie := newSecretHash()
	if _, err := b.Consume(ctx, r.ID, cookie, t0, t0.Add(15*time.Minute)); err != nil {
		t.Fatalf("Consume on the other handle: %v", err)
	}
	if _, err := a.Consume(ctx, r.ID, cookie, t0, t0.Add(15*time.Minute)); !errors.Is(err, store.ErrConsumed) {
		t.Fatalf("second Consume on the first handle: %v, want ErrConsumed", err)
	}
	got, err = a.ByCookieHash(ctx, cookie)
	if err != nil || !got.Consumed {
		t.Fatalf("ByCookieHash on the first handle: %+v, %v", got, err)
	}
	if err := a.Touch(ctx, r.ID, t0.Add(time.Minute), t0.Add(20*time.Minute)); err != nil {
		t.Fatalf("Touch on the first handle: %v", err)
	}
	if got := mustGet(t, b, r.ID); !got.ExpiresAt.Equal(ms(t0.Add(20 * time.Minute))) {
		t.Fatalf("the other handle sees ExpiresAt %v after Touch", got.ExpiresAt)
	}
	if ok, err := b.MarkTempCreated(ctx, r.ID); err != nil || !ok {
		t.Fatalf("MarkTempCreated on the other handle: %v, %v", ok, err)
	}
	if ok, err := a.MarkTempCreated(ctx, r.ID); err != nil || ok {
		t.Fatalf("MarkTempCreated again on the first handle: %v, %v; want false", ok, err)
	}
	if l, err := a.List(ctx, "alice"); err != nil || len(l) != 1 || !l[0].TempCreated {
		t.Fatalf("List on the first handle: %+v, %v", l, err)
	}
	if _, err := b.Delete(ctx, r.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := a.Get(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete on the other handle: %v, want ErrNotFound", err)
	}
	// DeleteByAccount through one handle removes what the other created.
	r2, r3 := NewSessionRecord("bob"), NewSessionRecord("bob")
	mustCreate(t, a, r2)
	mustCreate(t, b, r3)
	gone, err := a.DeleteByAccount(ctx, "bob", "")
	if err != nil || len(gone) != 2 {
		t.Fatalf("DeleteByAccount(bob): %d records, %v; want 2", len(gone), err)
	}
	if l, err := b.List(ctx, ""); err != nil || len(l) != 0 {
		t.Fatalf("List after DeleteByAccount: %d records, %v; want none", len(l), err)
	}
}

// testCreateConcurrentAcross: two handles create records sharing one key
// (ID, LoginHash or CookieHash) at once, Racers times: one is
// created, the other gets ErrExists, and the stored record is the
// winner's.
func (s suite) testCreateConcurrentAcross(t *testing.T) {
	a, b := s.sessionsPair(t)
	ctx := t.Context()
	keys := []string{"id", "login hash", "cookie hash"}
	for i := range Racers {
		ra, rb := NewSessionRecord("alice"), NewSessionRecord("bob")
		ra.CookieHash, rb.CookieHash = newSecretHash(), newSecretHash()
		key := keys[i%len(keys)]
		switch key {
		case "id":
			rb.ID = ra.ID
		case "login hash":
			rb.LoginHash = slices.Clone(ra.LoginHash)
		case "cookie hash":
			rb.CookieHash = slices.Clone(ra.CookieHash)
		}
		ea, eb := race2(func() error { return a.Create(ctx, ra) }, func() error { return b.Create(ctx, rb) })
		aWon, ok := oneWins(t, fmt.Sprintf("round %d: two records with one %s", i, key), ea, eb)
		if !ok {
			continue
		}
		win, lose := ra, rb
		if !aWon {
			win, lose = rb, ra
		}
		for hn, h := range map[string]store.Sessions{"a": a, "b": b} {
			checkEqual(t, win, mustGet(t, h, win.ID))
			if key != "id" {
				if _, err := h.Get(ctx, lose.ID); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("round %d (%s): handle %s finds the loser: %v", i, key, hn, err)
				}
			}
			got, err := h.ByLoginHash(ctx, win.LoginHash)
			if err != nil || got.ID != win.ID {
				t.Errorf("round %d (%s): handle %s: ByLoginHash(winner) = %s, %v", i, key, hn, got.ID, err)
			}
			got, err = h.ByCookieHash(ctx, win.CookieHash)
			if err != nil || got.ID != win.ID {
				t.Errorf("round %d (%s): handle %s: ByCookieHash(winner) = %s, %v", i, key, hn, got.ID, err)
			}
		}
		if t.Failed() {
			t.Fatalf("stopping after round %d", i)
		}
	}
	if l, err := b.List(ctx, ""); err != nil || len(l) != Racers {
		t.Fatalf("List after the races: %d records, %v; want %d", len(l), err, Racers)
	}
}

func (s suite) testConsumeConcurrentAcross(t *testing.T) {
	a, b := s.sessionsPair(t)
	r := NewSessionRecord("alice")
	mustCreate(t, a, r)
	wins, consumed := raceConsume(t, []store.Sessions{a, b}, r.ID)
	if wins != 1 || consumed != Racers-1 {
		t.Fatalf("%d successes and %d ErrConsumed, want 1 and %d", wins, consumed, Racers-1)
	}
}

func (s suite) testMarkTempCreatedConcurrentAcross(t *testing.T) {
	a, b := s.sessionsPair(t)
	r := NewSessionRecord("alice")
	mustCreate(t, a, r)
	if n := raceMarkTemp(t, []store.Sessions{a, b}, r.ID); n != 1 {
		t.Fatalf("%d calls changed TempCreated, want exactly 1", n)
	}
}

func (s suite) testSweepConcurrentAcross(t *testing.T) {
	a, b := s.sessionsPair(t)
	ids := createExpired(t, a, 120)
	checkSweepRace(t, []store.Sessions{a, b}, ids)
}

// NewSessionRecord returns a session record for account with every field
// set: a Webmail session of one of account's mailboxes, created by
// account, unused, with a temporary database user, created a second before
// the suite's "now" (2031-03-04 05:06:07.891234567 UTC) and expiring 300 s
// after it. Its ID, Token, hashes and temporary user are fresh random
// values of the forms package session makes.
func NewSessionRecord(account string) store.Session {
	user := "box." + newID()[:6] + "@" + account + ".example"
	tu, tp := newTempUser(account)
	return store.Session{
		ID:        newID(),
		User:      user,
		Account:   account,
		Service:   "webmaild",
		Token:     newSessionToken(),
		LoginHash: newSecretHash(),
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

// newID returns an identifier of the form session.NewID gives: 20
// characters of lower-case base32.
func newID() string { return randText(base32Lower, 20) }

// newSessionToken returns a security token of the form session.NewToken
// gives: "/cpsess" and 10 digits.
func newSessionToken() string { return "/cpsess" + randText(digits, 10) }

// newTempUser returns a temporary database user and password of the forms
// session.NewTempUser gives.
func newTempUser(account string) (name, password string) {
	prefix := account
	if len(prefix) > 2 {
		prefix = prefix[:2]
	}
	return "cpses_" + prefix + randText(alnumLower, 8), randText(alnumUnder, 32)
}

// hashSecret is session.HashSecret: the SHA-256 of a secret string.
func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// newSecretHash returns the hash of a fresh random login or cookie secret.
func newSecretHash() []byte {
	var b [32]byte
	rand.Read(b[:])
	return hashSecret(string(b[:]))
}

func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// checkEqual compares a returned record with what was stored, field by
// field, times at millisecond precision and in UTC, hashes with nil and
// empty equal.
func checkEqual(t *testing.T, want, got store.Session) {
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

func mustCreate(t *testing.T, s store.Sessions, r store.Session) {
	t.Helper()
	if err := s.Create(t.Context(), r); err != nil {
		t.Fatalf("Create(%s): %v", r.ID, err)
	}
}

func mustGet(t *testing.T, s store.Sessions, id string) store.Session {
	t.Helper()
	r, err := s.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return r
}

func testRoundTrip(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	plain := NewSessionRecord("alice")
	full := NewSessionRecord("bob")
	full.Consumed, full.TempCreated = true, true
	full.CookieHash = newSecretHash()
	full.CreatedAt = t0.Add(-time.Hour)
	full.LastUsed = t0.Add(-time.Minute + 123*time.Microsecond)
	full.ExpiresAt = t0.Add(14 * time.Minute)
	for _, r := range []store.Session{plain, full} {
		mustCreate(t, s, r)
		checkEqual(t, r, mustGet(t, s, r.ID))
	}
	// Times in another zone are the same instants.
	other := NewSessionRecord("carol")
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	other.CreatedAt, other.LastUsed, other.ExpiresAt = t0.In(zone), t0.In(zone), t0.Add(time.Hour).In(zone)
	mustCreate(t, s, other)
	checkEqual(t, other, mustGet(t, s, other.ID))
	if _, err := s.Get(ctx, newID()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(unknown): %v, want ErrNotFound", err)
	}
}

func testCreateDuplicate(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	orig := NewSessionRecord("alice")
	orig.CookieHash = newSecretHash()
	mustCreate(t, s, orig)
	for _, tc := range []struct {
		name string
		edit func(r *store.Session)
	}{
		{"id", func(r *store.Session) { r.ID = orig.ID }},
		{"login hash", func(r *store.Session) { r.LoginHash = slices.Clone(orig.LoginHash) }},
		{"cookie hash", func(r *store.Session) { r.CookieHash = slices.Clone(orig.CookieHash) }},
	} {
		dup := NewSessionRecord("mallory")
		dup.CookieHash = newSecretHash()
		tc.edit(&dup)
		wantErr(t, "Create with duplicate "+tc.name, s.Create(ctx, dup), store.ErrExists)
		// Nothing of dup went in, nothing of orig changed.
		checkEqual(t, orig, mustGet(t, s, orig.ID))
		if tc.name != "id" {
			if _, err := s.Get(ctx, dup.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("duplicate %s: Get(dup) = %v, want ErrNotFound", tc.name, err)
			}
		}
		if tc.name != "login hash" {
			if _, err := s.ByLoginHash(ctx, dup.LoginHash); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("duplicate %s: ByLoginHash(dup) = %v, want ErrNotFound", tc.name, err)
			}
		}
		if tc.name != "cookie hash" {
			if _, err := s.ByCookieHash(ctx, dup.CookieHash); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("duplicate %s: ByCookieHash(dup) = %v, want ErrNotFound", tc.name, err)
			}
		}
	}
	all, err := s.List(ctx, "")
	if err != nil || len(all) != 1 {
		t.Fatalf("List after refused duplicates: %d records, %v; want 1", len(all), err)
	}
}

func testCreateInvalid(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		edit func(r *store.Session)
	}{
		{"empty id", func(r *store.Session) { r.ID = "" }},
		{"empty token", func(r *store.Session) { r.Token = "" }},
		{"short login hash", func(r *store.Session) { r.LoginHash = r.LoginHash[:31] }},
		{"long cookie hash", func(r *store.Session) { r.CookieHash = make([]byte, 33) }},
		{"huge return url", func(r *store.Session) { r.ReturnURL = strings.Repeat("x", store.MaxFieldLen+1) }},
		{"huge id", func(r *store.Session) { r.ID = strings.Repeat("i", store.MaxFieldLen+1) }},
		{"user not UTF-8", func(r *store.Session) { r.User = "box\xff@alice.example" }},
		{"return url not UTF-8", func(r *store.Session) { r.ReturnURL = "https://alice.example/\xc3" }},
		{"NUL in the return url", func(r *store.Session) { r.ReturnURL = "https://alice.example/\x00" }},
		{"NUL in the origin", func(r *store.Session) { r.Origin = "2001:db8::7\x00" }},
		{"NUL in the temporary password", func(r *store.Session) { r.TempPass = "a\x00b" }},
		{"NUL in the id", func(r *store.Session) { r.ID = "id\x00" }},
		{"token not UTF-8", func(r *store.Session) { r.Token = "/cpsess\xff" }},
	} {
		r := NewSessionRecord("alice")
		tc.edit(&r)
		wantErr(t, "Create with "+tc.name, s.Create(ctx, r), store.ErrInvalid)
	}
	all, err := s.List(ctx, "")
	if err != nil || len(all) != 0 {
		t.Fatalf("List after refused records: %d records, %v; want 0", len(all), err)
	}
	// The longest allowed field is fine, and so is any UTF-8 text without
	// NUL (control characters included).
	r := NewSessionRecord("alice")
	r.ReturnURL = strings.Repeat("y", store.MaxFieldLen)
	r.Method = "tab\tand\nnewline \u00e9\u4e16\U0001F600"
	mustCreate(t, s, r)
	checkEqual(t, r, mustGet(t, s, r.ID))
}

func testLookups(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	a := NewSessionRecord("alice")
	b := NewSessionRecord("alice")
	b.Consumed = true
	b.CookieHash = newSecretHash()
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	for _, r := range []store.Session{a, b} {
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
	wantErr(t, "ByCookieHash(login hash)", err, store.ErrNotFound)
	_, err = s.ByLoginHash(ctx, b.CookieHash)
	wantErr(t, "ByLoginHash(cookie hash)", err, store.ErrNotFound)
	for name, h := range map[string][]byte{
		"unknown": hashSecret("nope"),
		"nil":     nil,
		"empty":   {},
		"short":   a.LoginHash[:16],
	} {
		_, err := s.ByLoginHash(ctx, h)
		wantErr(t, "ByLoginHash("+name+")", err, store.ErrNotFound)
		_, err = s.ByCookieHash(ctx, h)
		wantErr(t, "ByCookieHash("+name+")", err, store.ErrNotFound)
	}
}

func testLookupsReturnExpired(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	r := NewSessionRecord("alice")
	r.CookieHash = newSecretHash()
	r.ExpiresAt = t0.Add(-time.Hour)
	mustCreate(t, s, r)
	for name, get := range map[string]func() (store.Session, error){
		"Get":          func() (store.Session, error) { return s.Get(ctx, r.ID) },
		"ByLoginHash":  func() (store.Session, error) { return s.ByLoginHash(ctx, r.LoginHash) },
		"ByCookieHash": func() (store.Session, error) { return s.ByCookieHash(ctx, r.CookieHash) },
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

func testConsume(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	r := NewSessionRecord("alice")
	mustCreate(t, s, r)
	cookie := newSecretHash()
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
	r2 := NewSessionRecord("alice")
	mustCreate(t, s, r2)
	got, err = s.Consume(ctx, r2.ID, nil, now, expires)
	if err != nil {
		t.Fatalf("Consume with nil cookie: %v", err)
	}
	if got.CookieHash != nil || !got.Consumed {
		t.Errorf("Consume with nil cookie: CookieHash %x, Consumed %v", got.CookieHash, got.Consumed)
	}
	// A malformed cookie hash is refused and changes nothing.
	r3 := NewSessionRecord("alice")
	mustCreate(t, s, r3)
	_, err = s.Consume(ctx, r3.ID, cookie[:20], now, expires)
	wantErr(t, "Consume with a 20-byte cookie hash", err, store.ErrInvalid)
	checkEqual(t, r3, mustGet(t, s, r3.ID))
}

func testConsumeTwice(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	r := NewSessionRecord("alice")
	mustCreate(t, s, r)
	c1 := newSecretHash()
	c2 := newSecretHash()
	first, err := s.Consume(ctx, r.ID, c1, t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatalf("first Consume: %v", err)
	}
	_, err = s.Consume(ctx, r.ID, c2, t0.Add(time.Second), t0.Add(2*time.Minute))
	wantErr(t, "second Consume", err, store.ErrConsumed)
	checkEqual(t, first, mustGet(t, s, r.ID))
	_, err = s.ByCookieHash(ctx, c2)
	wantErr(t, "ByCookieHash(loser's cookie)", err, store.ErrNotFound)
}

func testConsumeExpired(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	cookie := func() []byte { return newSecretHash() }

	r := NewSessionRecord("alice")
	r.ExpiresAt = t0.Add(-time.Second)
	mustCreate(t, s, r)
	_, err := s.Consume(ctx, r.ID, cookie(), t0, t0.Add(time.Hour))
	wantErr(t, "Consume after expiry", err, store.ErrExpired)
	checkEqual(t, r, mustGet(t, s, r.ID))

	// Expiry is at millisecond precision: at the expiry's millisecond (even
	// before its nanoseconds) the record is expired; one nanosecond before
	// that millisecond it is not, and Record.Expired agrees.
	edge := NewSessionRecord("alice")
	edge.ExpiresAt = t0 // has sub-millisecond digits
	mustCreate(t, s, edge)
	stored := mustGet(t, s, edge.ID)
	atMs := ms(t0)
	if !stored.Expired(atMs) {
		t.Fatalf("Record.Expired at the expiry's millisecond is false")
	}
	_, err = s.Consume(ctx, edge.ID, cookie(), atMs, t0.Add(time.Hour))
	wantErr(t, "Consume at the expiry's millisecond", err, store.ErrExpired)
	_, err = s.Consume(ctx, edge.ID, cookie(), atMs.Add(500*time.Microsecond), t0.Add(time.Hour))
	wantErr(t, "Consume within the expiry's millisecond", err, store.ErrExpired)
	before := atMs.Add(-time.Nanosecond)
	if stored.Expired(before) {
		t.Fatalf("Record.Expired just before the expiry's millisecond is true")
	}
	if _, err := s.Consume(ctx, edge.ID, cookie(), before, t0.Add(time.Hour)); err != nil {
		t.Fatalf("Consume just before the expiry's millisecond: %v", err)
	}
}

func testConsumeConsumedAndExpired(t *testing.T, s store.Sessions) {
	r := NewSessionRecord("alice")
	r.Consumed = true
	r.ExpiresAt = t0.Add(-time.Minute)
	mustCreate(t, s, r)
	_, err := s.Consume(t.Context(), r.ID, nil, t0, t0.Add(time.Hour))
	wantErr(t, "Consume of a used and expired record", err, store.ErrConsumed)
}

func testConsumeUnknown(t *testing.T, s store.Sessions) {
	_, err := s.Consume(t.Context(), newID(), hashSecret("c"), t0, t0.Add(time.Hour))
	wantErr(t, "Consume(unknown)", err, store.ErrNotFound)
}

// raceConsume starts Racers goroutines that consume id at once, spread over
// stores, and counts successes and ErrConsumed answers.
func raceConsume(t *testing.T, stores []store.Sessions, id string) (wins, consumed int) {
	t.Helper()
	ctx := t.Context()
	var (
		start   = make(chan struct{})
		wg      sync.WaitGroup
		mu      sync.Mutex
		other   []error
		winners []store.Session
		cookies = make([][]byte, Racers)
	)
	for i := range Racers {
		cookies[i] = newSecretHash()
		wg.Go(func() {
			<-start
			r, err := stores[i%len(stores)].Consume(ctx, id, cookies[i], t0, t0.Add(15*time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
				winners = append(winners, r)
			case errors.Is(err, store.ErrConsumed):
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

func testConsumeConcurrent(t *testing.T, s store.Sessions) {
	r := NewSessionRecord("alice")
	mustCreate(t, s, r)
	wins, consumed := raceConsume(t, []store.Sessions{s}, r.ID)
	if wins != 1 || consumed != Racers-1 {
		t.Fatalf("%d successes and %d ErrConsumed, want 1 and %d", wins, consumed, Racers-1)
	}
}

func testConsumeCookieConflict(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	a, b := NewSessionRecord("alice"), NewSessionRecord("alice")
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	cookie := newSecretHash()
	if _, err := s.Consume(ctx, a.ID, cookie, t0, t0.Add(time.Hour)); err != nil {
		t.Fatalf("Consume: %v", err)
	}
	_, err := s.Consume(ctx, b.ID, cookie, t0, t0.Add(time.Hour))
	wantErr(t, "Consume with another record's cookie hash", err, store.ErrExists)
	checkEqual(t, b, mustGet(t, s, b.ID))
	got, err := s.ByCookieHash(ctx, cookie)
	if err != nil || got.ID != a.ID {
		t.Fatalf("ByCookieHash after the refused Consume: %s, %v; want %s", got.ID, err, a.ID)
	}
}

func testTouch(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	r := NewSessionRecord("alice")
	mustCreate(t, s, r)
	cookie := newSecretHash()
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
	fresh := NewSessionRecord("alice")
	mustCreate(t, s, fresh)
	if err := s.Touch(ctx, fresh.ID, t0, t0.Add(time.Minute)); err != nil {
		t.Fatalf("Touch of an unused record: %v", err)
	}

	wantErr(t, "Touch(unknown)", s.Touch(ctx, newID(), now, expires), store.ErrNotFound)

	late := want.ExpiresAt.Add(time.Millisecond)
	wantErr(t, "Touch after expiry", s.Touch(ctx, r.ID, late, late.Add(time.Hour)), store.ErrExpired)
	wantErr(t, "Touch at the expiry's millisecond",
		s.Touch(ctx, r.ID, ms(want.ExpiresAt), late.Add(time.Hour)), store.ErrExpired)
	checkEqual(t, want, mustGet(t, s, r.ID))
}

func testMarkTempCreated(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	r := NewSessionRecord("alice")
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
	_, err = s.MarkTempCreated(ctx, newID())
	wantErr(t, "MarkTempCreated(unknown)", err, store.ErrNotFound)

	// A record created with TempCreated already set is not changed.
	done := NewSessionRecord("alice")
	done.TempCreated = true
	mustCreate(t, s, done)
	if changed, err := s.MarkTempCreated(ctx, done.ID); err != nil || changed {
		t.Fatalf("MarkTempCreated of a created temp user: %v, %v; want false", changed, err)
	}
}

// raceMarkTemp starts Racers goroutines calling MarkTempCreated(id) at once
// and returns how many reported a change.
func raceMarkTemp(t *testing.T, stores []store.Sessions, id string) int {
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

func testMarkTempCreatedConcurrent(t *testing.T, s store.Sessions) {
	r := NewSessionRecord("alice")
	mustCreate(t, s, r)
	if n := raceMarkTemp(t, []store.Sessions{s}, r.ID); n != 1 {
		t.Fatalf("%d calls changed TempCreated, want exactly 1", n)
	}
	if !mustGet(t, s, r.ID).TempCreated {
		t.Fatalf("TempCreated not set")
	}
}

func testDelete(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	r := NewSessionRecord("alice")
	r.CookieHash = newSecretHash()
	keep := NewSessionRecord("alice")
	mustCreate(t, s, r)
	mustCreate(t, s, keep)
	got, err := s.Delete(ctx, r.ID)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkEqual(t, r, got)
	_, err = s.Delete(ctx, r.ID)
	wantErr(t, "second Delete", err, store.ErrNotFound)
	_, err = s.Get(ctx, r.ID)
	wantErr(t, "Get after Delete", err, store.ErrNotFound)
	_, err = s.ByLoginHash(ctx, r.LoginHash)
	wantErr(t, "ByLoginHash after Delete", err, store.ErrNotFound)
	_, err = s.ByCookieHash(ctx, r.CookieHash)
	wantErr(t, "ByCookieHash after Delete", err, store.ErrNotFound)
	_, err = s.Consume(ctx, r.ID, nil, t0, t0.Add(time.Hour))
	wantErr(t, "Consume after Delete", err, store.ErrNotFound)
	checkEqual(t, keep, mustGet(t, s, keep.ID))
	// Every key of the deleted record is free again.
	mustCreate(t, s, r)
	checkEqual(t, r, mustGet(t, s, r.ID))
}

func ids(rs []store.Session) []string {
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

func testDeleteByAccount(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	mk := func(account, user string) store.Session {
		r := NewSessionRecord(account)
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

func testList(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	var alice []store.Session
	var all []store.Session
	// Created out of order; two share a CreatedAt and are ordered by ID.
	for i, off := range []time.Duration{5, 1, 3, 3, 0, 4} {
		account := "alice"
		if i%3 == 2 {
			account = "bob"
		}
		r := NewSessionRecord(account)
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
	order := func(rs []store.Session) []string {
		rs = slices.Clone(rs)
		slices.SortFunc(rs, func(a, b store.Session) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		return ids(rs)
	}
	for _, tc := range []struct {
		account string
		want    []store.Session
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

func testSweep(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	var expired, live []string
	for i := range 7 {
		r := NewSessionRecord("alice")
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
		if _, err := s.Get(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
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
func createExpired(t *testing.T, s store.Sessions, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range n {
		r := NewSessionRecord("sweep")
		r.ExpiresAt = t0.Add(-time.Duration(i+1) * time.Second)
		mustCreate(t, s, r)
		out[i] = r.ID
	}
	return out
}

// checkSweepRace sweeps (in small batches) from several goroutines spread
// over stores while others delete the same records by id, and checks that
// every record is returned exactly once in all.
func checkSweepRace(t *testing.T, stores []store.Sessions, want []string) {
	t.Helper()
	ctx := t.Context()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]int{}
	)
	note := func(rs ...store.Session) {
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
			// Each call removes at least one record until none is left; a
			// store that keeps returning records stops the loop here.
			for range len(want) + 1 {
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
			t.Errorf("Sweep still returns records after %d calls", len(want)+1)
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
				case !errors.Is(err, store.ErrNotFound):
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

func testSweepConcurrent(t *testing.T, s store.Sessions) {
	ids := createExpired(t, s, 200)
	live := NewSessionRecord("sweep")
	mustCreate(t, s, live)
	checkSweepRace(t, []store.Sessions{s}, ids)
	mustGet(t, s, live.ID)
}

func testCopies(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	r := NewSessionRecord("alice")
	r.CookieHash = newSecretHash()
	want := r
	want.LoginHash, want.CookieHash = slices.Clone(r.LoginHash), slices.Clone(r.CookieHash)
	mustCreate(t, s, r)
	// Changing what was passed to Create changes nothing stored.
	clear(r.LoginHash)
	clear(r.CookieHash)
	checkEqual(t, want, mustGet(t, s, want.ID))

	scribble := func(rs ...store.Session) {
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
	u := NewSessionRecord("alice")
	mustCreate(t, s, u)
	cookie := newSecretHash()
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

func testEmptySlices(t *testing.T, s store.Sessions) {
	ctx := t.Context()
	// Password logins have no login secret; empty and nil hashes mean "none",
	// may repeat across records, and come back as nil.
	var made []store.Session
	for _, h := range [][]byte{nil, {}, nil, {}} {
		r := NewSessionRecord("alice")
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
		wantErr(t, "ByLoginHash(empty)", err, store.ErrNotFound)
		_, err = s.ByCookieHash(ctx, h)
		wantErr(t, "ByCookieHash(empty)", err, store.ErrNotFound)
	}
	// An empty cookie hash given to Consume is stored as none.
	r := NewSessionRecord("alice")
	mustCreate(t, s, r)
	got, err := s.Consume(ctx, r.ID, []byte{}, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatalf("Consume with an empty cookie hash: %v", err)
	}
	if got.CookieHash != nil {
		t.Errorf("Consume with an empty cookie hash stored %#v, want nil", got.CookieHash)
	}
	// Zero times survive the round trip.
	z := NewSessionRecord("alice")
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
