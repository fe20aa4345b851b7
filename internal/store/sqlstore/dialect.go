package sqlstore

import (
	"database/sql"
	"strings"

	"github.com/uapid/uapid/internal/store"
)

// dialect is everything that differs between SQLite and PostgreSQL.
type dialect struct {
	name string // "sqlite" or "postgres": the suffix of its migration files
	what string // the store's name in messages
	// numbered: placeholders are $1, $2, … (else ?).
	numbered bool
	// lockDirectory, when set, runs first in every directory write
	// transaction and serialises them (SQLite's immediate transactions
	// need nothing more).
	lockDirectory string
	// lockMigrations likewise serialises migration steps across
	// processes and nodes.
	lockMigrations string
	// lockAttemptKey, when set, runs first (with the key's kind and
	// value) in the transactions that count a failure or block a key, so
	// that those of one key are serialised (SQLite's immediate
	// transactions need nothing more).
	lockAttemptKey string
	// migrationsSQL creates the migration bookkeeping table; appliedSQL
	// lists (component, version); recordSQL records one step (component,
	// version, unix seconds).
	migrationsSQL, appliedSQL, recordSQL string
	// readTx are the options of transactions that read a snapshot.
	readTx *sql.TxOptions
	// skipLocked is the locking clause of the subquery that picks
	// expired sessions, so that sweepers on several nodes share the work.
	skipLocked string
	// sweepChunk is how many expired sessions the first statement of a
	// sweep removes (0: as many as asked at once, in one statement; else
	// the size adapts, see sweepChunker); sweepPause how many times the
	// duration of a chunk a sweep waits before the next one.
	sweepChunk, sweepPause int
	// sealed: the secret fields of session records are sealed (bytea);
	// else they are kept in clear (text).
	sealed bool

	// unavailable reports whether err means the server cannot be reached.
	unavailable func(err error) bool
	// uniqueViolation reports whether err is a unique-constraint
	// violation, with a text that names the constraint or its columns.
	uniqueViolation func(err error) (detail string, ok bool)
	// badText reports whether err is the database refusing text (not
	// UTF-8, or a NUL byte).
	badText func(err error) bool
}

// violates reports whether err violates a unique constraint whose name or
// columns mention one of names (any unique constraint when names is
// empty).
func (d *dialect) violates(err error, names ...string) bool {
	detail, ok := d.uniqueViolation(err)
	if !ok {
		return false
	}
	if len(names) == 0 {
		return true
	}
	for _, n := range names {
		if strings.Contains(detail, n) {
			return true
		}
	}
	return false
}

// storeUnavailable is the error of an unreachable server.
func storeUnavailable(what, op string, err error) error {
	return store.Unavailable(what, &opError{op: op, err: err})
}

type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }
