package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/sqlstore/pgtest"
)

// migrationRows returns the rows of the store's migration table as
// "component.version", sorted.
func migrationRows(t testing.TB, db *DB) []string {
	t.Helper()
	table := "schema_migrations"
	if db.Dialect() == "postgres" {
		table = "uapid_schema_migrations"
	}
	rows, err := db.SQL().QueryContext(t.Context(), `SELECT component, version FROM `+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		var v int
		must(t, rows.Scan(&c, &v))
		out = append(out, fmt.Sprintf("%s.%d", c, v))
	}
	must(t, rows.Err())
	slices.Sort(out)
	return out
}

// wantMigrations lists every step of dialect as "component.version",
// sorted.
func wantMigrations(t testing.TB, dialect string) []string {
	t.Helper()
	steps, err := migrations(dialect)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range steps {
		out = append(out, fmt.Sprintf("%s.%d", m.component, m.version))
	}
	slices.Sort(out)
	return out
}

func TestMigrationFiles(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"sqlite", "postgres"} {
		steps, err := migrations(d)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for i, m := range steps {
			names = append(names, fmt.Sprintf("%s.%d", m.component, m.version))
			if i > 0 && m.version < steps[i-1].version {
				t.Errorf("%s: steps out of order: %v", d, names)
			}
		}
		// Every component starts at version 1, and each dialect has every
		// component.
		comps := map[string]bool{}
		for _, m := range steps {
			comps[m.component] = true
		}
		for c := range comps {
			if !slices.Contains(names, c+".1") {
				t.Errorf("%s: component %s has no version 1", d, c)
			}
		}
		got := slices.Sorted(func(yield func(string) bool) {
			for c := range comps {
				if !yield(c) {
					return
				}
			}
		})
		if !slices.Equal(got, []string{"attempts", "directory", "oauth", "packages", "sessions", "signon", "tempdb"}) {
			t.Errorf("%s: components %v", d, got)
		}
	}
}

// TestMigrateConcurrently opens one new store from several handles at the
// same moment (processes on one SQLite file, nodes on one PostgreSQL
// schema): each comes up, and each migration step is applied once.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	forDialects(t, func(t *testing.T, dc *dialectCase) {
		t.Parallel()
		var open func() (*DB, error)
		if dc.pg() {
			schema := pgtest.Schema(t, dc.dsn)
			open = func() (*DB, error) {
				return OpenPostgres(context.Background(), schema, Options{Box: newBox(t, testKey(), nil), MaxConns: 2})
			}
		} else {
			path := filepath.Join(t.TempDir(), "uapid.db")
			open = func() (*DB, error) { return OpenSQLite(context.Background(), path, Options{MaxConns: 2}) }
		}
		const handles = 8
		var wg sync.WaitGroup
		start := make(chan struct{})
		dbs := make([]*DB, handles)
		errs := make([]error, handles)
		for i := range handles {
			wg.Go(func() {
				<-start
				dbs[i], errs[i] = open()
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("handle %d: %v", i, err)
			} else {
				defer dbs[i].Close()
			}
		}
		if t.Failed() {
			return
		}
		db := dbs[0]
		if got, want := migrationRows(t, db), wantMigrations(t, db.Dialect()); !slices.Equal(got, want) {
			t.Errorf("migration rows %v, want %v", got, want)
		}
		if g, err := db.Directory().Generation(t.Context()); err != nil || g != 1 {
			t.Errorf("generation after concurrent opens = %d, %v; want 1 (state row inserted once)", g, err)
		}
		// Every handle works.
		for i, h := range dbs {
			must(t, h.Sessions().Create(t.Context(), newSession(fmt.Sprintf("n%d", i))))
		}
		if l, err := db.Sessions().List(t.Context(), ""); err != nil || len(l) != handles {
			t.Errorf("List = %d records, %v", len(l), err)
		}
	})
}

