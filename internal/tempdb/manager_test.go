package tempdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/uapid/uapid/internal/store"
)

// fakeServer is an in-memory Server that checks the ledger-first rule.
type fakeServer struct {
	kind   string
	ledger store.Ledger
	t      testing.TB

	mu         sync.Mutex
	users      map[string]User
	dropCalls  []string
	failCreate error
	failDrop   error
	onCreate   func(u User)
}

func newFake(t testing.TB, kind string, l store.Ledger) *fakeServer {
	return &fakeServer{kind: kind, ledger: l, t: t, users: map[string]User{}}
}

func (f *fakeServer) Kind() string { return f.kind }
func (f *fakeServer) Close() error { return nil }

func (f *fakeServer) Create(ctx context.Context, u User) error {
	all, err := f.ledger.ListTempUsers(ctx)
	if err != nil {
		return err
	}
	recorded := false
	for _, e := range all {
		recorded = recorded || e.Name == u.Name
	}
	if !recorded {
		f.t.Errorf("%s: Create of a user that is not in the ledger", f.kind)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failCreate != nil {
		return f.failCreate
	}
	f.users[u.Name] = u
	if f.onCreate != nil {
		f.onCreate(u)
	}
	return nil
}

func (f *fakeServer) Drop(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropCalls = append(f.dropCalls, name)
	if f.failDrop != nil {
		return f.failDrop
	}
	delete(f.users, name)
	return nil
}

func (f *fakeServer) Exists(ctx context.Context, name string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.users[name]
	return ok, nil
}

func (f *fakeServer) has(name string) bool {
	ok, _ := f.Exists(context.Background(), name)
	return ok
}

func ledgerNames(t testing.TB, l store.Ledger) []string {
	t.Helper()
	all, err := l.ListTempUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range all {
		out = append(out, u.Name)
	}
	return out
}

func TestManagerNotConfigured(t *testing.T) {
	ctx := context.Background()
	var nilM *Manager
	if nilM.Configured() {
		t.Error("nil Manager is configured")
	}
	l, _ := testLedger(t)
	m := &Manager{Ledger: l}
	if m.Configured() {
		t.Error("Manager without servers is configured")
	}
	u := testUser(t, "alice", "s1")
	if err := m.Create(ctx, u); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("Create = %v, want ErrNotConfigured", err)
	}
	if err := m.Drop(ctx, u.Name); err != nil {
		t.Errorf("Drop = %v", err)
	}
	if n, err := m.Sweep(ctx, func(context.Context, string) (bool, error) { return false, nil }); n != 0 || err != nil {
		t.Errorf("Sweep = %d, %v", n, err)
	}
	if names := ledgerNames(t, l); len(names) != 0 {
		t.Errorf("ledger = %v", names)
	}
}

