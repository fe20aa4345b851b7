package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/sqlstore/pgtest"
)

// Helpers shared by this package's tests. The stores are opened as the
// server opens them (OpenSQLite, OpenPostgres) and closed when the test
// ends.

// openSQLiteAt opens the SQLite store at path and closes it when t ends.
func openSQLiteAt(t testing.TB, path string) *DB {
	t.Helper()
	db, err := OpenSQLite(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tempSQLite opens a fresh SQLite store in t's temporary directory and
// returns it with its path.
func tempSQLite(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "uapid.db")
	return openSQLiteAt(t, path), path
}

// testKey is the secretbox key of the PostgreSQL stores of this test
// binary (several handles on one schema must share it).
var testKey = sync.OnceValue(secretbox.NewKey)

// newBox returns a box with current key cur and old key old (nil: none).
func newBox(t testing.TB, cur, old []byte) *secretbox.Box {
	t.Helper()
	b, err := secretbox.New(cur, old)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openPostgresAt opens the PostgreSQL store at dsn with box (nil: one of
// testKey) and closes it when t ends.
func openPostgresAt(t testing.TB, dsn string, box *secretbox.Box) *DB {
	t.Helper()
	if box == nil {
		box = newBox(t, testKey(), nil)
	}
	db, err := OpenPostgres(context.Background(), dsn, Options{Box: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// pgSchema returns the DSN of a fresh schema in a fresh database (both
// dropped when t ends); t is skipped when PostgreSQL cannot be reached
// (failed when CI is set).
func pgSchema(t testing.TB) string {
	t.Helper()
	return pgtest.Schema(t, pgtest.NewDatabase(t))
}

// dialectCase is one dialect under test. A test calls init with the
// subtest that uses it (PostgreSQL: one database for that subtest, or a
// skip), then open for fresh stores and reopen for more handles on one.
type dialectCase struct {
	name string
	// dsn is the database of the PostgreSQL case (set by init).
	dsn string
	mu  sync.Mutex
	// where maps each open store to its file or schema DSN.
	where map[*DB]string
}

// dialects returns both dialects.
func dialects() []*dialectCase {
	return []*dialectCase{{name: "SQLite"}, {name: "PostgreSQL"}}
}

func (dc *dialectCase) pg() bool { return dc.name == "PostgreSQL" }

// init prepares the dialect for the (sub)test t.
func (dc *dialectCase) init(t testing.TB) {
	t.Helper()
	dc.where = map[*DB]string{}
	if dc.pg() {
		dc.dsn = pgtest.NewDatabase(t)
	}
}

// open opens a fresh, empty store.
func (dc *dialectCase) open(t testing.TB) *DB {
	t.Helper()
	var db *DB
	var where string
	if dc.pg() {
		where = pgtest.Schema(t, dc.dsn)
		db = openPostgresAt(t, where, nil)
	} else {
		db, where = tempSQLite(t)
	}
	dc.mu.Lock()
	dc.where[db] = where
	dc.mu.Unlock()
	return db
}

// reopen opens another handle on the store of db.
func (dc *dialectCase) reopen(t testing.TB, db *DB) *DB {
	t.Helper()
	dc.mu.Lock()
	where := dc.where[db]
	dc.mu.Unlock()
	var o *DB
	if dc.pg() {
		o = openPostgresAt(t, where, nil)
	} else {
		o = openSQLiteAt(t, where)
	}
	dc.mu.Lock()
	dc.where[o] = where
	dc.mu.Unlock()
	return o
}

// forDialects runs fn as a subtest per dialect.
func forDialects(t *testing.T, fn func(t *testing.T, dc *dialectCase)) {
	for _, dc := range dialects() {
		t.Run(dc.name, func(t *testing.T) {
			dc.init(t)
			fn(t, dc)
		})
	}
}

// randHex returns n random bytes in hex.
func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// hash32 returns a fresh random SHA-256-sized hash.
func hash32() []byte {
	h := sha256.Sum256([]byte(randHex(16)))
	return h[:]
}

// t0 is the reference time of the records (in the future, so that they
// are not expired while the tests run).
var t0 = time.Date(2031, 3, 4, 5, 6, 7, 890123456, time.UTC)

// newSession returns a fresh, unused session record of account (in the
// shape the server creates for a Webmail session of a mailbox), valid
// from t0-1s to t0+5m.
func newSession(account string) store.Session {
	id := randHex(16)
	user := "box." + id[:6] + "@" + account + ".example"
	return store.Session{
		ID:        id,
		User:      user,
		Account:   account,
		Service:   "webmaild",
		Token:     "/cpsess" + randHex(5),
		LoginHash: hash32(),
		Creator:   account,
		Method:    "create_webmail_session_for_mail_user",
		Origin:    "2001:db8::7",
		Locale:    "pt_br",
		ReturnURL: "https://" + account + ".example/back?x=1&y=\u00e9",
		TempUser:  "cpses_" + account[:min(2, len(account))] + randHex(4),
		TempPass:  "tp-" + randHex(12),
		CreatedAt: t0.Add(-time.Second),
		LastUsed:  t0.Add(-time.Second),
		ExpiresAt: t0.Add(300 * time.Second),
	}
}

// ms truncates t to the store's precision, in UTC.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

const hashA = "$6$3SEXnFBYReeZKw/0$LylmlhH1QR/8ptqJOR/4nmv2ZeSSm2Ot96M0H0UBCVVS7tPHEbhSOEfMRVnG9FDEGvCDknBMghfiQ8W1AGc4j/"

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
