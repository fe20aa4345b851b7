package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/uapid/uapid/internal/store/sqlstore/pgtest"
	"github.com/uapid/uapid/internal/store/storetest"
)

// handles returns the four stores of db as the conformance suite takes
// them.
func handles(db *DB) storetest.Handles {
	return storetest.Handles{Dir: db.Directory(), Packages: db.Packages(), Sessions: db.Sessions(), Ledger: db.Ledger(), Attempts: db.Attempts(), OAuth: db.OAuth(), Tickets: db.Tickets()}
}

// TestSQLite runs the conformance suite on SQLite: a fresh file per test;
// the pair is two *DB on one file, as the server and the CLI (two
// processes) see it.
func TestSQLite(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		New: func(t testing.TB) storetest.Handles {
			db, _ := tempSQLite(t)
			return handles(db)
		},
		Pair: func(t testing.TB) (a, b storetest.Handles) {
			path := filepath.Join(t.TempDir(), "uapid.db")
			return handles(openSQLiteAt(t, path)), handles(openSQLiteAt(t, path))
		},
	})
}

// TestPostgres runs the conformance suite on PostgreSQL: one database for
// the run, a fresh schema per test; the pair is two *DB (two pools, as
// two nodes) on one schema, sharing the secretbox key.
func TestPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	storetest.Run(t, storetest.Backend{
		New: func(t testing.TB) storetest.Handles {
			return handles(openPostgresAt(t, pgtest.Schema(t, dsn), nil))
		},
		Pair: func(t testing.TB) (a, b storetest.Handles) {
			schema := pgtest.Schema(t, dsn)
			return handles(openPostgresAt(t, schema, nil)), handles(openPostgresAt(t, schema, nil))
		},
	})
}
