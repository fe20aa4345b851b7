package directory_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/uapid/uapid/internal/directory"
	"github.com/uapid/uapid/internal/directory/directorytest"
	"github.com/uapid/uapid/internal/sqlite"
)

const hashA = "$6$3SEXnFBYReeZKw/0$LylmlhH1QR/8ptqJOR/4nmv2ZeSSm2Ot96M0H0UBCVVS7tPHEbhSOEfMRVnG9FDEGvCDknBMghfiQ8W1AGc4j/"

func openDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newDir(t testing.TB) (*directory.SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "uapid.db")
	d, err := directory.NewSQLite(context.Background(), openDB(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return d, path
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSQLite runs the directory conformance suite (directorytest) against
// the SQLite directory.
func TestSQLite(t *testing.T) {
	directorytest.Run(t, func(t testing.TB) directory.Directory {
		d, _ := newDir(t)
		return d
	})
}

// TestSQLiteTwoHandles runs the shared tests through two *sql.DB handles on
// one file, as the CLI and a running server (two processes) see it.
func TestSQLiteTwoHandles(t *testing.T) {
	directorytest.RunShared(t, func(t testing.TB) (a, b directory.Directory) {
		server, path := newDir(t)
		cli, err := directory.NewSQLite(context.Background(), openDB(t, path))
		must(t, err)
		return server, cli
	})
}

func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	d, path := newDir(t)
	must(t, d.SetRootPasswordHash(context.Background(), hashA))
	d2, err := directory.NewSQLite(context.Background(), openDB(t, path))
	must(t, err)
	h, err := d2.RootPasswordHash(context.Background())
	must(t, err)
	if h != hashA {
		t.Errorf("root hash after reopening = %q", h)
	}
	must(t, d.Close())
	if _, err := d.Generation(context.Background()); err != nil {
		t.Errorf("Close closed the shared *sql.DB: %v", err)
	}
}
