package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite" // the plain driver, for comparison
)

// benchPointQuery runs a primary-key lookup, as the directory and the
// session store do on every request, through db.QueryRowContext: of one
// column, or (wide) of a row shaped like a session record (19 columns).
func benchPointQuery(b *testing.B, db *sql.DB, wide bool) {
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL,
		a TEXT, c TEXT, d TEXT, e TEXT, f BLOB, g INTEGER, h BLOB, i TEXT, j TEXT, l TEXT, m TEXT,
		n TEXT, o TEXT, p INTEGER, q INTEGER, r INTEGER)`); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if _, err := db.ExecContext(ctx, `INSERT INTO kv VALUES (?, ?, 'a', 'c', 'd', 'e', x'00', 1, NULL,
			'i', 'j', 'l', 'm', 'n', 'o', 1, 2, 3)`, fmt.Sprint("k", i), i); err != nil {
			b.Fatal(err)
		}
	}
	query := `SELECT v FROM kv WHERE k = ?`
	if wide {
		query = `SELECT k, v, a, c, d, e, f, g, h, i, j, l, m, n, o, p, q, r FROM kv WHERE k = ?`
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		rows, err := db.QueryContext(ctx, query, fmt.Sprint("k", i%1000))
		if err != nil {
			b.Fatal(err)
		}
		if !rows.Next() {
			b.Fatal("no row")
		}
		rows.Close()
	}
}

// The Cached benchmarks query through Open (statements stay prepared on
// each connection), the Uncached ones through the plain driver.
func BenchmarkPointQueryCached(b *testing.B)    { benchPointQuery(b, openBench(b), false) }
func BenchmarkRecordQueryCached(b *testing.B)   { benchPointQuery(b, openBench(b), true) }
func BenchmarkPointQueryUncached(b *testing.B)  { benchPointQuery(b, openPlain(b), false) }
func BenchmarkRecordQueryUncached(b *testing.B) { benchPointQuery(b, openPlain(b), true) }

func openBench(b *testing.B) *sql.DB {
	db, err := Open(filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// openPlain opens the same file through the plain driver, which prepares
// (parses and plans) every statement on every call.
func openPlain(b *testing.B) *sql.DB {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "b.db")+"?"+q.Encode())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxIdleConns(8)
	return db
}