func TestManagerCreateDrop(t *testing.T) {
	ctx := context.Background()
	l, _ := testLedger(t)
	a, b := newFake(t, "mysql", l), newFake(t, "postgresql", l)
	log, logs := testLogger()
	m := &Manager{Ledger: l, Servers: []Server{a, b}, Log: log}
	if !m.Configured() {
		t.Fatal("not configured")
	}
	u := testUser(t, "alice", "sess-1")
	if err := m.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	if !a.has(u.Name) || !b.has(u.Name) {
		t.Fatal("user not created on every server")
	}
	if got := ledgerNames(t, l); len(got) != 1 || got[0] != u.Name {
		t.Fatalf("ledger = %v", got)
	}
	if err := m.Drop(ctx, u.Name); err != nil {
		t.Fatal(err)
	}
	if a.has(u.Name) || b.has(u.Name) || len(ledgerNames(t, l)) != 0 {
		t.Fatal("user not dropped everywhere")
	}
	// Drop again, and Drop of "": nothing to do, no server touched.
	a.dropCalls = nil
	if err := m.Drop(ctx, u.Name); err != nil {
		t.Fatal(err)
	}
	if err := m.Drop(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if len(a.dropCalls) != 0 {
		t.Errorf("Drop of an unrecorded name reached the server: %v", a.dropCalls)
	}

	out := logs.String()
	assertNoSecrets(t, "log", out, u)
	for _, want := range []string{"temporary database user created", "temporary database user dropped",
		"user_fp=" + Fingerprint(u.Name), "account=alice", "session=sess-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestManagerCreateInvalid(t *testing.T) {
	l, _ := testLedger(t)
	a := newFake(t, "mysql", l)
	m := &Manager{Ledger: l, Servers: []Server{a}}
	u := testUser(t, "alice", "s")
	u.Password = "bad\x00pw"
	if err := m.Create(context.Background(), u); !errors.Is(err, ErrInvalidUser) {
		t.Fatalf("Create = %v, want ErrInvalidUser", err)
	}
	if len(ledgerNames(t, l)) != 0 || a.has(u.Name) {
		t.Fatal("invalid user was recorded or created")
	}
}

func TestManagerCreateRollback(t *testing.T) {
	ctx := context.Background()
	l, _ := testLedger(t)
	a, b := newFake(t, "mysql", l), newFake(t, "postgresql", l)
	u := testUser(t, "alice", "sess-1")
	b.failCreate = fmt.Errorf("boom")
	log, logs := testLogger()
	m := &Manager{Ledger: l, Servers: []Server{a, b}, Log: log}
	err := m.Create(ctx, u)
	if err == nil || !strings.Contains(err.Error(), "postgresql") || !strings.Contains(err.Error(), Fingerprint(u.Name)) {
		t.Fatalf("Create = %v, want a postgresql failure naming the fingerprint", err)
	}
	assertNoSecrets(t, "error", err.Error(), u)
	if a.has(u.Name) {
		t.Error("user left on the first server")
	}
	if !containsStr(b.dropCalls, u.Name) {
		t.Error("failing server was not asked to drop the user")
	}
	if len(ledgerNames(t, l)) != 0 {
		t.Error("ledger entry left although every drop succeeded")
	}
	assertNoSecrets(t, "log", logs.String(), u)

	// If the undo fails too, the ledger entry stays for the drop at session
	// end or the sweeper.
	a.failDrop = fmt.Errorf("server down")
	u2 := testUser(t, "alice", "sess-2")
	if err := m.Create(ctx, u2); err == nil {
		t.Fatal("Create succeeded")
	}
	if got := ledgerNames(t, l); len(got) != 1 || got[0] != u2.Name {
		t.Fatalf("ledger = %v, want the entry kept", got)
	}
	// The server recovers: the sweeper finishes the job.
	a.failDrop = nil
	n, err := m.Sweep(ctx, func(context.Context, string) (bool, error) { return false, nil })
	if n != 1 || err != nil || a.has(u2.Name) || len(ledgerNames(t, l)) != 0 {
		t.Fatalf("Sweep = %d, %v; ledger %v", n, err, ledgerNames(t, l))
	}
}

func TestManagerCreateSessionEndedMeanwhile(t *testing.T) {
	ctx := context.Background()
	l, _ := testLedger(t)
	a := newFake(t, "mysql", l)
	// Another process's Drop removes the ledger entry while we create.
	a.onCreate = func(u User) { l.RemoveTempUser(ctx, u.Name) }
	m := &Manager{Ledger: l, Servers: []Server{a}}
	u := testUser(t, "alice", "s")
	if err := m.Create(ctx, u); !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("Create = %v, want ErrSessionEnded", err)
	}
	if a.has(u.Name) {
		t.Fatal("user left behind unrecorded")
	}
}

func TestManagerDropKeepsLedgerOnFailure(t *testing.T) {
	ctx := context.Background()
	l, _ := testLedger(t)
	a, b := newFake(t, "mysql", l), newFake(t, "postgresql", l)
	m := &Manager{Ledger: l, Servers: []Server{a, b}}
	u := testUser(t, "alice", "s")
	if err := m.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	a.failDrop = fmt.Errorf("server down")
	err := m.Drop(ctx, u.Name)
	if err == nil || !strings.Contains(err.Error(), "mysql") {
		t.Fatalf("Drop = %v", err)
	}
	assertNoSecrets(t, "error", err.Error(), u)
	if b.has(u.Name) {
		t.Error("the healthy server did not drop the user")
	}
	if got := ledgerNames(t, l); len(got) != 1 {
		t.Fatalf("ledger = %v, want the entry kept", got)
	}
	a.failDrop = nil
	if err := m.Drop(ctx, u.Name); err != nil {
		t.Fatal(err)
	}
	if a.has(u.Name) || len(ledgerNames(t, l)) != 0 {
		t.Fatal("not dropped after recovery")
	}
}

func TestManagerSweep(t *testing.T) {
	ctx := context.Background()
	l, _ := testLedger(t)
	a := newFake(t, "mysql", l)
	m := &Manager{Ledger: l, Servers: []Server{a}}
	live := testUser(t, "alice", "live")
	dead := testUser(t, "alice", "dead")
	unknown := testUser(t, "bob", "unknown")
	for _, u := range []User{live, dead, unknown} {
		if err := m.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	// A user on the server that uapid never recorded.
	foreign := testUser(t, "carol", "foreign")
	a.users[foreign.Name] = foreign

	n, err := m.Sweep(ctx, func(_ context.Context, id string) (bool, error) {
		switch id {
		case "live":
			return true, nil
		case "dead":
			return false, nil
		}
		return false, errors.New("store unavailable")
	})
	if n != 1 {
		t.Errorf("Sweep dropped %d, want 1", n)
	}
	if err == nil || !strings.Contains(err.Error(), "store unavailable") {
		t.Errorf("Sweep error = %v, want the liveness error", err)
	}
	if !a.has(live.Name) || a.has(dead.Name) || !a.has(unknown.Name) || !a.has(foreign.Name) {
		t.Errorf("after Sweep: live %v dead %v unknown %v foreign %v",
			a.has(live.Name), a.has(dead.Name), a.has(unknown.Name), a.has(foreign.Name))
	}
	if got := ledgerNames(t, l); len(got) != 2 || containsStr(got, dead.Name) {
		t.Errorf("ledger = %v", got)
	}
	if containsStr(a.dropCalls, foreign.Name) {
		t.Error("Sweep touched an unrecorded user")
	}
}

func TestManagerConcurrent(t *testing.T) {
	ctx := context.Background()
	l, _ := testLedger(t)
	a := newFake(t, "mysql", l)
	m := &Manager{Ledger: l, Servers: []Server{a}}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := testUser(t, "alice", fmt.Sprint("s", i))
			if err := m.Create(ctx, u); err != nil {
				t.Error(err)
				return
			}
			if err := m.Drop(ctx, u.Name); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := ledgerNames(t, l); len(got) != 0 || len(a.users) != 0 {
		t.Fatalf("left: ledger %v, server %d", got, len(a.users))
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
