// Package pgtest gives tests a private PostgreSQL database on the server
// named by UAPID_TEST_POSTGRES_DSN (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable, a role that
// may CREATE DATABASE). Each call of NewDatabase creates a database
// uapid_test_<random> and drops it when the test ends; Schema gives a
// subtest its own schema in it, which is much cheaper than a database.
//
// When the server cannot be reached the test is skipped, or fails when the
// environment variable CI is set (CI must not skip silently).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDSN is used when UAPID_TEST_POSTGRES_DSN is not set.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminDSN returns the DSN of the test server's administrative database.
func AdminDSN() string {
	if v := os.Getenv("UAPID_TEST_POSTGRES_DSN"); v != "" {
		return v
	}
	return DefaultDSN
}

// Unreachable skips t (or fails it when CI is set) because what is not
// reachable.
func Unreachable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not reachable (CI is set, so this is an error): %v", what, err)
	}
	t.Skipf("skipping: %s is not reachable: %v", what, err)
}

// RandomName returns prefix followed by 12 random lower-case hex digits.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		Unreachable(t, "PostgreSQL (UAPID_TEST_POSTGRES_DSN)", err)
	}
	return conn
}

// NewDatabase creates an empty database and returns its DSN; the database
// is dropped (its connections ended) when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := AdminDSN()
	conn := connect(t, admin)
	defer conn.Close(context.Background())
	name := RandomName("uapid_test_")
	if _, err := conn.Exec(context.Background(), `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return withParam(t, admin, "", name, "")
}

// Schema creates a fresh schema in the database of dsn and returns a DSN
// whose connections use it (search_path). The schema is dropped when t
// ends.
func Schema(t testing.TB, dsn string) string {
	t.Helper()
	conn := connect(t, dsn)
	defer conn.Close(context.Background())
	name := RandomName("s_")
	if _, err := conn.Exec(context.Background(), `CREATE SCHEMA `+name); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return // the database may be gone already
		}
		defer c.Close(ctx)
		c.Exec(ctx, `DROP SCHEMA IF EXISTS `+name+` CASCADE`)
	})
	return withParam(t, dsn, "search_path", "", name)
}

// withParam returns dsn (a URL) with its database replaced by db (unless
// empty) and the query parameter key set to value (unless key is empty).
func withParam(t testing.TB, dsn, key, db, value string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("UAPID_TEST_POSTGRES_DSN must be a postgres:// URL")
	}
	if db != "" {
		u.Path = "/" + db
	}
	if key != "" {
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
	}
	return u.String()
}
