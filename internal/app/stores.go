package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/uapid/uapid/internal/config"
	"github.com/uapid/uapid/internal/directory"
	"github.com/uapid/uapid/internal/pgstore"
	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/session/redisstore"
	"github.com/uapid/uapid/internal/sqlite"
	"github.com/uapid/uapid/internal/tempdb"
)

// stores are the backends of one runtime, as --store and --session-store
// name them:
//
//   - --store SQLite (default): directory, sessions and temporary-user
//     ledger in one local file (single node; no encryption key needed).
//   - --store postgres://…: all three in PostgreSQL, shared by every node.
//   - --session-store redis://… (or postgres://…): only the sessions move
//     there; the directory and the ledger stay in the --store.
//
// A shared store needs the encryption key for secrets at rest
// (--secret-key-file or UAPID_SECRET_KEY); without it Open fails with one
// line saying how to make one.
type stores struct {
	dir      directory.Directory
	sessions session.Store
	ledger   tempdb.Ledger
	// sqlite is the SQLite database of an SQLite --store (nil otherwise).
	sqlite *sql.DB

	closers []func() error
	pings   []func(context.Context) error
}

// errNoKey is the one line shown when a shared store has no key.
var errNoKey = errors.New("a shared store (--store postgres://… or --session-store) encrypts secrets at rest and needs a key: " +
	"make one with “head -c32 /dev/urandom | base64 > /etc/uapid/secret.key” (mode 0600, the same file on every node) " +
	"and pass --secret-key-file /etc/uapid/secret.key, or set UAPID_SECRET_KEY to its content")

// openStores opens the backends cfg names and applies their migrations.
func openStores(ctx context.Context, cfg *config.Config) (_ *stores, err error) {
	kind, loc, err := cfg.StoreKind()
	if err != nil {
		return nil, err
	}
	sessKind, err := cfg.SessionStoreKind()
	if err != nil {
		return nil, err
	}
	box, err := secretBox(cfg)
	if err != nil {
		return nil, err
	}
	if (kind != config.KindSQLite || sessKind != "") && box == nil {
		return nil, errNoKey
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create data directory: %v", err)
	}
	st := &stores{}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	switch kind {
	case config.KindSQLite:
		if err := os.MkdirAll(filepath.Dir(loc), 0o700); err != nil {
			return nil, fmt.Errorf("cannot create store directory: %v", err)
		}
		db, err := sqlite.Open(loc)
		if err != nil {
			return nil, err
		}
		st.sqlite = db
		st.closers = append(st.closers, db.Close)
		st.pings = append(st.pings, db.PingContext)
		if st.dir, err = directory.NewSQLite(ctx, db); err != nil {
			return nil, fmt.Errorf("open directory: %w", err)
		}
		if sessKind == "" {
			ss, err := session.NewSQLite(ctx, db)
			if err != nil {
				return nil, fmt.Errorf("open session store: %w", err)
			}
			// Closed before db: it holds the writer's connection.
			st.sessions = ss
			st.closers = append(st.closers, ss.Close)
		}
		if st.ledger, err = tempdb.NewSQLiteLedger(ctx, db); err != nil {
			return nil, fmt.Errorf("open temporary-user ledger: %w", err)
		}
	case config.KindPostgres:
		pg, err := st.openPostgres(ctx, loc)
		if err != nil {
			return nil, fmt.Errorf("--store: %w", err)
		}
		st.dir, st.ledger = pgstore.NewDirectory(pg), pgstore.NewLedger(pg)
		if sessKind == "" {
			if st.sessions, err = pgstore.NewSessions(pg, box); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("invalid --store: the %s store is not supported", kind)
	}
	switch sessKind {
	case config.KindRedis:
		rs, err := redisstore.Open(ctx, cfg.SessionStore, box)
		if err != nil {
			return nil, fmt.Errorf("--session-store: %w", err)
		}
		st.closers = append(st.closers, rs.Close)
		st.pings = append(st.pings, rs.Ping)
		st.sessions = rs
	case config.KindPostgres:
		pg, err := st.openPostgres(ctx, cfg.SessionStore)
		if err != nil {
			return nil, fmt.Errorf("--session-store: %w", err)
		}
		if st.sessions, err = pgstore.NewSessions(pg, box); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (st *stores) openPostgres(ctx context.Context, dsn string) (*pgstore.DB, error) {
	pg, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		return nil, err
	}
	st.closers = append(st.closers, func() error { pg.Close(); return nil })
	st.pings = append(st.pings, pg.Ping)
	return pg, nil
}

// Close closes every backend, the last opened first.
func (st *stores) Close() error {
	var errs []error
	for i := len(st.closers) - 1; i >= 0; i-- {
		errs = append(errs, st.closers[i]())
	}
	st.closers = nil
	return errors.Join(errs...)
}

// Ping reports whether every backend answers.
func (st *stores) Ping(ctx context.Context) error {
	for _, p := range st.pings {
		if err := p(ctx); err != nil {
			return err
		}
	}
	return nil
}

// secretBox returns the Box for the configured keys, or nil when no key is
// configured. Errors name where the key came from, never the key.
func secretBox(cfg *config.Config) (*secretbox.Box, error) {
	load := func(file, flag string, env config.Secret, envName string) ([]byte, error) {
		switch {
		case file != "":
			k, err := secretbox.ReadKeyFile(file)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", flag, err)
			}
			return k, nil
		case env != "":
			k, err := secretbox.ParseKey([]byte(env))
			if err != nil {
				return nil, fmt.Errorf("environment variable %s: %w", envName, err)
			}
			return k, nil
		}
		return nil, nil
	}
	cur, err := load(cfg.SecretKeyFile, "secret-key-file", cfg.SecretKey, "UAPID_SECRET_KEY")
	if err != nil || cur == nil {
		return nil, err
	}
	old, err := load(cfg.SecretKeyOldFile, "secret-key-old-file", cfg.SecretKeyOld, "UAPID_SECRET_KEY_OLD")
	if err != nil {
		return nil, err
	}
	box, err := secretbox.New(cur, old)
	if err != nil {
		return nil, fmt.Errorf("secret keys: %w", err)
	}
	return box, nil
}
