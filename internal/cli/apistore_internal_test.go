package cli

import (
	"path/filepath"
	"testing"

	"github.com/uapid/uapid/internal/config"
)

// TestStoreProblemPostgres: a PostgreSQL store needs no data directory
// (whether it answers is app.Open's business).
func TestStoreProblemPostgres(t *testing.T) {
	vals := func(kv ...string) *config.Values {
		_, v := config.FlagSet("", nil)
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	missing := filepath.Join(t.TempDir(), "missing")
	cfg, err := config.Load(vals("data", missing, "store", "postgres://uapid@127.0.0.1:1/uapid"), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := storeProblem(cfg); err != nil {
		t.Errorf("storeProblem(postgres store, missing data directory) = %v, want nil", err)
	}
	cfg, err = config.Load(vals("data", missing), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := storeProblem(cfg); err == nil {
		t.Error("storeProblem(SQLite in a missing data directory) = nil")
	}
}
