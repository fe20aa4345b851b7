package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

func openTest(t testing.TB) *sql.DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestStatementCache: statements run through the cache give the results of
// the uncached path, also when the same text runs again while its rows are
// still open, after the schema changed, for scripts and for errors.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	db.SetMaxOpenConns(1) // one connection: every run hits its cache
	if _, err := db.ExecContext(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL); CREATE INDEX kv_v ON kv (v)`); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := db.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, fmt.Sprint("k", i), i); err != nil {
			t.Fatal(err)
		}
	}
	get := func(k string) (int, error) {
		var v int
		err := db.QueryRowContext(ctx, `SELECT v FROM kv WHERE k = ?`, k).Scan(&v)
		return v, err
	}
	for i := range 50 {
		if v, err := get(fmt.Sprint("k", i)); err != nil || v != i {
			t.Fatalf("get k%d = %d, %v", i, v, err)
		}
	}
	if _, err := get("nope"); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("unknown key: %v, want sql.ErrNoRows", err)
	}

	// The same text while its rows are open (in one transaction, so on one
	// connection): the second run must not disturb the first.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	const q = `SELECT k, v FROM kv WHERE v < ? ORDER BY v`
	outer, err := tx.QueryContext(ctx, q, 10)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for outer.Next() {
		var k string
		var v int
		if err := outer.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		var cnt int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+q+`)`, v).Scan(&cnt); err != nil {
			t.Fatal(err)
		}
		inner, err := tx.QueryContext(ctx, q, v)
		if err != nil {
			t.Fatal(err)
		}
		m := 0
		for inner.Next() {
			m++
		}
		inner.Close()
		if m != v || cnt != v {
			t.Fatalf("nested run for v=%d saw %d rows (count %d)", v, m, cnt)
		}
		n++
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	outer.Close()
	tx.Rollback()
	if n != 10 {
		t.Fatalf("outer query saw %d rows, want 10", n)
	}

	// A schema change under a cached statement.
	if _, err := db.ExecContext(ctx, `ALTER TABLE kv ADD COLUMN note TEXT NOT NULL DEFAULT 'x'`); err != nil {
		t.Fatal(err)
	}
	if v, err := get("k7"); err != nil || v != 7 {
		t.Fatalf("after ALTER: %d, %v", v, err)
	}
	if _, err := db.ExecContext(ctx, `DROP TABLE kv`); err != nil {
		t.Fatal(err)
	}
	if _, err := get("k7"); err == nil {
		t.Fatal("query on a dropped table succeeded")
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, "k7", 70); err != nil {
		t.Fatal(err)
	}
	if v, err := get("k7"); err != nil || v != 70 {
		t.Fatalf("after re-creating the table: %d, %v", v, err)
	}
	// Errors come back as from the uncached path.
	if _, err := db.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, "k7", 1); err == nil {
		t.Fatal("duplicate key accepted")
	}
	if _, err := db.ExecContext(ctx, `SELEKT 1`); err == nil {
		t.Fatal("syntax error accepted")
	}
	cc := cacheOf(t, db)
	if cc == 0 || cc > maxCachedStmts {
		t.Fatalf("%d cached statements", cc)
	}
}

// cacheOf returns how many statements the (single) connection has cached.
func cacheOf(t *testing.T, db *sql.DB) int {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := -1
	conn.Raw(func(dc any) error {
		n = len(dc.(*cachingConn).cache)
		return nil
	})
	return n
}

// TestStatementCacheBounded: many distinct statements do not grow a
// connection's cache past its bound.
func TestStatementCacheBounded(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	db.SetMaxOpenConns(1)
	for i := range maxCachedStmts + 50 {
		var v int
		if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&v); err != nil || v != i {
			t.Fatalf("SELECT %d = %d, %v", i, v, err)
		}
	}
	if n := cacheOf(t, db); n != maxCachedStmts {
		t.Fatalf("%d cached statements, want the bound %d", n, maxCachedStmts)
	}
}

// TestStatementCacheConcurrent runs the same statements from many
// goroutines over the connection pool.
func TestStatementCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if _, err := db.ExecContext(ctx, `CREATE TABLE c (id INTEGER PRIMARY KEY, g INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				if _, err := db.ExecContext(ctx, `INSERT INTO c (g) VALUES (?)`, g); err != nil {
					t.Error(err)
					return
				}
				var n int
				if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM c WHERE g = ?`, g).Scan(&n); err != nil || n != i+1 {
					t.Errorf("goroutine %d: count %d, %v; want %d", g, n, err, i+1)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestCloseWithCachedStatements: closing the pool finalizes the cached
// statements (SQLite refuses to close a connection with live ones).
func TestCloseWithCachedStatements(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := db.QueryRow(`SELECT 1`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestBackgroundCheckpoint: committed pages reach the database file without
// a commit running the checkpoint, and the checkpointer stops with the
// *sql.DB.
func TestBackgroundCheckpoint(t *testing.T) {
	ctx := context.Background()
	before := runtime.NumGoroutine()
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE w (id INTEGER PRIMARY KEY, v BLOB)`); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if _, err := db.ExecContext(ctx, `INSERT INTO w (v) VALUES (randomblob(2000))`); err != nil {
			t.Fatal(err)
		}
	}
	// The commits went to the WAL; only a checkpoint writes the pages into
	// the database file, and no commit got near the automatic threshold.
	deadline := time.Now().Add(5 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() >= 200*2000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file is %d bytes: the WAL was not checkpointed", fi.Size())
		}
		time.Sleep(20 * time.Millisecond)
	}
	db.Close()
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before Open", runtime.NumGoroutine(), before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
