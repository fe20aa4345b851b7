package sqlstore

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// limitColumns are the limits of an account or a package (directory.4,
// packages.1), in both dialects.
var limitColumns = []string{"quota", "bwlimit", "max_ftp", "max_sql", "max_pop", "max_lists", "max_sub",
	"max_park", "max_addon", "max_passenger_apps", "max_emailacct_quota", "max_email_per_hour",
	"max_defer_fail_percent", "max_team_users", "cgi", "has_shell", "dedicated_ip", "digest_auth", "feature_list", "theme"}

var (
	accountColumns = slices.Concat([]string{"username", "password_hash", "locale", "owner", "reseller", "suspended", "created_at",
		"plan", "contact_email", "suspend_reason", "suspended_at", "suspend_locked"}, limitColumns, []string{"acls"})
	packageColumns = slices.Concat([]string{"name", "owner", "language", "created_at"}, limitColumns)
)

// TestSQLiteSchema checks the schema the migrations leave in an SQLite
// file: the column names shared with PostgreSQL, the account notes as
// columns (the side table gone), STRICT tables where the first release
// made them.
func TestSQLiteSchema(t *testing.T) {
	t.Parallel()
	db, _ := tempSQLite(t)
	for table, want := range map[string][]string{
		"directory_accounts":  accountColumns,
		"directory_packages":  packageColumns,
		"directory_tokens":    {"username", "name", "hash", "expires_at", "allow_ips", "created_at"},
		"directory_mailboxes": {"address", "account", "domain", "password_hash", "suspended_login", "created_at", "quota"},
		"sessions": {"id", "user_name", "account", "service", "token", "login_hash", "consumed", "cookie_hash",
			"creator", "method", "origin", "locale", "return_url", "temp_user", "temp_pass", "temp_created",
			"created_at", "last_used", "expires_at"},
		"temp_users":   {"name", "account", "session_id", "created_at"},
		"oauth_codes":  {"hash", "session_id", "client_id", "redirect_uri", "challenge", "used", "created_at", "expires_at"},
		"oauth_tokens": {"hash", "kind", "session_id", "client_id", "grant_hash", "created_at", "expires_at"},
	} {
		if got := columns(t, db, table); !slices.Equal(got, want) {
			t.Errorf("%s columns %v, want %v", table, got, want)
		}
	}
	if tableExists(t, db, "whmacct_notes") {
		t.Error("whmacct_notes exists")
	}
	for _, table := range []string{"sessions", "temp_users", "oauth_codes", "oauth_tokens"} {
		var strict bool
		if err := db.SQL().QueryRowContext(t.Context(), `SELECT strict FROM pragma_table_list WHERE name = ?`, table).Scan(&strict); err != nil {
			t.Fatal(err)
		}
		if !strict {
			t.Errorf("table %s is not STRICT", table)
		}
	}
	// STRICT: a wrongly typed value is refused, not stored.
	if _, err := db.SQL().ExecContext(t.Context(), `INSERT INTO sessions (id, user_name, account, service, token, creator, method,
		origin, locale, return_url, temp_user, temp_pass, created_at, last_used, expires_at)
		VALUES ('x', 'u', 'a', 's', 't', 'c', 'm', 'o', 'l', '', '', '', 'not a number', 0, 0)`); err == nil {
		t.Error("the sessions table took text in an INTEGER column")
	}
	var fk int
	if err := db.SQL().QueryRowContext(t.Context(), `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v", fk, err)
	}
	var mode string
	if err := db.SQL().QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
}

// TestSQLiteQueriesUseIndexes checks that the hot queries search an index
// rather than scan their table.
func TestSQLiteQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	db, _ := tempSQLite(t)
	for _, tc := range []struct{ query, index string }{
		{`SELECT id FROM sessions WHERE expires_at <= 1 ORDER BY expires_at LIMIT 10`, "sessions_expires_at"},
		{`DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <= 1 ORDER BY expires_at LIMIT 10) RETURNING id`, "sessions_expires_at"},
		{`SELECT id FROM sessions WHERE account = 'a' ORDER BY created_at, id`, "sessions_account"},
		{`SELECT id FROM sessions WHERE login_hash = x'00'`, "sessions_login_hash"},
		{`SELECT id FROM sessions WHERE cookie_hash = x'00'`, "sessions_cookie_hash"},
		{`SELECT id FROM sessions WHERE id = 'x'`, "PRIMARY KEY"},
		{`SELECT name FROM directory_tokens WHERE username = 'a' AND hash = x'00'`, "autoindex_directory_tokens"},
		{`SELECT account FROM directory_domains WHERE domain = 'a.test'`, "autoindex_directory_domains"},
		{`SELECT name FROM temp_users WHERE session_id = 'x'`, "temp_users_session"},
		{`SELECT kind FROM oauth_tokens WHERE hash = x'00'`, "autoindex_oauth_tokens"},
		{`SELECT used FROM oauth_codes WHERE hash = x'00'`, "autoindex_oauth_codes"},
		{`DELETE FROM oauth_tokens WHERE session_id = 'x'`, "oauth_tokens_session"},
		{`DELETE FROM oauth_codes WHERE session_id = 'x'`, "oauth_codes_session"},
		{`DELETE FROM oauth_tokens WHERE grant_hash = x'00'`, "oauth_tokens_grant"},
		{`SELECT hash FROM oauth_tokens WHERE expires_at <= 1 ORDER BY expires_at LIMIT 10`, "oauth_tokens_expires_at"},
		{`SELECT hash FROM oauth_codes WHERE expires_at <= 1 ORDER BY expires_at LIMIT 10`, "oauth_codes_expires_at"},
		{`SELECT COUNT(*) FROM attempt_failures WHERE kind = 'ip' AND subject = 'x'`, "attempt_failures_subject"},
	} {
		rows, err := db.SQL().QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			must(t, rows.Scan(&id, &parent, &notused, &detail))
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		if !strings.Contains(joined, tc.index) || strings.Contains(joined, "SCAN sessions") {
			t.Errorf("plan of %q: %s; want a search with %s", tc.query, joined, tc.index)
		}
	}
}

// TestPostgresQueriesUseIndexes checks, with sequential scans disabled,
// that lookups by login hash, cookie hash, id, account and the expiry
// sweep can walk their indexes.
func TestPostgresQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	db := openPostgresAt(t, pgSchema(t), nil)
	ctx := t.Context()
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `RESET enable_seqscan`)
	for _, tc := range []struct{ query, index string }{
		{`SELECT id FROM sessions WHERE expires_at <= 1 ORDER BY expires_at LIMIT 10 FOR UPDATE SKIP LOCKED`, "sessions_expires_at"},
		{`DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <= 1 ORDER BY expires_at LIMIT 10 FOR UPDATE SKIP LOCKED) RETURNING id`, "sessions_expires_at"},
		{`SELECT id FROM sessions WHERE account = 'a' ORDER BY created_at, id`, "sessions_account"},
		{`DELETE FROM sessions WHERE account = 'a' RETURNING id`, "sessions_account"},
		{`SELECT id FROM sessions WHERE login_hash = '\x00'`, "sessions_login_hash_key"},
		{`SELECT id FROM sessions WHERE cookie_hash = '\x00'`, "sessions_cookie_hash"},
		{`SELECT id FROM sessions WHERE id = 'x'`, "sessions_pkey"},
		{`SELECT name FROM directory_tokens WHERE username = 'a' AND hash = '\x00'`, "directory_tokens_username_hash_key"},
		{`SELECT name FROM temp_users WHERE session_id = 'x'`, "temp_users_session"},
		{`SELECT kind FROM oauth_tokens WHERE hash = '\x00'`, "oauth_tokens_pkey"},
		{`UPDATE oauth_codes SET used = TRUE WHERE hash = '\x00' AND NOT used`, "oauth_codes_pkey"},
		{`DELETE FROM oauth_tokens WHERE session_id = 'x'`, "oauth_tokens_session"},
		{`DELETE FROM oauth_codes WHERE session_id = 'x'`, "oauth_codes_session"},
		{`DELETE FROM oauth_tokens WHERE grant_hash = '\x00'`, "oauth_tokens_grant"},
		{`DELETE FROM oauth_tokens WHERE hash IN (SELECT hash FROM oauth_tokens WHERE expires_at <= 1 ORDER BY expires_at LIMIT 10 FOR UPDATE SKIP LOCKED)`, "oauth_tokens_expires_at"},
		{`DELETE FROM oauth_codes WHERE hash IN (SELECT hash FROM oauth_codes WHERE expires_at <= 1 ORDER BY expires_at LIMIT 10 FOR UPDATE SKIP LOCKED)`, "oauth_codes_expires_at"},
		{`SELECT COUNT(*) FROM attempt_failures WHERE kind = 'ip' AND subject = 'x'`, "attempt_failures_subject"},
		{`DELETE FROM attempt_failures WHERE failed_at <= 1`, "attempt_failures_at"},
	} {
		rows, err := conn.QueryContext(ctx, `EXPLAIN `+tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			must(t, rows.Scan(&line))
			plan = append(plan, line)
		}
		rows.Close()
		if p := strings.Join(plan, "\n"); !strings.Contains(p, tc.index) {
			t.Errorf("plan of %s does not use %s:\n%s", tc.query, tc.index, p)
		}
	}
}

// TestPostgresSchema checks the column names and types PostgreSQL keeps:
// the sealed fields are bytea, the directory has the notes as columns.
func TestPostgresSchema(t *testing.T) {
	t.Parallel()
	db := openPostgresAt(t, pgSchema(t), nil)
	if got := columns(t, db, "directory_accounts"); !slices.Equal(got, accountColumns) {
		t.Errorf("directory_accounts columns %v", got)
	}
	if got := columns(t, db, "directory_packages"); !slices.Equal(got, packageColumns) {
		t.Errorf("directory_packages columns %v", got)
	}
	for _, col := range []string{"return_url", "temp_pass"} {
		var typ string
		if err := db.SQL().QueryRowContext(t.Context(), `SELECT data_type FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = 'sessions' AND column_name = $1`, col).Scan(&typ); err != nil {
			t.Fatal(err)
		}
		if typ != "bytea" {
			t.Errorf("sessions.%s is %s, want bytea", col, typ)
		}
	}
}
