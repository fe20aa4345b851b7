package app_test

import (
	"encoding/base64"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/config"
	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store/redisstore/redistest"
	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/store/sqlstore/pgtest"
	"github.com/uapid/uapid/internal/store/storetest"
)

func load(t *testing.T, env map[string]string, args ...string) *config.Config {
	t.Helper()
	fs, vals := config.FlagSet("test", io.Discard)
	if err := fs.Parse(append([]string{"--data", t.TempDir()}, args...)); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(vals, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func open(t *testing.T, cfg *config.Config) (*app.App, error) {
	t.Helper()
	a, err := app.Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Cleanup(func() { a.Close() })
	}
	return a, err
}

// TestSharedStoreNeedsKey: a shared store without a key refuses to start
// with one line that says how to make a key.
func TestSharedStoreNeedsKey(t *testing.T) {
	for name, args := range map[string][]string{
		"postgres store":         {"--store", "postgres://uapid:Sekr1t@127.0.0.1:1/uapid"},
		"redis session store":    {"--session-store", "redis://:Sekr1t@127.0.0.1:1/0"},
		"postgres session store": {"--session-store", "postgres://uapid:Sekr1t@127.0.0.1:1/uapid"},
	} {
		_, err := open(t, load(t, nil, args...))
		if err == nil {
			t.Fatalf("%s without a key: started", name)
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.Contains(msg, "head -c32 /dev/urandom | base64") ||
			!strings.Contains(msg, "--secret-key-file") || !strings.Contains(msg, "UAPID_SECRET_KEY") || strings.Contains(msg, "Sekr1t") {
			t.Errorf("%s without a key: %q", name, msg)
		}
	}
}

// TestBadKeys: a malformed or unreadable key is named by its source, never
// shown.
func TestBadKeys(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("hunter2hunter2\n"), 0o600)
	good := base64.StdEncoding.EncodeToString(secretbox.NewKey())
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"env", map[string]string{"UAPID_SECRET_KEY": "hunter2hunter2"}, nil, "environment variable UAPID_SECRET_KEY"},
		{"old env", map[string]string{"UAPID_SECRET_KEY": good, "UAPID_SECRET_KEY_OLD": "hunter2hunter2"}, nil, "UAPID_SECRET_KEY_OLD"},
		{"file", nil, []string{"--secret-key-file", bad}, "--secret-key-file: key file " + bad},
		{"same key twice", map[string]string{"UAPID_SECRET_KEY": good, "UAPID_SECRET_KEY_OLD": good}, nil, "the old key is the same"},
	} {
		_, err := open(t, load(t, tc.env, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), good) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	// With the SQLite store a good key is accepted (and unused).
	if _, err := open(t, load(t, map[string]string{"UAPID_SECRET_KEY": good})); err != nil {
		t.Errorf("SQLite store with a key: %v", err)
	}
}

// TestPostgresStore opens a runtime on PostgreSQL: directory, sessions and
// ledger there, secrets sealed, /readyz's Ping answering.
func TestPostgresStore(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.NewDatabase(t))
	key := base64.StdEncoding.EncodeToString(secretbox.NewKey())
	a, err := open(t, load(t, map[string]string{"UAPID_SECRET_KEY": key}, "--store", dsn))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Dir.(*sqlstore.Directory); !ok {
		t.Errorf("directory is %T, want *sqlstore.Directory", a.Dir)
	}
	if err := a.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	r := storetest.NewSessionRecord("alice")
	if err := a.Store.Create(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	// The record is in PostgreSQL, sealed.
	box, _ := secretbox.New(secretbox.NewKey(), nil)
	db, err := sqlstore.OpenPostgres(t.Context(), dsn, sqlstore.Options{Box: box})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tp []byte
	if err := db.SQL().QueryRowContext(t.Context(), `SELECT temp_pass FROM sessions WHERE id = $1`, r.ID).Scan(&tp); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(tp), r.TempPass) {
		t.Error("temporary password stored in clear")
	}
	if _, err := os.Stat(filepath.Join(a.Config.DataDir, "uapid.db")); err == nil {
		t.Error("an SQLite file was created although the store is PostgreSQL")
	}
}

// TestRedisSessionStore: --session-store moves only the sessions.
func TestRedisSessionStore(t *testing.T) {
	u, _ := url.Parse(redistest.URL())
	q := u.Query()
	q.Set("prefix", redistest.Namespace(t))
	u.RawQuery = q.Encode()
	key := base64.StdEncoding.EncodeToString(secretbox.NewKey())
	a, err := open(t, load(t, map[string]string{"UAPID_SECRET_KEY": key}, "--session-store", u.String()))
	if err != nil {
		t.Fatal(err)
	}
	r := storetest.NewSessionRecord("alice")
	if err := a.Store.Create(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	c := redistest.Client(t)
	if n, _ := c.Exists(t.Context(), q.Get("prefix")+"s:"+r.ID).Result(); n != 1 {
		t.Error("the session is not in Redis")
	}
	if err := a.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if _, err := os.Stat(filepath.Join(a.Config.DataDir, "uapid.db")); err != nil {
		t.Errorf("the directory is not in the SQLite file: %v", err)
	}
}
