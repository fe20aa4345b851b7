package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/store/sqlstore/pgtest"
)

// The upgrade test: stores written by the release before the one store
// (a03dd4e), kept as SQL dumps in testdata/upgrade with a manifest of
// every record and the secrets that lead to them, are opened in place by
// this code. Nothing may be lost: accounts (with WHM's notes, which that
// release kept only in SQLite), mailboxes, tokens, root, live sessions and
// the temporary-user ledger. testdata/upgrade/README.md says how the
// files were made.

// manifest is the part of testdata/upgrade/manifest.json the test reads.
type manifest struct {
	Stores map[string]upgStore `json:"stores"`
}

type upgStore struct {
	Dump       string `json:"dump"`
	Generation int64  `json:"directory_generation"`
	Root       struct {
		PasswordHash string `json:"password_hash"`
	} `json:"root"`
	Accounts []struct {
		User         string   `json:"user"`
		PasswordHash string   `json:"password_hash"`
		Locale       string   `json:"locale"`
		Owner        string   `json:"owner"`
		Reseller     bool     `json:"reseller"`
		Suspended    bool     `json:"suspended"`
		CreatedAt    int64    `json:"created_at_unix_nano"`
		Domains      []string `json:"domains"`
		Databases    []string `json:"databases"`
		Notes        *struct {
			Plan          string `json:"plan"`
			ContactEmail  string `json:"contact_email"`
			Suspended     bool   `json:"suspended"`
			SuspendReason string `json:"suspend_reason"`
			SuspendTime   int64  `json:"suspend_time_unix"`
			Locked        bool   `json:"locked"`
		} `json:"whmacct_notes"`
	} `json:"accounts"`
	Mailboxes []struct {
		Address        string `json:"address"`
		Account        string `json:"account"`
		PasswordHash   string `json:"password_hash"`
		SuspendedLogin bool   `json:"suspended_login"`
		CreatedAt      int64  `json:"created_at_unix_nano"`
	} `json:"mailboxes"`
	Tokens []struct {
		User      string   `json:"user"`
		Name      string   `json:"name"`
		Token     string   `json:"token"`
		ExpiresAt int64    `json:"expires_at_unix_nano"`
		AllowIPs  []string `json:"allow_ips"`
		CreatedAt int64    `json:"created_at_unix_nano"`
	} `json:"tokens"`
	Sessions []struct {
		ID          string `json:"id"`
		User        string `json:"user"`
		Account     string `json:"account"`
		Service     string `json:"service"`
		Token       string `json:"token"`
		Creator     string `json:"creator"`
		Method      string `json:"method"`
		Origin      string `json:"origin"`
		Locale      string `json:"locale"`
		ReturnURL   string `json:"return_url"`
		Consumed    bool   `json:"consumed"`
		LoginSecret string `json:"login_secret"`
		LoginHash   string `json:"login_hash_sha256_hex"`
		Cookie      string `json:"cookie_secret"`
		TempUser    string `json:"temp_user"`
		TempPass    string `json:"temp_pass"`
		TempCreated bool   `json:"temp_created"`
		CreatedAt   int64  `json:"created_at_unix_milli"`
		LastUsed    int64  `json:"last_used_unix_milli"`
		ExpiresAt   int64  `json:"expires_at_unix_milli"`
	} `json:"sessions"`
	TempUsers []struct {
		Name      string `json:"name"`
		Account   string `json:"account"`
		SessionID string `json:"session_id"`
	} `json:"temp_users"`
}

func readManifest(t *testing.T) manifest {
	t.Helper()
	data, err := os.ReadFile("testdata/upgrade/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sqlite", "postgres"} {
		if len(m.Stores[k].Accounts) == 0 || len(m.Stores[k].Sessions) == 0 {
			t.Fatalf("manifest: the %s store has no accounts or sessions", k)
		}
	}
	return m
}

func readDump(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/upgrade", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestUpgradeSQLite loads the previous release's SQLite store into a file
// and opens it with this code.
func TestUpgradeSQLite(t *testing.T) {
	m := readManifest(t).Stores["sqlite"]
	path := filepath.Join(t.TempDir(), "uapid.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(readDump(t, m.Dump)); err != nil {
		t.Fatalf("load the dump: %v", err)
	}
	raw.Close()
	for round := range 2 { // the second open finds nothing to migrate
		db, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.Options{})
		if err != nil {
			t.Fatalf("open #%d: %v", round+1, err)
		}
		checkUpgraded(t, db, m, true)
		db.Close()
	}
}

