package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store"
)

// TestPostgresSecretsAtRest checks that the temporary password and the
// return URL are sealed in the table, bound to their record, and readable
// after a key rotation only while the old key is configured.
func TestPostgresSecretsAtRest(t *testing.T) {
	t.Parallel()
	schema := pgSchema(t)
	ctx := t.Context()
	k1, k2 := secretbox.NewKey(), secretbox.NewKey()
	db := openPostgresAt(t, schema, newBox(t, k1, nil))
	r := newSession("alice")
	must(t, db.Sessions().Create(ctx, r))
	var retURL, tempPass []byte
	var tempUser string
	if err := db.SQL().QueryRowContext(ctx, `SELECT return_url, temp_pass, temp_user FROM sessions WHERE id = $1`, r.ID).
		Scan(&retURL, &tempPass, &tempUser); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(retURL, []byte("back?x=1")) || bytes.Contains(tempPass, []byte(r.TempPass)) {
		t.Fatal("a secret is stored in clear")
	}
	if len(tempPass) != len(r.TempPass)+secretbox.Overhead || tempUser != r.TempUser {
		t.Fatalf("stored temp_pass has %d bytes; temp_user %q", len(tempPass), tempUser)
	}
	// Records without secrets keep empty values.
	empty := newSession("alice")
	empty.ReturnURL, empty.TempUser, empty.TempPass = "", "", ""
	must(t, db.Sessions().Create(ctx, empty))
	if got, err := db.Sessions().Get(ctx, empty.ID); err != nil || got.ReturnURL != "" || got.TempPass != "" {
		t.Fatalf("record without secrets: %+v, %v", got, err)
	}

	// Rotation: the new key reads old records only with the old key set.
	rotated := openPostgresAt(t, schema, newBox(t, k2, k1)).Sessions()
	got, err := rotated.Get(ctx, r.ID)
	if err != nil || got.TempPass != r.TempPass || got.ReturnURL != r.ReturnURL {
		t.Fatalf("Get after rotation: %+v, %v", got, err)
	}
	r2 := newSession("alice")
	must(t, rotated.Create(ctx, r2))
	newOnly := openPostgresAt(t, schema, newBox(t, k2, nil)).Sessions()
	if _, err := newOnly.Get(ctx, r2.ID); err != nil {
		t.Fatalf("a record sealed under the new key needs the old one: %v", err)
	}
	if _, err := newOnly.Get(ctx, r.ID); !errors.Is(err, secretbox.ErrUnknownKey) {
		t.Fatalf("old record without the old key: %v, want ErrUnknownKey", err)
	} else if strings.Contains(err.Error(), r.TempPass) {
		t.Fatalf("the error shows the secret: %v", err)
	}
	if _, err := openPostgresAt(t, schema, newBox(t, secretbox.NewKey(), nil)).Sessions().Get(ctx, r.ID); err == nil {
		t.Fatal("a wrong key opened the record")
	}

	// A sealed value moved to another record does not open there.
	if _, err := db.SQL().ExecContext(ctx, `UPDATE sessions SET temp_pass = (SELECT temp_pass FROM sessions WHERE id = $1) WHERE id = $2`, r2.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := rotated.Get(ctx, r.ID); !errors.Is(err, secretbox.ErrOpen) {
		t.Fatalf("swapped ciphertext: %v, want ErrOpen", err)
	}

	if _, err := OpenPostgres(ctx, schema, Options{}); err == nil {
		t.Fatal("OpenPostgres without a key succeeded")
	}
}

// TestSQLiteSecretsInClear: the local SQLite file keeps the return URL and
// the temporary password in clear, as before (the file is the server's
// alone; there is no key to keep next to it).
func TestSQLiteSecretsInClear(t *testing.T) {
	t.Parallel()
	db, path := tempSQLite(t)
	ctx := t.Context()
	r := newSession("alice")
	must(t, db.Sessions().Create(ctx, r))
	var retURL, tempPass string
	if err := db.SQL().QueryRowContext(ctx, `SELECT return_url, temp_pass FROM sessions WHERE id = ?`, r.ID).Scan(&retURL, &tempPass); err != nil {
		t.Fatal(err)
	}
	if retURL != r.ReturnURL || tempPass != r.TempPass {
		t.Errorf("stored %q, %q; want them in clear", retURL, tempPass)
	}
	var typ string
	must(t, db.SQL().QueryRowContext(ctx, `SELECT typeof(temp_pass) FROM sessions WHERE id = ?`, r.ID).Scan(&typ))
	if typ != "text" {
		t.Errorf("temp_pass is stored as %s", typ)
	}
	// A key given to an SQLite store changes nothing.
	db2, err := OpenSQLite(ctx, path, Options{Box: newBox(t, secretbox.NewKey(), nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if got, err := db2.Sessions().Get(ctx, r.ID); err != nil || got.TempPass != r.TempPass {
		t.Errorf("Get with a key: %+v, %v", got, err)
	}
}

// TestTextLimits: what a store cannot hold (PostgreSQL text takes neither
// NUL nor invalid UTF-8) is refused with ErrInvalid on both dialects, and
// lookups by such text find nothing; never a driver error.
func TestTextLimits(t *testing.T) {
	t.Parallel()
	forDialects(t, func(t *testing.T, dc *dialectCase) {
		t.Parallel()
		ctx := t.Context()
		db := dc.open(t)
		s, d, l, a := db.Sessions(), db.Directory(), db.Ledger(), db.Attempts()
		must(t, d.CreateAccount(ctx, store.Account{User: "alice", Domains: []string{"alice.test"}}))
		live := newSession("alice")
		must(t, s.Create(ctx, live))
		now := t0
		for _, bad := range []string{"a\x00b", "\xff\xfe", "\x00"} {
			isInvalid := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, store.ErrInvalid) {
					t.Errorf("%s with %q: %v, want ErrInvalid", what, bad, err)
				}
			}
			isNotFound := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s(%q): %v, want ErrNotFound", what, bad, err)
				}
			}
			// Sessions.
			for _, set := range []func(r *store.Session){
				func(r *store.Session) { r.User = bad },
				func(r *store.Session) { r.ID = bad },
				func(r *store.Session) { r.Token = bad },
				func(r *store.Session) { r.ReturnURL = bad },
				func(r *store.Session) { r.TempPass = bad },
				func(r *store.Session) { r.Origin = bad },
			} {
				r := newSession("alice")
				set(&r)
				isInvalid("Create", s.Create(ctx, r))
			}
			_, err := s.Get(ctx, bad)
			isNotFound("Get", err)
			_, err = s.Delete(ctx, bad)
			isNotFound("Delete", err)
			_, err = s.Consume(ctx, bad, hash32(), now, now.Add(time.Hour))
			isNotFound("Consume", err)
			isNotFound("Touch", s.Touch(ctx, bad, now, now.Add(time.Hour)))
			_, err = s.MarkTempCreated(ctx, bad)
			isNotFound("MarkTempCreated", err)
			if rs, err := s.DeleteByAccount(ctx, bad, ""); err != nil || len(rs) != 0 {
				t.Errorf("DeleteByAccount(%q) = %v, %v", bad, rs, err)
			}
			if rs, err := s.DeleteByAccount(ctx, "alice", bad); err != nil || len(rs) != 0 {
				t.Errorf("DeleteByAccount(alice, %q) = %v, %v", bad, rs, err)
			}
			if rs, err := s.List(ctx, bad); err != nil || len(rs) != 0 {
				t.Errorf("List(%q) = %v, %v", bad, rs, err)
			}

			// Directory.
			_, err = d.GetAccount(ctx, bad)
			isNotFound("GetAccount", err)
			_, err = d.DomainOwner(ctx, bad)
			isNotFound("DomainOwner", err)
			_, err = d.GetMailbox(ctx, bad)
			isNotFound("GetMailbox", err)
			_, err = d.ListMailboxes(ctx, bad)
			isNotFound("ListMailboxes", err)
			_, err = d.ListTokens(ctx, bad)
			isNotFound("ListTokens", err)
			_, err = d.TokenByHash(ctx, bad, hash32())
			isNotFound("TokenByHash", err)
			isNotFound("RevokeToken", d.RevokeToken(ctx, "alice", bad))
			isNotFound("RevokeToken", d.RevokeToken(ctx, bad, "ci"))
			isNotFound("RemoveMailbox", d.RemoveMailbox(ctx, bad))
			isNotFound("RemoveAccount", d.RemoveAccount(ctx, bad))
			_, err = d.UpdateAccount(ctx, bad, func(*store.Account) error { return nil })
			isNotFound("UpdateAccount", err)
			_, err = d.UpdateMailbox(ctx, bad, func(*store.Mailbox) error { return nil })
			isNotFound("UpdateMailbox", err)
			isInvalid("SetRootPasswordHash", d.SetRootPasswordHash(ctx, bad))
			isInvalid("CreateAccount(plan)", d.CreateAccount(ctx, store.Account{User: "bob", Plan: bad}))
			isInvalid("CreateAccount(contact)", d.CreateAccount(ctx, store.Account{User: "bob", ContactEmail: "a@" + bad + ".test"}))
			isInvalid("CreateAccount(reason)", d.CreateAccount(ctx, store.Account{User: "bob", Suspended: true, SuspendReason: bad}))
			_, err = d.UpdateAccount(ctx, "alice", func(a *store.Account) error { a.Plan = bad; return nil })
			isInvalid("UpdateAccount(plan)", err)
			isInvalid("CreateMailbox", d.CreateMailbox(ctx, store.Mailbox{Address: bad + "@alice.test"}))
			isInvalid("CreateToken", d.CreateToken(ctx, store.Token{User: "alice", Name: bad, Hash: hash32()}))

			// Ledger.
			isInvalid("RecordTempUser", l.RecordTempUser(ctx, store.TempUser{Name: bad, Account: "alice", SessionID: "s"}))
			isInvalid("RecordTempUser", l.RecordTempUser(ctx, store.TempUser{Name: "n", Account: "alice", SessionID: bad}))
			_, err = l.GetTempUser(ctx, bad)
			isNotFound("GetTempUser", err)
			if err := l.RemoveTempUser(ctx, bad); err != nil {
				t.Errorf("RemoveTempUser(%q) = %v", bad, err)
			}

			// Attempts: the user a client typed may be anything. Lookups
			// find nothing; writes are refused as invalid.
			k := store.AttemptKey{Kind: store.AttemptUser, Value: bad}
			if bu, err := a.BlockedUntil(ctx, []store.AttemptKey{{Kind: store.AttemptIP, Value: "192.0.2.1"}, k}, now); err != nil || len(bu) != 2 || !bu[1].IsZero() {
				t.Errorf("BlockedUntil(%q) = %v, %v", bad, bu, err)
			}
			if ok, err := a.Trusted(ctx, bad, "192.0.2.1", now); ok || err != nil {
				t.Errorf("Trusted(%q) = %v, %v", bad, ok, err)
			}
			_, err = a.Failure(ctx, k, now, time.Minute)
			isInvalid("Failure", err)
			_, err = a.Block(ctx, k, 0, now.Add(time.Minute), now.Add(time.Hour))
			isInvalid("Block", err)
			isInvalid("Trust", a.Trust(ctx, bad, "192.0.2.1", now.Add(time.Hour)))
		}
		// The store still works (PostgreSQL: no aborted transaction or
		// broken connection left behind).
		if got, err := s.Get(ctx, live.ID); err != nil || got.ID != live.ID {
			t.Errorf("Get after the refusals: %v", err)
		}
		if _, err := a.Failure(ctx, store.AttemptKey{Kind: store.AttemptUser, Value: "ok"}, now, time.Minute); err != nil {
			t.Errorf("Failure after the refusals: %v", err)
		}
		must(t, db.Ping(context.Background()))
	})
}
