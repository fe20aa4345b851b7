// Package sqlite opens uapid's embedded database (one SQLite file in the data
// directory, pure-Go driver, WAL mode) and applies schema migrations. The
// directory and the session store each bring their own migration list and
// share one *sql.DB.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Migration is one schema step. Steps of a component are applied in order,
// each once, inside a transaction.
type Migration struct {
	Version int
	SQL     string
}

// Open opens (creating if needed) the SQLite database at path with the
// settings uapid relies on: WAL journal, foreign keys, a busy timeout so that
// the CLI and a running server can share the file. With WAL and
// synchronous=NORMAL a committed write is in the WAL file before the commit
// returns, so it survives a crash of the process (not necessarily a power
// loss of the machine).
func Open(path string) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{
		"busy_timeout(10000)",
		"journal_mode(WAL)",
		"foreign_keys(ON)",
		"synchronous(NORMAL)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetMaxOpenConns(8)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component TEXT NOT NULL,
		version   INTEGER NOT NULL,
		applied_at INTEGER NOT NULL,
		PRIMARY KEY (component, version))`); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: create migrations table: %w", path, err)
	}
	return db, nil
}

// Migrate applies the migrations of component that are not yet applied. It is
// safe to call from several processes at once: each step runs in an
// immediate (write-locked) transaction that re-checks whether it was applied.
func Migrate(ctx context.Context, db *sql.DB, component string, steps []Migration) error {
	for _, m := range steps {
		if err := applyOne(ctx, db, component, m); err != nil {
			return fmt.Errorf("migrate %s to version %d: %w", component, m.Version, err)
		}
	}
	return nil
}

func applyOne(ctx context.Context, db *sql.DB, component string, m Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM schema_migrations WHERE component = ? AND version = ?`,
		component, m.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)`,
		component, m.Version, time.Now().Unix()); err != nil {
		return err
	}
	return tx.Commit()
}