// TestNewerSchemaRefused: a node must not run on a store migrated by a
// newer uapid.
func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	forDialects(t, func(t *testing.T, dc *dialectCase) {
		t.Parallel()
		db := dc.open(t)
		table, now := "schema_migrations", "0"
		if dc.pg() {
			table, now = "uapid_schema_migrations", "now()"
		}
		if _, err := db.SQL().ExecContext(t.Context(), `INSERT INTO `+table+` (component, version, applied_at) VALUES ('sessions', 99, `+now+`)`); err != nil {
			t.Fatal(err)
		}
		if _, err := reopenErr(t, dc, db); err == nil || !strings.Contains(err.Error(), "newer than this uapid knows") || !strings.Contains(err.Error(), "upgrade this node") {
			t.Fatalf("Open on a newer schema: %v", err)
		}
		// A newer component this code does not know at all is refused too.
		if _, err := db.SQL().ExecContext(t.Context(), `DELETE FROM `+table+` WHERE version = 99`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL().ExecContext(t.Context(), `INSERT INTO `+table+` (component, version, applied_at) VALUES ('future', 1, `+now+`)`); err != nil {
			t.Fatal(err)
		}
		if _, err := reopenErr(t, dc, db); err == nil || !strings.Contains(err.Error(), "upgrade this node") {
			t.Fatalf("Open on a schema with an unknown component: %v", err)
		}
	})
}

// reopenErr opens another handle on db's store and returns the error.
func reopenErr(t testing.TB, dc *dialectCase, db *DB) (*DB, error) {
	dc.mu.Lock()
	where := dc.where[db]
	dc.mu.Unlock()
	var o *DB
	var err error
	if dc.pg() {
		o, err = OpenPostgres(t.Context(), where, Options{Box: newBox(t, testKey(), nil)})
	} else {
		o, err = OpenSQLite(t.Context(), where, Options{})
	}
	if err == nil {
		t.Cleanup(func() { o.Close() })
	}
	return o, err
}

// TestMigrationsIdempotentAcrossReopen: opening an existing store again
// applies nothing and keeps what it holds.
func TestMigrationsIdempotentAcrossReopen(t *testing.T) {
	t.Parallel()
	forDialects(t, func(t *testing.T, dc *dialectCase) {
		t.Parallel()
		ctx := t.Context()
		db := dc.open(t)
		must(t, db.Directory().SetRootPasswordHash(ctx, hashA))
		must(t, db.Directory().CreateAccount(ctx, store.Account{User: "alice", Domains: []string{"alice.test"}}))
		r := newSession("alice")
		must(t, db.Sessions().Create(ctx, r))
		must(t, db.Ledger().RecordTempUser(ctx, store.TempUser{Name: r.TempUser, Account: "alice", SessionID: r.ID}))
		before := migrationRows(t, db)
		g, _ := db.Directory().Generation(ctx)
		must(t, db.Close())

		for range 2 {
			db2 := dc.reopen(t, db)
			if got := migrationRows(t, db2); !slices.Equal(got, before) {
				t.Errorf("migration rows after reopening %v, want %v", got, before)
			}
			if h, err := db2.Directory().RootPasswordHash(ctx); err != nil || h != hashA {
				t.Errorf("root hash after reopening = %q, %v", h, err)
			}
			if g2, err := db2.Directory().Generation(ctx); err != nil || g2 != g {
				t.Errorf("generation after reopening = %d, %v; want %d", g2, err, g)
			}
			got, err := db2.Sessions().Get(ctx, r.ID)
			if err != nil || got.Token != r.Token || got.TempPass != r.TempPass || !got.ExpiresAt.Equal(ms(r.ExpiresAt)) {
				t.Errorf("record after reopening: %+v, %v", got, err)
			}
			if u, err := db2.Ledger().GetTempUser(ctx, r.TempUser); err != nil || u.SessionID != r.ID {
				t.Errorf("ledger after reopening: %+v, %v", u, err)
			}
			must(t, db2.Close())
		}
	})
}

