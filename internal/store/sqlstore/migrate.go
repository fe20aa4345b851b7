package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migrationFiles are the schema steps of every component, one file per
// step and dialect: <component>.<version>.<dialect>.sql. A dialect may
// skip a version of a component (a step that only one database needs).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// retired are the components of earlier releases that a step of this
// code folds into another one, deleting their rows from the bookkeeping
// (directory.2.sqlite.sql takes in "whmacct"), with the last version
// those releases applied. A store that still lists them is older than
// this code, not newer.
var retired = map[string]int{"whmacct": 1}

type migration struct {
	component string
	version   int
	sql       string
}

// migrations returns the steps of dialect in the order they are applied:
// by version, then component.
func migrations(dialect string) ([]migration, error) {
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		parts := strings.Split(e.Name(), ".")
		if len(parts) != 4 || parts[3] != "sql" {
			return nil, fmt.Errorf("migration file %s: name is not <component>.<version>.<dialect>.sql", e.Name())
		}
		if parts[2] != dialect {
			continue
		}
		v, err := strconv.Atoi(parts[1])
		if err != nil || v < 1 {
			return nil, fmt.Errorf("migration file %s: bad version", e.Name())
		}
		data, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{component: parts[0], version: v, sql: string(data)})
	}
	slices.SortFunc(out, func(a, b migration) int {
		return cmp.Or(cmp.Compare(a.version, b.version), cmp.Compare(a.component, b.component))
	})
	return out, nil
}

// migrate applies the steps that are not applied yet. Each step runs in
// its own transaction that first takes the dialect's migration lock and
// re-reads what is applied, so processes and nodes opening the store at
// the same moment apply each step exactly once. A store with a step newer
// than this code knows is refused: this node must be upgraded.
func (db *DB) migrate(ctx context.Context) error {
	steps, err := migrations(db.d.name)
	if err != nil {
		return fmt.Errorf("%s: %w", db.d.what, err)
	}
	known := map[string]int{}
	for _, m := range steps {
		known[m.component] = max(known[m.component], m.version)
	}
	fail := func(err error) error { return fmt.Errorf("%s: migrate: %w", db.d.what, err) }
	applied := map[string]int{}
	err = db.tx(ctx, nil, "migrate", func(tx *sql.Tx) (bool, error) {
		if err := db.lockMigrations(ctx, tx); err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, db.d.migrationsSQL); err != nil {
			return false, err
		}
		applied, err = db.applied(ctx, tx)
		return true, err
	})
	if err != nil {
		return fail(err)
	}
	for c, v := range applied {
		if v > max(known[c], retired[c]) {
			return fmt.Errorf("%s: the %s schema is at version %d, newer than this uapid knows (%d): upgrade this node", db.d.what, c, v, known[c])
		}
	}
	for _, m := range steps {
		if m.version <= applied[m.component] {
			continue
		}
		err := db.tx(ctx, nil, "migrate", func(tx *sql.Tx) (bool, error) {
			if err := db.lockMigrations(ctx, tx); err != nil {
				return false, err
			}
			now, err := db.applied(ctx, tx)
			if err != nil || m.version <= now[m.component] {
				return false, err // applied meanwhile by another process
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return false, err
			}
			_, err = db.exec(ctx, tx, db.d.recordSQL, m.component, m.version, time.Now().Unix())
			return true, err
		})
		if err != nil {
			return fmt.Errorf("%s: migrate %s to version %d: %w", db.d.what, m.component, m.version, err)
		}
	}
	return nil
}

func (db *DB) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if db.d.lockMigrations == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, db.d.lockMigrations)
	return err
}

// applied returns the highest applied version of each component.
func (db *DB) applied(ctx context.Context, tx *sql.Tx) (map[string]int, error) {
	rows, err := tx.QueryContext(ctx, db.d.appliedSQL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var c string
		var v int
		if err := rows.Scan(&c, &v); err != nil {
			return nil, err
		}
		out[c] = max(out[c], v)
	}
	return out, rows.Err()
}
