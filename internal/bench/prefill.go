package bench

import (
	"context"
	"fmt"
	"time"

	uapisqlite "github.com/uapid/uapid/internal/sqlite"
)

// prefill inserts n sessions straight into the sessions table of the
// SQLite store at dbPath, in one transaction, with one INSERT … SELECT
// over a generated series (no round trip per row). The records look like
// those of create_webmail_session_for_mail_user (random 32-byte login
// hashes, one of nAccounts accounts each) and expire at expires. kind
// ("live" or "expired") keeps the ids and tokens of separate fills apart.
// The ids of the expired sessions prefill inserts are in [expiredIDPrefix,
// expiredIDEnd).
const expiredIDPrefix, expiredIDEnd = "pfex", "pfey"

func prefill(ctx context.Context, dbPath string, n, nAccounts int, kind string, expires time.Time) (time.Duration, error) {
	db, err := uapisqlite.Open(dbPath)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	idPrefix, tokenBase := "pfli", int64(9_000_000_000)
	if kind == "expired" {
		idPrefix, tokenBase = expiredIDPrefix, 7_000_000_000
	}
	if n > 50_000_000 {
		return 0, fmt.Errorf("prefill: at most 50000000 sessions")
	}
	now := time.Now().UnixMilli()
	exp := expires.UnixMilli()
	created := min(now, exp-1)
	t0 := time.Now()
	// Tokens come from a range of their own; one that a real session took
	// already (1 in 10^4 per session) is skipped (OR IGNORE) and made up
	// for in the next round, from the next range.
	inserted := 0
	for round := int64(0); inserted < n; round++ {
		if round >= 10 {
			return 0, fmt.Errorf("prefill %s sessions: only %d of %d inserted", kind, inserted, n)
		}
		base := tokenBase + round*int64(n)
		res, err := db.ExecContext(ctx, `
WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x + 1 < ?)
INSERT OR IGNORE INTO sessions (id, user, account, service, token, login_hash, consumed, cookie_hash,
	creator, method, origin, locale, return_url, temp_user, temp_pass, temp_created,
	created_at, last_used, expires_at)
SELECT printf('%s%d%014d', ?, ?, x),
	printf('pf%d@bench%05d.test', x, x % ?),
	printf('bench%05d', x % ?),
	'webmaild',
	printf('/cpsess%010d', ? + x),
	randomblob(32), 0, NULL,
	printf('bench%05d', x % ?),
	'create_webmail_session_for_mail_user', '127.0.0.1', 'en', '', '', '', 0,
	?, ?, ?
FROM c`, n-inserted, idPrefix, round, nAccounts, nAccounts, base, nAccounts, created, created, exp)
		if err != nil {
			return 0, fmt.Errorf("prefill %s sessions: %w", kind, err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		inserted += int(k)
	}
	return time.Since(t0), nil
}
