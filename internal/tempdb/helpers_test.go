package tempdb

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/sqlstore"
)

const (
	lowerDigits = "abcdefghijklmnopqrstuvwxyz0123456789"
	alnumUnder  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
)

func randFrom(t testing.TB, alphabet string, n int) string {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			t.Fatal(err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

// testAccount is a fresh account name: "t" + 8 of [a-z0-9].
func testAccount(t testing.TB) string { return "t" + randFrom(t, lowerDigits, 8) }

// testUser is a temporary user shaped like session.NewTempUser's.
func testUser(t testing.TB, account, sessionID string) User {
	return User{
		Name:      "cpses_" + account[:2] + randFrom(t, lowerDigits, 8),
		Password:  randFrom(t, alnumUnder, 32),
		Account:   account,
		SessionID: sessionID,
	}
}

// testLedger opens a fresh SQLite store and returns its ledger and the
// store (whose Ledger is a second handle on the same entries).
func testLedger(t testing.TB) (store.Ledger, *sqlstore.DB) {
	t.Helper()
	db, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "uapid.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Ledger(), db
}

// record puts u in the ledger l.
func record(ctx context.Context, l store.Ledger, u User) error {
	return l.RecordTempUser(ctx, store.TempUser{Name: u.Name, Account: u.Account, SessionID: u.SessionID})
}

// logBuffer collects a Manager's log output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// assertNoSecrets fails if text contains the name or password of any user.
func assertNoSecrets(t testing.TB, what, text string, users ...User) {
	t.Helper()
	for _, u := range users {
		if u.Name != "" && strings.Contains(text, u.Name) {
			t.Errorf("%s contains a temporary user name:\n%s", what, text)
		}
		if u.Password != "" && strings.Contains(text, u.Password) {
			t.Errorf("%s contains a temporary user password:\n%s", what, text)
		}
	}
}

// unreachable skips the test (or fails it when CI is set) because a database
// server is not available.
func unreachable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not reachable (CI is set, so this is an error): %v", what, err)
	}
	t.Skipf("skipping: %s is not reachable: %v", what, err)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
