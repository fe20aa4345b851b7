package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/uapid/uapid/internal/config"
	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/memstore"
	"github.com/uapid/uapid/internal/store/redisstore"
	"github.com/uapid/uapid/internal/store/sqlstore"
)

// stores are the backends of one runtime, as --store and --session-store
// name them:
//
//   - --store SQLite (default): the directory, the sessions (with their
//     sign-on tickets) and the temporary-user ledger in one local file;
//     the brute-force counters in this process (memstore: a single node
//     has nothing to share them with, and counting in memory costs
//     nothing on the request path).
//   - --store postgres://…: all of it in PostgreSQL, shared by every node.
//   - --session-store redis://… (or postgres://…): the sessions (with
//     their sign-on tickets) and the brute-force counters move there (they
//     are what every request touches); the directory and the ledger stay
//     in the --store.
//
// The OAuth codes and tokens always live with the sessions they hang off
// (their lifetimes are the sessions', and a token's every use reads its
// session).
//
// A shared store needs the encryption key for secrets at rest
// (--secret-key-file or UAPID_SECRET_KEY); without it Open fails with one
// line saying how to make one.
type stores struct {
	dir      store.Directory
	packages store.Packages
	sessions store.Sessions
	ledger   store.Ledger
	attempts store.Attempts
	// oauth holds the OAuth codes and tokens, next to the sessions they
	// hang off.
	oauth store.OAuth
	// tickets are the sign-on tickets, kept with the sessions.
	tickets store.Tickets

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
	st := &stores{}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	var main *sqlstore.DB
	switch kind {
	case config.KindSQLite:
		if main, err = sqlstore.OpenSQLite(ctx, loc, sqlstore.Options{}); err != nil {
			return nil, err
		}
		st.attempts = memstore.NewAttempts()
	case config.KindPostgres:
		if main, err = sqlstore.OpenPostgres(ctx, loc, sqlstore.Options{Box: box}); err != nil {
			return nil, fmt.Errorf("--store: %w", err)
		}
		st.attempts = main.Attempts()
	default:
		return nil, fmt.Errorf("invalid --store: the %s store is not supported", kind)
	}
	st.add(main.Close, main.Ping)
	st.dir, st.ledger, st.sessions, st.oauth = main.Directory(), main.Ledger(), main.Sessions(), main.OAuth()
	st.packages, st.tickets = main.Packages(), main.Tickets()
	switch sessKind {
	case config.KindRedis:
		rs, err := redisstore.Open(ctx, cfg.SessionStore, box)
		if err != nil {
			return nil, fmt.Errorf("--session-store: %w", err)
		}
		st.add(rs.Close, rs.Ping)
		st.sessions, st.attempts, st.oauth, st.tickets = rs.Sessions(), rs.Attempts(), rs.OAuth(), rs.Tickets()
	case config.KindPostgres:
		pg, err := sqlstore.OpenPostgres(ctx, cfg.SessionStore, sqlstore.Options{Box: box})
		if err != nil {
			return nil, fmt.Errorf("--session-store: %w", err)
		}
		st.add(pg.Close, pg.Ping)
		st.sessions, st.attempts, st.oauth, st.tickets = pg.Sessions(), pg.Attempts(), pg.OAuth(), pg.Tickets()
	}
	return st, nil
}

func (st *stores) add(closer func() error, ping func(context.Context) error) {
	st.closers = append(st.closers, closer)
	st.pings = append(st.pings, ping)
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
