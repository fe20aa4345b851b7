package session_test

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/sqlstore"
)

var (
	reTicket = regexp.MustCompile(`^[0-9a-f]{32}$`)
	reHandle = regexp.MustCompile(`^[a-z2-7]{20}\.[0-9a-f]{64}$`)
)

// newManager returns a manager on a fresh SQLite store with a clock the
// test moves.
func newManager(t *testing.T) (*session.Manager, *time.Time) {
	t.Helper()
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "uapid.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now()
	m := &session.Manager{Store: db.Sessions(), Tickets: db.Tickets(), LoginTTL: 5 * time.Minute,
		Idle: 15 * time.Minute, Max: 24 * time.Hour, Now: func() time.Time { return now }}
	return m, &now
}

// loggedIn creates a logged-in session of service for alice.
func loggedIn(t *testing.T, m *session.Manager, service string) store.Session {
	t.Helper()
	r, _, err := m.CreateLoggedIn(context.Background(), session.NewSession{User: "alice", Account: "alice",
		Service: service, Tag: "PASSWORD_LOGIN", Creator: "alice", Method: "password"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTicketShape(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tk := session.NewTicket()
		if !reTicket.MatchString(tk) || !session.ValidTicket(tk) {
			t.Fatalf("bad ticket %q", tk)
		}
		seen[tk] = true
	}
	if len(seen) != 1000 {
		t.Fatalf("%d distinct tickets of 1000", len(seen))
	}
	for _, bad := range []string{"", "0123456789abcdef0123456789abcde", "0123456789ABCDEF0123456789abcdef",
		"0123456789abcdef0123456789abcdef0", "0123456789abcdef0123456789abcdeg"} {
		if session.ValidTicket(bad) {
			t.Errorf("ValidTicket(%q) = true", bad)
		}
	}
}

func TestSignOnHandle(t *testing.T) {
	r := store.Session{ID: session.NewID(), TempUser: "cpses_al01234567", TempPass: strings.Repeat("x", 32)}
	h := session.SignOnHandle(r)
	if !reHandle.MatchString(h) || !strings.HasPrefix(h, r.ID+".") {
		t.Fatalf("handle %q does not have the documented shape", h)
	}
	if strings.Contains(h, r.TempPass) {
		t.Fatal("the handle shows the password")
	}
	if id, ok := session.ParseSignOnHandle(h); !ok || id != r.ID {
		t.Fatalf("ParseSignOnHandle(%q) = %q, %v", h, id, ok)
	}
	if session.SignOnHandle(r) != h {
		t.Fatal("the handle of one session changes")
	}
	other := r
	other.TempPass = strings.Repeat("y", 32)
	if session.SignOnHandle(other) == h {
		t.Fatal("sessions with other passwords have the same handle")
	}
	for _, bad := range []string{"", r.ID, r.ID + ".", strings.ToUpper(h), h + "0", h[:len(h)-1],
		"0" + h[1:], r.ID + "-" + h[len(r.ID)+1:], strings.Replace(h, ".", "..", 1)} {
		if _, ok := session.ParseSignOnHandle(bad); ok {
			t.Errorf("ParseSignOnHandle(%q) accepted", bad)
		}
	}
}

func TestIssueAndTakeTicket(t *testing.T) {
	ctx := context.Background()
	m, now := newManager(t)
	r := loggedIn(t, m, "cpaneld")
	tk, err := m.IssueTicket(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if !session.ValidTicket(tk) {
		t.Fatalf("issued ticket %q is malformed", tk)
	}
	got, err := m.TakeTicket(ctx, tk)
	if err != nil || got.ID != r.ID {
		t.Fatalf("TakeTicket = %s, %v; want session %s", got.ID, err, r.ID)
	}
	if _, err := m.TakeTicket(ctx, tk); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second TakeTicket: %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "nonsense", session.NewTicket()} {
		if _, err := m.TakeTicket(ctx, bad); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TakeTicket(%q): %v, want ErrNotFound", bad, err)
		}
	}

	// A ticket lives DefaultTicketTTL.
	tk, err = m.IssueTicket(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	*now = now.Add(session.DefaultTicketTTL)
	if _, err := m.TakeTicket(ctx, tk); !errors.Is(err, store.ErrExpired) {
		t.Fatalf("TakeTicket after its lifetime: %v, want ErrExpired", err)
	}

	// Never past the session's expiry.
	*now = r.ExpiresAt.Add(-time.Second)
	tk, err = m.IssueTicket(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	*now = r.ExpiresAt
	if _, err := m.TakeTicket(ctx, tk); !errors.Is(err, store.ErrExpired) {
		t.Fatalf("TakeTicket at the session's expiry: %v, want ErrExpired", err)
	}

	// The sweep removes expired tickets.
	*now = time.Now()
	tk, err = m.IssueTicket(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	*now = now.Add(time.Hour)
	if _, err := m.Sweep(ctx, 100); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(-time.Hour)
	if _, err := m.TakeTicket(ctx, tk); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TakeTicket of a swept ticket: %v, want ErrNotFound", err)
	}
}

// fakeTempUsers counts creations; fail makes the next one fail.
type fakeTempUsers struct {
	configured bool
	calls      atomic.Int32
	fail       atomic.Bool
	via        sync.Map
}

func (f *fakeTempUsers) Configured() bool { return f.configured }

func (f *fakeTempUsers) Create(_ context.Context, r store.Session, via string) error {
	f.calls.Add(1)
	f.via.Store(via, true)
	if f.fail.Swap(false) {
		return errors.New("the database server said no")
	}
	return nil
}

func TestCreateTempUser(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t)
	users := &fakeTempUsers{}
	m.TempUsers = users
	cp := loggedIn(t, m, "cpaneld")
	wm := loggedIn(t, m, "webmaild")

	if _, _, err := m.CreateTempUser(ctx, cp.ID, "test"); !errors.Is(err, session.ErrNoTempDB) {
		t.Fatalf("without a database server: %v, want ErrNoTempDB", err)
	}
	users.configured = true
	if _, created, err := m.CreateTempUser(ctx, wm.ID, "test"); err != nil || created {
		t.Fatalf("a Webmail session: created %v, %v; want false, nil", created, err)
	}
	if _, _, err := m.CreateTempUser(ctx, session.NewID(), "test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown session: %v, want ErrNotFound", err)
	}

	// A failed creation leaves the session free to try again.
	users.fail.Store(true)
	if _, _, err := m.CreateTempUser(ctx, cp.ID, "test"); err == nil {
		t.Fatal("a failed creation answered no error")
	}
	if r, _ := m.Store.Get(ctx, cp.ID); r.TempCreated {
		t.Fatal("a failed creation marked the session")
	}

	// Of several concurrent calls exactly one reports created.
	var wg sync.WaitGroup
	var won atomic.Int32
	for range 8 {
		wg.Go(func() {
			r, created, err := m.CreateTempUser(ctx, cp.ID, "sign-on")
			if err != nil {
				t.Error(err)
				return
			}
			if r.TempUser != cp.TempUser || r.TempPass != cp.TempPass || !r.TempCreated {
				t.Error("CreateTempUser returned another record")
			}
			if created {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d concurrent calls reported created, want 1", won.Load())
	}
	before := users.calls.Load()
	if _, created, err := m.CreateTempUser(ctx, cp.ID, "test"); err != nil || created {
		t.Fatalf("after creation: created %v, %v; want false, nil", created, err)
	}
	if users.calls.Load() != before {
		t.Fatal("a created user was created again")
	}
	if _, ok := users.via.Load("sign-on"); !ok {
		t.Fatal("the caller's name did not reach the creator")
	}
}
