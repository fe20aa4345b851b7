package tempdb

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres holds temporary login roles on a PostgreSQL server, reached
// through an administrative connection (a superuser, or a role with
// CREATEROLE that administers the accounts' roles).
//
// A temporary role can log in, has no role attribute (not superuser,
// createdb, createrole, replication or bypassrls), is a member of the
// account's group role (the role named like the account) when that role
// exists, and starts its sessions as that role (ALTER ROLE … SET role), so
// what it creates belongs to the account. Its password is sent only as a
// SCRAM-SHA-256 verifier, never in plain text.
type Postgres struct {
	pool *pgxpool.Pool
	cfg  *pgx.ConnConfig
}

var _ Server = (*Postgres)(nil)

const scramIterations = 4096

// NewPostgres connects to the administrative DSN (a pgx connection string,
// e.g. "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable") and
// pings the server.
func NewPostgres(dsn string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included.
		return nil, errors.New("tempdb: postgresql: invalid admin DSN (details withheld: the DSN may hold a password)")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	cfg.MaxConns = 4
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("tempdb: postgresql: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("tempdb: postgresql: cannot reach the administrative server at %s:%d: %w",
			cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return &Postgres{pool: pool, cfg: cfg.ConnConfig}, nil
}

// Kind returns "postgresql".
func (s *Postgres) Kind() string { return "postgresql" }

// Close closes the administrative connections.
func (s *Postgres) Close() error {
	s.pool.Close()
	return nil
}

// scramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password (RFC 5802/7677): SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>.
// password must be printable ASCII, for which SASLprep changes nothing.
func scramVerifier(password string, salt []byte, iter int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	clientKey := mac(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	serverKey := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iter, b64(salt), b64(stored[:]), b64(serverKey)), nil
}

// unsafeGroupQuery reports whether the role $1 exists and whether it, or any
// role it is (transitively) a member of, carries an attribute or predefined
// role that a temporary user must not reach through SET ROLE.
const unsafeGroupQuery = `
WITH RECURSIVE up(oid) AS (
	SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1
	UNION
	SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN up ON m.member = up.oid
)
SELECT count(*),
	coalesce(bool_or(r.rolsuper OR r.rolcreaterole OR r.rolreplication OR r.rolbypassrls
		OR left(r.rolname, 3) = 'pg_'), false)
FROM up JOIN pg_catalog.pg_roles r ON r.oid = up.oid`

// Create (re)creates u. A role left by an interrupted attempt is dropped
// first (as by Drop); then, in one transaction:
//
//	CREATE ROLE "name" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD 'SCRAM-SHA-256$…'
//	GRANT "account" TO "name"                 -- when the role "account" exists
//	ALTER ROLE "name" SET role = 'account'    -- likewise
//
// Create refuses (ErrUnsafeAccount) when the account's role is, or is a
// member of, a superuser, createrole, replication or bypassrls role or a
// predefined pg_* role. Without an account role the login role is created
// without membership: it has no privileges beyond PUBLIC's, like the account.
func (s *Postgres) Create(ctx context.Context, u User) error {
	if err := validateUser(u); err != nil {
		return err
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	verifier, err := scramVerifier(u.Password, salt, scramIterations)
	if err != nil {
		return fmt.Errorf("tempdb: postgresql: password verifier: %w", err)
	}
	fail := func(op string, err error) error {
		return sanitize("postgresql: "+op, u.Name, err, u.Password, verifier)
	}
	role, err := pgQuoteIdent(u.Name)
	if err != nil {
		return fail("quote", err)
	}
	group, err := pgQuoteIdent(u.Account)
	if err != nil {
		return fail("quote", err)
	}
	groupLit, err := pgQuoteLiteral(u.Account)
	if err != nil {
		return fail("quote", err)
	}
	pw, err := pgQuoteLiteral(verifier)
	if err != nil {
		return fail("quote", err)
	}

	if err := s.Drop(ctx, u.Name); err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fail("connect", err)
	}
	defer conn.Release()

	var n int
	var unsafe bool
	if err := conn.QueryRow(ctx, unsafeGroupQuery, u.Account).Scan(&n, &unsafe); err != nil {
		return fail("look up the account's role", err)
	}
	if unsafe {
		return fmt.Errorf("%w: the account's PostgreSQL role has administrative powers", ErrUnsafeAccount)
	}
	stmts := []string{
		"CREATE ROLE " + role + " WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD " + pw,
	}
	if n > 0 {
		stmts = append(stmts,
			"GRANT "+group+" TO "+role,
			"ALTER ROLE "+role+" SET role = "+groupLit)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fail("begin", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fail("create role", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fail("commit", err)
	}
	return nil
}

// Drop removes the role name if it exists:
//
//	SELECT oid FROM pg_roles WHERE rolname = $1
//	ALTER ROLE "name" NOLOGIN
//	SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usesysid = $1 AND pid <> pg_backend_pid()
//	DROP ROLE IF EXISTS "name"
//
// If the role still owns objects or holds privileges (SQLSTATE 2BP01: it
// created them after SET ROLE NONE), then in each database where it does
// (from pg_shdepend) and in the admin database:
//
//	REASSIGN OWNED BY "name" TO "account"   -- the role from its SET role default, if it exists
//	DROP OWNED BY "name"
//
// and DROP ROLE again.
func (s *Postgres) Drop(ctx context.Context, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	fail := func(op string, err error) error { return sanitize("postgresql: "+op, name, err) }
	role, err := pgQuoteIdent(name)
	if err != nil {
		return fail("quote", err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fail("connect", err)
	}
	defer conn.Release()

	var oid uint32
	switch err := conn.QueryRow(ctx, `SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1`, name).Scan(&oid); {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fail("look up role", err)
	}
	if _, err := conn.Exec(ctx, "ALTER ROLE "+role+" NOLOGIN"); err != nil {
		if sqlState(err) == "42704" { // undefined_object: dropped meanwhile
			return nil
		}
		return fail("disable login", err)
	}
	if _, err := conn.Exec(ctx,
		`SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
		 WHERE usesysid = $1 AND pid <> pg_catalog.pg_backend_pid()`, oid); err != nil {
		return fail("end connections", err)
	}
	_, err = conn.Exec(ctx, "DROP ROLE IF EXISTS "+role)
	if err == nil {
		return nil
	}
	if sqlState(err) != "2BP01" { // dependent_objects_still_exist
		return fail("drop role", err)
	}
	if err := s.dropOwned(ctx, conn.Conn(), oid, role); err != nil {
		return fail("drop owned objects", err)
	}
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+role); err != nil {
		return fail("drop role", err)
	}
	return nil
}

// dropOwned hands what the role owns to its account's role (or drops it
// when there is none) and revokes its privileges, in every database where
// pg_shdepend says it has some, and in the admin connection's database
// (which also covers shared objects).
func (s *Postgres) dropOwned(ctx context.Context, admin *pgx.Conn, oid uint32, role string) error {
	var owner string
	var settings []string
	err := admin.QueryRow(ctx,
		`SELECT setconfig FROM pg_catalog.pg_db_role_setting WHERE setrole = $1 AND setdatabase = 0`,
		oid).Scan(&settings)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	for _, kv := range settings {
		if v, ok := strings.CutPrefix(kv, "role="); ok {
			var exists bool
			if err := admin.QueryRow(ctx,
				`SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)`, v).Scan(&exists); err != nil {
				return err
			}
			if exists {
				owner = v
			}
		}
	}
	var stmts []string
	if owner != "" {
		q, err := pgQuoteIdent(owner)
		if err != nil {
			return err
		}
		stmts = append(stmts, "REASSIGN OWNED BY "+role+" TO "+q)
	}
	stmts = append(stmts, "DROP OWNED BY "+role)
	run := func(c *pgx.Conn) error {
		for _, q := range stmts {
			if _, err := c.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}

	var current string
	if err := admin.QueryRow(ctx, `SELECT pg_catalog.current_database()`).Scan(&current); err != nil {
		return err
	}
	rows, err := admin.Query(ctx,
		`SELECT DISTINCT d.datname FROM pg_catalog.pg_shdepend s
		 JOIN pg_catalog.pg_database d ON d.oid = s.dbid
		 WHERE s.refclassid = 'pg_catalog.pg_authid'::regclass AND s.refobjid = $1 AND d.datallowconn`, oid)
	if err != nil {
		return err
	}
	dbs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if err := run(admin); err != nil {
		return err
	}
	for _, db := range dbs {
		if db == current {
			continue
		}
		cfg := s.cfg.Copy()
		cfg.Database = db
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		err = run(c)
		c.Close(context.WithoutCancel(ctx))
		if err != nil {
			return err
		}
	}
	return nil
}

// Exists reports whether the role name exists.
func (s *Postgres) Exists(ctx context.Context, name string) (bool, error) {
	if err := validName(name); err != nil {
		return false, err
	}
	var ok bool
	if err := s.pool.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)`, name).Scan(&ok); err != nil {
		return false, sanitize("postgresql: look up role", name, err)
	}
	return ok, nil
}
