// Package e2e holds end-to-end tests that run uapid (in-process and as the
// real binary) against real database servers and check the outcome on those
// servers, not through uapid's own view of them.
//
// The temporary-database-user tests (SPEC §3.4) need a MariaDB and a
// PostgreSQL server:
//
//   - UAPID_TEST_MYSQL_DSN: administrative DSN (default
//     "root@tcp(127.0.0.1:3306)/"); UAPID_TEST_MYSQL_SOCKET: the unix socket
//     temporary users log in through (default /run/mysqld/mysqld.sock).
//   - UAPID_TEST_POSTGRES_DSN: administrative DSN (default
//     "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable").
//
// When a server is unreachable the tests that need it are skipped, or fail
// when the environment variable CI is non-empty. Every test uses fresh,
// random account names and removes the databases, roles and users it made.
//
// The package has no non-test code.
package e2e