// TestSQLiteUpgradeFromPreviousRelease opens a file as the previous
// release left it (its migration bookkeeping with the retired "whmacct"
// component, the old column names, the account notes in whmacct_notes):
// it is migrated in place, nothing is lost, and the side table goes.
func TestSQLiteUpgradeFromPreviousRelease(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "uapid.db")
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(ON)")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := old.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (
		component TEXT NOT NULL,
		version   INTEGER NOT NULL,
		applied_at INTEGER NOT NULL,
		PRIMARY KEY (component, version))`)
	for _, c := range []string{"directory", "sessions", "tempdb"} {
		data, err := migrationFiles.ReadFile("migrations/" + c + ".1.sqlite.sql")
		if err != nil {
			t.Fatal(err)
		}
		exec(string(data))
		exec(`INSERT INTO schema_migrations VALUES (?, 1, 1796617887)`, c)
	}
	exec(`CREATE TABLE whmacct_notes (
	user           TEXT    NOT NULL PRIMARY KEY,
	created_at     INTEGER NOT NULL,
	plan           TEXT    NOT NULL,
	contact_email  TEXT    NOT NULL,
	suspended      INTEGER NOT NULL,
	suspend_reason TEXT    NOT NULL,
	suspend_time   INTEGER NOT NULL,
	locked         INTEGER NOT NULL
) STRICT`)
	exec(`INSERT INTO schema_migrations VALUES ('whmacct', 1, 1796617887)`)
	const created = int64(1796617887543146405)
	exec(`INSERT INTO directory_accounts VALUES ('carol', '', 'en', 'root', 0, 1, ?)`, created)
	exec(`INSERT INTO directory_accounts VALUES ('dave', '', 'en', 'root', 0, 0, ?)`, created+1)
	exec(`INSERT INTO directory_domains VALUES ('carol.test', 'carol', 0)`)
	exec(`INSERT INTO directory_tokens VALUES ('carol', 'ci', x'`+strings.Repeat("ab", 32)+`', 0, '', ?)`, created)
	exec(`INSERT INTO whmacct_notes VALUES ('carol', ?, '', '', 1, 'Billing overdue', 1796617887, 1)`, created)
	exec(`INSERT INTO whmacct_notes VALUES ('dave', ?, 'gold', 'dave@example.net', 0, '', 0, 0)`, created+1)
	// A note of an account that was removed and created again (another
	// creation time) is not carried over.
	exec(`INSERT INTO directory_accounts VALUES ('erin', '', 'en', 'root', 0, 0, ?)`, created+2)
	exec(`INSERT INTO whmacct_notes VALUES ('erin', ?, 'stale', '', 0, '', 0, 0)`, created-1)
	exec(`INSERT INTO sessions (id, user, account, service, token, login_hash, creator, method, origin, locale,
		return_url, temp_user, temp_pass, created_at, last_used, expires_at)
		VALUES ('s1', 'carol', 'carol', 'cpaneld', '/cpsess0000000001', x'` + strings.Repeat("cd", 32) + `', 'root',
		'create_user_session', '', 'en', 'https://back.example/', 'cpses_ca0001', 'pw', 1, 1, 4102444800000)`)
	exec(`INSERT INTO temp_users VALUES ('cpses_ca0001', 'carol', 's1', 1)`)
	must(t, old.Close())

	db := openSQLiteAt(t, path)
	d := db.Directory()
	carol, err := d.GetAccount(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if !carol.Suspended || carol.SuspendReason != "Billing overdue" || !carol.SuspendLocked ||
		carol.SuspendedAt.Unix() != 1796617887 || !slices.Equal(carol.Domains, []string{"carol.test"}) {
		t.Errorf("carol after the upgrade: %+v", carol)
	}
	if dave, err := d.GetAccount(ctx, "dave"); err != nil || dave.Plan != "gold" || dave.ContactEmail != "dave@example.net" || dave.Suspended {
		t.Errorf("dave after the upgrade: %+v, %v", dave, err)
	}
	if erin, err := d.GetAccount(ctx, "erin"); err != nil || erin.Plan != "" {
		t.Errorf("erin after the upgrade (stale note): %+v, %v", erin, err)
	}
	if toks, err := d.ListTokens(ctx, "carol"); err != nil || len(toks) != 1 || toks[0].Name != "ci" {
		t.Errorf("carol's tokens after the upgrade: %+v, %v", toks, err)
	}
	s, err := db.Sessions().Get(ctx, "s1")
	if err != nil || s.User != "carol" || s.ReturnURL != "https://back.example/" || s.TempPass != "pw" {
		t.Errorf("session after the upgrade: %+v, %v", s, err)
	}
	if u, err := db.Ledger().GetTempUser(ctx, "cpses_ca0001"); err != nil || u.SessionID != "s1" {
		t.Errorf("ledger after the upgrade: %+v, %v", u, err)
	}
	if got, want := migrationRows(t, db), wantMigrations(t, "sqlite"); !slices.Equal(got, want) {
		t.Errorf("migration rows after the upgrade %v, want %v", got, want)
	}
	if tableExists(t, db, "whmacct_notes") {
		t.Error("whmacct_notes is still there")
	}
	// And once more: nothing left to do.
	must(t, db.Close())
	db = openSQLiteAt(t, path)
	if c, err := db.Directory().GetAccount(ctx, "carol"); err != nil || c.SuspendReason != "Billing overdue" {
		t.Errorf("carol after reopening: %+v, %v", c, err)
	}
}

// TestSQLiteUpgradeWithoutNotes: a previous release's file whose account
// notes were never used (no whmacct_notes, no "whmacct" row) upgrades
// too.
func TestSQLiteUpgradeWithoutNotes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "uapid.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := old.ExecContext(ctx, `CREATE TABLE schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL,
		applied_at INTEGER NOT NULL, PRIMARY KEY (component, version))`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"directory", "sessions", "tempdb"} {
		data, _ := migrationFiles.ReadFile("migrations/" + c + ".1.sqlite.sql")
		if _, err := old.ExecContext(ctx, string(data)); err != nil {
			t.Fatal(err)
		}
		if _, err := old.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 1, 0)`, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := old.ExecContext(ctx, `INSERT INTO directory_accounts VALUES ('alice', '', 'en', 'root', 0, 0, 1)`); err != nil {
		t.Fatal(err)
	}
	must(t, old.Close())
	db := openSQLiteAt(t, path)
	if a, err := db.Directory().GetAccount(ctx, "alice"); err != nil || a.Plan != "" {
		t.Errorf("alice after the upgrade: %+v, %v", a, err)
	}
	if tableExists(t, db, "whmacct_notes") {
		t.Error("the upgrade left an empty whmacct_notes")
	}
}

