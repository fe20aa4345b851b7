package session_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/session/sessiontest"
	"github.com/uapid/uapid/internal/sqlite"
)

// openDB opens path with internal/sqlite.Open and closes it when t ends.
func openDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sqlite.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func newSQLite(tb testing.TB, db *sql.DB) *session.SQLite {
	tb.Helper()
	s, err := session.NewSQLite(tb.Context(), db)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) session.Store {
		return newSQLite(t, openDB(t, filepath.Join(t.TempDir(), "uapid.db")))
	})
}

// TestSQLiteTwoHandles runs the suite through two *sql.DB handles on one
// file, as the server and the CLI (two processes) see it.
func TestSQLiteTwoHandles(t *testing.T) {
	sessiontest.RunShared(t, func(t *testing.T) (a, b session.Store) {
		path := filepath.Join(t.TempDir(), "uapid.db")
		return newSQLite(t, openDB(t, path)), newSQLite(t, openDB(t, path))
	})
}

// TestSQLiteReopen checks that the schema is applied once and that records
// survive closing and reopening the file.
func TestSQLiteReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uapid.db")
	db := openDB(t, path)
	s := newSQLite(t, db)
	r := sessiontest.NewRecord("alice")
	if err := s.Create(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db.Close()

	s2 := newSQLite(t, openDB(t, path))
	got, err := s2.Get(t.Context(), r.ID)
	if err != nil {
		t.Fatalf("Get after reopening: %v", err)
	}
	if got.Token != r.Token || !got.ExpiresAt.Equal(r.ExpiresAt.Truncate(time.Millisecond)) {
		t.Fatalf("record changed across reopening: %+v", got)
	}
}

func benchSQLite(b *testing.B) *session.SQLite {
	return newSQLite(b, openDB(b, filepath.Join(b.TempDir(), "uapid.db")))
}

func BenchmarkSQLiteCreate(b *testing.B) {
	s := benchSQLite(b)
	recs := benchRecords(b.N)
	b.ResetTimer()
	for i := range b.N {
		if err := s.Create(b.Context(), recs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSQLiteConsume(b *testing.B) {
	s := benchSQLite(b)
	recs := benchRecords(b.N)
	for _, r := range recs {
		if err := s.Create(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
	cookies := benchCookies(b.N)
	now := time.Now()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Consume(b.Context(), recs[i].ID, cookies[i], now, now.Add(15*time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSQLiteSchema checks that the migration created the indexes and that
// the hot queries use them rather than scanning the table.
func TestSQLiteSchema(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "uapid.db"))
	newSQLite(t, db)
	newSQLite(t, db) // applying the migrations again is a no-op
	for _, tc := range []struct{ query, wantIndex string }{
		{`SELECT id FROM sessions WHERE expires_at <= 1 ORDER BY expires_at LIMIT 10`, "sessions_expires_at"},
		{`SELECT id FROM sessions WHERE account = 'a' ORDER BY created_at, id`, "sessions_account"},
		{`SELECT id FROM sessions WHERE login_hash = x'00'`, "autoindex"},
		{`SELECT id FROM sessions WHERE cookie_hash = x'00'`, "autoindex"},
	} {
		rows, err := db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		if !strings.Contains(joined, tc.wantIndex) || strings.Contains(joined, "SCAN sessions") {
			t.Errorf("plan for %q: %s; want a search using %s", tc.query, joined, tc.wantIndex)
		}
	}
}
