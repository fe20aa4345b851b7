package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/directory"
	"github.com/uapid/uapid/internal/directory/directorytest"
	"github.com/uapid/uapid/internal/pgstore"
	"github.com/uapid/uapid/internal/pgstore/pgtest"
	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/session/sessiontest"
)

// open opens the store at dsn and closes it when t ends.
func open(t testing.TB, dsn string) *pgstore.DB {
	t.Helper()
	db, err := pgstore.Open(context.Background(), dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func newBox(t testing.TB, key []byte) *secretbox.Box {
	t.Helper()
	b, err := secretbox.New(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sessions(t testing.TB, db *pgstore.DB, box *secretbox.Box) *pgstore.Sessions {
	t.Helper()
	s, err := pgstore.NewSessions(db, box)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSessions runs the session store conformance suite against
// PostgreSQL, each subtest in a fresh schema.
func TestSessions(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	key := secretbox.NewKey()
	sessiontest.Run(t, func(t *testing.T) session.Store {
		return sessions(t, open(t, pgtest.Schema(t, dsn)), newBox(t, key))
	})
}

// TestSessionsTwoNodes runs the shared tests through two pools on one
// schema, as two uapid nodes see it.
func TestSessionsTwoNodes(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	key := secretbox.NewKey()
	sessiontest.RunShared(t, func(t *testing.T) (a, b session.Store) {
		schema := pgtest.Schema(t, dsn)
		return sessions(t, open(t, schema), newBox(t, key)), sessions(t, open(t, schema), newBox(t, key))
	})
}

// TestDirectory runs the directory conformance suite against PostgreSQL.
func TestDirectory(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	directorytest.Run(t, func(t testing.TB) directory.Directory {
		return pgstore.NewDirectory(open(t, pgtest.Schema(t, dsn)))
	})
}

func TestDirectoryTwoNodes(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	directorytest.RunShared(t, func(t testing.TB) (a, b directory.Directory) {
		schema := pgtest.Schema(t, dsn)
		return pgstore.NewDirectory(open(t, schema)), pgstore.NewDirectory(open(t, schema))
	})
}

// TestMigrateConcurrently starts several nodes on one empty schema at the
// same moment: every one comes up, and each migration step is applied once.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	schema := pgtest.Schema(t, pgtest.NewDatabase(t))
	const nodes = 8
	var wg sync.WaitGroup
	errs := make(chan error, nodes)
	start := make(chan struct{})
	for range nodes {
		wg.Go(func() {
			<-start
			db, err := pgstore.Open(context.Background(), schema, pgstore.Options{MaxConns: 2})
			if err != nil {
				errs <- err
				return
			}
			db.Close()
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent start: %v", err)
	}
	db := open(t, schema)
	rows, err := db.Pool().Query(t.Context(), `SELECT component, count(*) FROM uapid_schema_migrations GROUP BY component ORDER BY component`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var c string
		var n int
		if err := rows.Scan(&c, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("component %s has %d migration rows, want 1", c, n)
		}
		got = append(got, c)
	}
	if strings.Join(got, ",") != "directory,sessions,tempdb" {
		t.Errorf("migrated components %v", got)
	}
	if g, err := pgstore.NewDirectory(db).Generation(t.Context()); err != nil || g != 1 {
		t.Errorf("generation after concurrent starts = %d, %v; want 1 (state row inserted once)", g, err)
	}
}

// TestNewerSchemaRefused: a node must not run on a schema migrated by a
// newer uapid.
func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	schema := pgtest.Schema(t, pgtest.NewDatabase(t))
	db := open(t, schema)
	if _, err := db.Pool().Exec(t.Context(), `INSERT INTO uapid_schema_migrations (component, version) VALUES ('sessions', 99)`); err != nil {
		t.Fatal(err)
	}
	_, err := pgstore.Open(t.Context(), schema, pgstore.Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this uapid knows") {
		t.Fatalf("Open on a newer schema: %v", err)
	}
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://u:s3cr3tpw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2",
		"postgres://u:s3cr3tpw@[::1/x",
	} {
		_, err := pgstore.Open(t.Context(), dsn, pgstore.Options{})
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "s3cr3tpw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// TestSecretsAtRest checks that the temporary password and the return URL
// are sealed in the table, bound to their record, and readable after a key
// rotation only while the old key is configured.
func TestSecretsAtRest(t *testing.T) {
	t.Parallel()
	db := open(t, pgtest.Schema(t, pgtest.NewDatabase(t)))
	ctx := t.Context()
	k1, k2 := secretbox.NewKey(), secretbox.NewKey()
	s1 := sessions(t, db, newBox(t, k1))
	r := sessiontest.NewRecord("alice")
	if err := s1.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	var retURL, tempPass []byte
	var tempUser string
	if err := db.Pool().QueryRow(ctx, `SELECT return_url, temp_pass, temp_user FROM sessions WHERE id = $1`, r.ID).
		Scan(&retURL, &tempPass, &tempUser); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(retURL, []byte("back?x=1")) || bytes.Contains(tempPass, []byte(r.TempPass)) {
		t.Fatal("a secret is stored in clear")
	}
	if len(tempPass) != len(r.TempPass)+secretbox.Overhead || tempUser != r.TempUser {
		t.Fatalf("stored temp_pass has %d bytes; temp_user %q", len(tempPass), tempUser)
	}

	// Rotation: the new key reads old records only with the old key set.
	rotated, err := secretbox.New(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	s2 := sessions(t, db, rotated)
	got, err := s2.Get(ctx, r.ID)
	if err != nil || got.TempPass != r.TempPass || got.ReturnURL != r.ReturnURL {
		t.Fatalf("Get after rotation: %+v, %v", got, err)
	}
	r2 := sessiontest.NewRecord("alice")
	if err := s2.Create(ctx, r2); err != nil {
		t.Fatal(err)
	}
	s3 := sessions(t, db, newBox(t, k2))
	if _, err := s3.Get(ctx, r2.ID); err != nil {
		t.Fatalf("a record sealed under the new key needs the old one: %v", err)
	}
	if _, err := s3.Get(ctx, r.ID); !errors.Is(err, secretbox.ErrUnknownKey) {
		t.Fatalf("old record without the old key: %v, want ErrUnknownKey", err)
	}
	if _, err := sessions(t, db, newBox(t, secretbox.NewKey())).Get(ctx, r.ID); err == nil {
		t.Fatal("a wrong key opened the record")
	}

	// A sealed value moved to another record does not open there.
	if _, err := db.Pool().Exec(ctx, `UPDATE sessions SET temp_pass = (SELECT temp_pass FROM sessions WHERE id = $1) WHERE id = $2`, r2.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Get(ctx, r.ID); !errors.Is(err, secretbox.ErrOpen) {
		t.Fatalf("swapped ciphertext: %v, want ErrOpen", err)
	}

	if _, err := pgstore.NewSessions(db, nil); err == nil {
		t.Fatal("NewSessions without a key succeeded")
	}
}

// TestTextLimits: what PostgreSQL text cannot hold is refused, not an
// internal error; lookups of such keys find nothing.
func TestTextLimits(t *testing.T) {
	t.Parallel()
	s := sessions(t, open(t, pgtest.Schema(t, pgtest.NewDatabase(t))), newBox(t, secretbox.NewKey()))
	ctx := t.Context()
	for _, bad := range []string{"a\x00b", "\xff\xfe"} {
		r := sessiontest.NewRecord("alice")
		r.User = bad
		if err := s.Create(ctx, r); !errors.Is(err, session.ErrInvalid) {
			t.Errorf("Create with user %q: %v, want ErrInvalid", bad, err)
		}
		if _, err := s.Get(ctx, bad); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", bad, err)
		}
		if _, err := s.Delete(ctx, bad); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Delete(%q): %v, want ErrNotFound", bad, err)
		}
	}
	// Sealed fields may hold any bytes.
	r := sessiontest.NewRecord("alice")
	r.ReturnURL = "x\x00\xff"
	if err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, r.ID); err != nil || got.ReturnURL != r.ReturnURL {
		t.Fatalf("binary return URL: %q, %v", got.ReturnURL, err)
	}
}

// TestQueriesUseIndexes checks that expiry sweeps and per-account queries
// can walk their indexes rather than scan the table.
func TestQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	db := open(t, pgtest.Schema(t, pgtest.NewDatabase(t)))
	conn, err := db.Pool().Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(t.Context(), `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.WithoutCancel(t.Context()), `RESET enable_seqscan`)
	for _, tc := range []struct{ query, index string }{
		{`SELECT id FROM sessions WHERE expires_at <= 1 ORDER BY expires_at LIMIT 10 FOR UPDATE SKIP LOCKED`, "sessions_expires_at"},
		{`SELECT id FROM sessions WHERE account = 'a' ORDER BY created_at, id`, "sessions_account"},
		{`SELECT id FROM sessions WHERE login_hash = '\x00'`, "sessions_login_hash_key"},
		{`SELECT id FROM sessions WHERE cookie_hash = '\x00'`, "sessions_cookie_hash_key"},
		{`SELECT name FROM temp_users WHERE session_id = 'x'`, "temp_users_session"},
	} {
		rows, err := conn.Query(t.Context(), `EXPLAIN `+tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			rows.Scan(&line)
			plan = append(plan, line)
		}
		rows.Close()
		if p := strings.Join(plan, "\n"); !strings.Contains(p, tc.index) {
			t.Errorf("plan of %s does not use %s:\n%s", tc.query, tc.index, p)
		}
	}
}

// TestSweepTwoNodesUnderLoad sweeps from two nodes while a third keeps
// creating and consuming: no record is returned twice, none is lost, live
// ones stay.
func TestSweepTwoNodesUnderLoad(t *testing.T) {
	t.Parallel()
	schema := pgtest.Schema(t, pgtest.NewDatabase(t))
	key := secretbox.NewKey()
	a, b, c := sessions(t, open(t, schema), newBox(t, key)), sessions(t, open(t, schema), newBox(t, key)), sessions(t, open(t, schema), newBox(t, key))
	ctx := t.Context()
	now := time.Now()
	const n = 300
	for i := range n {
		r := sessiontest.NewRecord("sweep")
		r.ExpiresAt = now.Add(-time.Duration(i+1) * time.Millisecond)
		if err := c.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var live []string
	var wg sync.WaitGroup
	for _, s := range []*pgstore.Sessions{a, b} {
		wg.Go(func() {
			for {
				rs, err := s.Sweep(ctx, now, 13)
				if err != nil {
					t.Error(err)
					return
				}
				if len(rs) == 0 {
					return
				}
				mu.Lock()
				for _, r := range rs {
					seen[r.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			r := sessiontest.NewRecord("live")
			r.ExpiresAt = now.Add(time.Hour)
			if err := c.Create(ctx, r); err != nil {
				t.Error(err)
				return
			}
			if _, err := c.Consume(ctx, r.ID, nil, now, now.Add(time.Hour)); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			live = append(live, r.ID)
			mu.Unlock()
		}
	})
	wg.Wait()
	if len(seen) != n {
		t.Errorf("swept %d records, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("record %s swept %d times", id, k)
		}
	}
	for _, id := range live {
		if _, err := a.Get(ctx, id); err != nil {
			t.Errorf("live record %s: %v", id, err)
		}
	}
}
