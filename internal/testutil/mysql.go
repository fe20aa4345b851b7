package testutil

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	// The MariaDB/MySQL driver, for MySQL.
	_ "github.com/go-sql-driver/mysql"
)

// MySQL returns an administrative connection to the MariaDB of
// UAPID_TEST_MYSQL_DSN (default root@tcp(127.0.0.1:3306)/) and its DSN,
// closed when the test ends. When it cannot be reached the test is
// skipped, or fails under CI (CI must provide it), as with RequireTool.
func MySQL(t testing.TB) (*sql.DB, string) {
	t.Helper()
	dsn := os.Getenv("UAPID_TEST_MYSQL_DSN")
	if dsn == "" {
		dsn = "root@tcp(127.0.0.1:3306)/"
	}
	db, err := sql.Open("mysql", dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err != nil {
			db.Close()
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("MariaDB (UAPID_TEST_MYSQL_DSN) is not reachable (CI must provide it): %v", err)
		}
		t.Skipf("skipping: MariaDB (UAPID_TEST_MYSQL_DSN) is not reachable: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dsn
}
