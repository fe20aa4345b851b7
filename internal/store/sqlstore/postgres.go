package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// migrateLockKey is the pg_advisory_xact_lock key that serialises schema
// migrations across nodes ("uapid" in ASCII, as an int8).
const migrateLockKey = 0x7561706964

// attemptLockClass is the first key of the pg_advisory_xact_lock that
// serialises the attempt counting of one key ("uapi" in ASCII, as an
// int4); the second is a hash of the key.
const attemptLockClass = 0x75617069

var postgresDialect = &dialect{
	name:     "postgres",
	what:     "PostgreSQL store",
	numbered: true,
	// Directory writes of every node queue on the one directory_state row.
	lockDirectory:  `SELECT 1 FROM directory_state WHERE id = 1 FOR UPDATE`,
	lockMigrations: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, migrateLockKey),
	// The two-key form: its key space does not overlap the migration
	// lock's.
	lockAttemptKey: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, hashtext(CAST(? AS text) || '/' || CAST(? AS text)))`, attemptLockClass),
	migrationsSQL: `CREATE TABLE IF NOT EXISTS uapid_schema_migrations (
		component  text        NOT NULL,
		version    integer     NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (component, version))`,
	appliedSQL: `SELECT component, version FROM uapid_schema_migrations`,
	recordSQL:  `INSERT INTO uapid_schema_migrations (component, version, applied_at) VALUES (?, ?, to_timestamp(CAST(? AS bigint)))`,
	readTx:     &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	skipLocked: ` FOR UPDATE SKIP LOCKED`,
	sealed:     true,
	unavailable: func(err error) bool {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			// Class 08: connection exception; 57P01-03: the server shuts
			// down or cannot accept connections; 53300: too many
			// connections.
			return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") || pe.Code == "53300"
		}
		var ce *pgconn.ConnectError
		var ne net.Error
		return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
			errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) ||
			errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) ||
			pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
			strings.Contains(err.Error(), "conn closed")
	},
	uniqueViolation: func(err error) (string, bool) {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return pe.ConstraintName, true
		}
		return "", false
	},
	badText: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "22021"
	},
}

// OpenPostgres connects to dsn (a postgres:// URL or key=value string as
// pgx accepts it; pool_max_conns caps the connections), checks that the
// server answers, and applies the migrations, so that any number of nodes
// share the store. The tables live in the connection's current schema
// (set search_path in the DSN to use another one than public). Errors
// never show the DSN's password.
func OpenPostgres(ctx context.Context, dsn string, o Options) (*DB, error) {
	if o.Box == nil {
		return nil, errors.New("PostgreSQL store: an encryption key is required for secrets at rest")
	}
	dsn, maxConns, err := poolOption(dsn)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included.
		return nil, errors.New("PostgreSQL store: invalid DSN (details withheld: the DSN may hold a password)")
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > 5*time.Second {
		cfg.ConnectTimeout = 5 * time.Second
	}
	host, port := cfg.Host, cfg.Port
	sdb := stdlib.OpenDB(*cfg)
	switch {
	case maxConns > 0:
	case o.MaxConns > 0:
		maxConns = o.MaxConns
	default:
		maxConns = 16
	}
	sdb.SetMaxOpenConns(maxConns)
	sdb.SetMaxIdleConns(maxConns)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := sdb.PingContext(pctx); err != nil {
		sdb.Close()
		// pgconn lists every connection attempt on its own line; uapid
		// reports start-up errors as one line.
		return nil, fmt.Errorf("PostgreSQL store: cannot reach %s:%d: %s", host, port,
			strings.Join(strings.Fields(err.Error()), " "))
	}
	db := &DB{db: sdb, d: postgresDialect, box: o.Box}
	if err := db.migrate(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

// poolOption takes pool_max_conns (pgxpool's option, which earlier
// releases honoured) out of a URL DSN, so that the server does not see it
// as a run-time parameter.
func poolOption(dsn string) (string, int, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn, 0, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", 0, errors.New("PostgreSQL store: invalid DSN (details withheld: the DSN may hold a password)")
	}
	q := u.Query()
	v := q.Get("pool_max_conns")
	if v == "" {
		return dsn, 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return "", 0, errors.New("PostgreSQL store: pool_max_conns must be a positive number")
	}
	q.Del("pool_max_conns")
	u.RawQuery = q.Encode()
	return u.String(), n, nil
}