// tableExists reports whether the SQLite store has table.
func tableExists(t testing.TB, db *DB, table string) bool {
	t.Helper()
	var n int
	must(t, db.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n))
	return n > 0
}

// TestPostgresUpgradeFromPreviousRelease opens a schema as the previous
// release (internal/pgstore) left it: its three components at version 1,
// no attempt counters. The missing steps are applied, nothing is lost.
func TestPostgresUpgradeFromPreviousRelease(t *testing.T) {
	t.Parallel()
	schema := pgSchema(t)
	ctx := t.Context()
	old, err := pgx.Connect(ctx, schema)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := old.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	exec(`CREATE TABLE uapid_schema_migrations (
		component  text    NOT NULL,
		version    integer NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (component, version))`)
	for _, c := range []string{"sessions", "directory", "tempdb"} {
		data, err := migrationFiles.ReadFile("migrations/" + c + ".1.postgres.sql")
		if err != nil {
			t.Fatal(err)
		}
		exec(string(data))
		exec(`INSERT INTO uapid_schema_migrations (component, version) VALUES ($1, 1)`, c)
	}
	exec(`INSERT INTO directory_accounts VALUES ('carol', '', 'en', 'root', false, true, 1796617887543146405)`)
	exec(`INSERT INTO directory_domains VALUES ('carol.test', 'carol', 0)`)
	exec(`UPDATE directory_state SET generation = 7`)
	must(t, old.Close(ctx))

	db := openPostgresAt(t, schema, nil)
	if got, want := migrationRows(t, db), wantMigrations(t, "postgres"); !slices.Equal(got, want) {
		t.Errorf("migration rows after the upgrade %v, want %v", got, want)
	}
	carol, err := db.Directory().GetAccount(ctx, "carol")
	if err != nil || !carol.Suspended || carol.SuspendReason != "" || carol.Plan != "" || !slices.Equal(carol.Domains, []string{"carol.test"}) {
		t.Errorf("carol after the upgrade: %+v, %v", carol, err)
	}
	if g, err := db.Directory().Generation(ctx); err != nil || g != 7 {
		t.Errorf("generation after the upgrade = %d, %v; want 7", g, err)
	}
	if _, err := db.Attempts().Failure(ctx, store.AttemptKey{Kind: store.AttemptIP, Value: "192.0.2.1"}, t0, time.Minute); err != nil {
		t.Errorf("attempt counters after the upgrade: %v", err)
	}
}