// TestUpgradePostgres loads the previous release's PostgreSQL store into a
// fresh schema and opens it with this code and the same key.
func TestUpgradePostgres(t *testing.T) {
	m := readManifest(t).Stores["postgres"]
	dsn := pgtest.Schema(t, pgtest.NewDatabase(t))
	keyText, err := os.ReadFile("testdata/upgrade/secret.key")
	if err != nil {
		t.Fatal(err)
	}
	key, err := secretbox.ParseKey(keyText)
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(readDump(t, m.Dump)); err != nil {
		t.Fatalf("load the dump: %v", err)
	}
	raw.Close()
	for round := range 2 {
		db, err := sqlstore.OpenPostgres(context.Background(), dsn, sqlstore.Options{Box: box})
		if err != nil {
			t.Fatalf("open #%d: %v", round+1, err)
		}
		checkUpgraded(t, db, m, false)
		db.Close()
	}
}

func sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// checkUpgraded checks every record of m in db. notes says whether the
// release kept WHM's account notes in this store (SQLite only).
func checkUpgraded(t *testing.T, db *sqlstore.DB, m upgStore, notes bool) {
	t.Helper()
	ctx := context.Background()
	dir, sessions, ledger := db.Directory(), db.Sessions(), db.Ledger()

	if h, err := dir.RootPasswordHash(ctx); err != nil || h != m.Root.PasswordHash {
		t.Errorf("root password hash = %q, %v", h, err)
	}
	if g, err := dir.Generation(ctx); err != nil || g < m.Generation {
		t.Errorf("generation = %d, %v; want at least %d", g, err, m.Generation)
	}

	all, err := dir.ListAccounts(ctx)
	if err != nil || len(all) != len(m.Accounts) {
		t.Fatalf("ListAccounts = %d accounts, %v; want %d", len(all), err, len(m.Accounts))
	}
	for _, w := range m.Accounts {
		a, err := dir.GetAccount(ctx, w.User)
		if err != nil {
			t.Errorf("account %s: %v", w.User, err)
			continue
		}
		want := store.Account{User: w.User, PasswordHash: w.PasswordHash, Locale: w.Locale, Owner: w.Owner,
			Reseller: w.Reseller, Suspended: w.Suspended, Domains: w.Domains, Databases: w.Databases,
			CreatedAt: fromNanos(w.CreatedAt)}
		if len(want.Databases) == 0 {
			want.Databases = nil
		}
		if notes && w.Notes != nil {
			want.Plan, want.ContactEmail = w.Notes.Plan, w.Notes.ContactEmail
			if w.Notes.Suspended && w.Suspended {
				want.SuspendReason = w.Notes.SuspendReason
				want.SuspendedAt = time.Unix(w.Notes.SuspendTime, 0).UTC()
				want.SuspendLocked = w.Notes.Locked
			}
		}
		if want.Reseller {
			// Resellers of the previous release acted without ACLs: the
			// upgrade gives them the privileges uapid checks.
			want.ACLs = store.DefaultResellerACLs
		}
		if !store.SameAccount(a, want) || !a.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("account %s after the upgrade:\n got %+v\nwant %+v", w.User, a, want)
		}
	}
	if notes {
		// The side table is gone once its notes are in the accounts.
		var n int
		err := db.SQL().QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'whmacct_notes'`).Scan(&n)
		if err != nil || n != 0 {
			t.Errorf("whmacct_notes still there (%d, %v)", n, err)
		}
	}

	boxes, err := dir.ListMailboxes(ctx, "")
	if err != nil || len(boxes) != len(m.Mailboxes) {
		t.Errorf("ListMailboxes = %d, %v; want %d", len(boxes), err, len(m.Mailboxes))
	}
	for _, w := range m.Mailboxes {
		mb, err := dir.GetMailbox(ctx, w.Address)
		// The previous release kept no quota: unlimited.
		want := store.Mailbox{Address: w.Address, Account: w.Account, PasswordHash: w.PasswordHash,
			SuspendedLogin: w.SuspendedLogin, CreatedAt: fromNanos(w.CreatedAt)}
		if err != nil || mb.Account != want.Account || mb.PasswordHash != want.PasswordHash ||
			mb.SuspendedLogin != want.SuspendedLogin || !mb.CreatedAt.Equal(want.CreatedAt) || mb.Quota != 0 {
			t.Errorf("mailbox %s = %+v, %v; want %+v", w.Address, mb, err, want)
		}
	}

	for _, w := range m.Tokens {
		tk, err := dir.TokenByHash(ctx, w.User, sum(w.Token))
		if err != nil {
			t.Errorf("token %s/%s does not authenticate: %v", w.User, w.Name, err)
			continue
		}
		var allow []string
		for _, p := range tk.AllowIPs {
			allow = append(allow, p.String())
		}
		wantAllow := slices.Clone(w.AllowIPs)
		for i, s := range wantAllow {
			if p, err := netip.ParsePrefix(s); err == nil {
				wantAllow[i] = p.String()
			}
		}
		if tk.Name != w.Name || !tk.ExpiresAt.Equal(fromNanos(w.ExpiresAt)) || !slices.Equal(allow, wantAllow) ||
			!tk.CreatedAt.Equal(fromNanos(w.CreatedAt)) {
			t.Errorf("token %s/%s = %+v; want expiry %d, allow %v", w.User, w.Name, tk, w.ExpiresAt, w.AllowIPs)
		}
	}

	for _, w := range m.Sessions {
		r, err := sessions.Get(ctx, w.ID)
		if err != nil {
			t.Errorf("session %s: %v", w.ID, err)
			continue
		}
		if r.User != w.User || r.Account != w.Account || r.Service != w.Service || r.Token != w.Token ||
			r.Creator != w.Creator || r.Method != w.Method || r.Origin != w.Origin || r.Locale != w.Locale ||
			r.ReturnURL != w.ReturnURL || r.Consumed != w.Consumed || r.TempUser != w.TempUser ||
			r.TempPass != w.TempPass || r.TempCreated != w.TempCreated ||
			r.CreatedAt.UnixMilli() != w.CreatedAt || r.LastUsed.UnixMilli() != w.LastUsed || r.ExpiresAt.UnixMilli() != w.ExpiresAt {
			t.Errorf("session %s after the upgrade = %+v", w.ID, r)
		}
		if w.LoginHash != "" {
			h, _ := hex.DecodeString(w.LoginHash)
			if !bytes.Equal(r.LoginHash, h) {
				t.Errorf("session %s: login hash changed", w.ID)
			}
		}
		if w.LoginSecret != "" {
			if got, err := sessions.ByLoginHash(ctx, sum(w.LoginSecret)); err != nil || got.ID != w.ID {
				t.Errorf("session %s: its login secret leads to %q, %v", w.ID, got.ID, err)
			}
		}
		if w.Cookie != "" {
			if got, err := sessions.ByCookieHash(ctx, sum(w.Cookie)); err != nil || got.ID != w.ID {
				t.Errorf("session %s: its cookie leads to %q, %v", w.ID, got.ID, err)
			}
		}
	}
	if rs, err := sessions.List(ctx, ""); err != nil || len(rs) != len(m.Sessions) {
		t.Errorf("List = %d sessions, %v; want %d", len(rs), err, len(m.Sessions))
	}

	var want []store.TempUser
	for _, u := range m.TempUsers {
		want = append(want, store.TempUser{Name: u.Name, Account: u.Account, SessionID: u.SessionID})
	}
	got, err := ledger.ListTempUsers(ctx)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("temporary-user ledger = %+v, %v; want %+v", got, err, m.TempUsers)
	}
	for _, u := range m.TempUsers {
		if _, err := ledger.GetTempUser(ctx, u.Name); err != nil {
			t.Errorf("ledger entry %s: %v", u.Name, err)
		}
	}

	// The upgraded store works: a new account and its removal.
	if err := dir.CreateAccount(ctx, store.Account{User: "upgraded", Domains: []string{"upgraded.test"}, Plan: "gold"}); err != nil {
		t.Fatalf("create after the upgrade: %v", err)
	}
	if err := dir.CreateAccount(ctx, store.Account{User: m.Accounts[0].User}); !errors.Is(err, store.ErrExists) {
		t.Errorf("create of an upgraded account's name = %v, want ErrExists", err)
	}
	if err := dir.RemoveAccount(ctx, "upgraded"); err != nil {
		t.Fatal(err)
	}
}
