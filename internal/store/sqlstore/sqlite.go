package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteDriver is the database/sql driver of SQLite stores:
// modernc.org/sqlite with a cache of prepared statements on each
// connection (see cachingConn).
const sqliteDriver = "uapid-sqlite"

func init() {
	sql.Register(sqliteDriver, cachingDriver{&sqlite.Driver{}})
}

// sqliteMaxConns bounds the connections of one SQLite store: enough for
// concurrent readers on a few cores (WAL readers do not block each other
// or the writer); session writes go through one queue anyway.
const sqliteMaxConns = 8

// checkpointEvery is how often the background checkpointer of an open
// SQLite store copies what the WAL holds back into the database file; a
// commit checkpoints by itself only when the WAL is past
// autoCheckpointPages.
//
// A WAL file is reused from its start only when a write begins with all
// of it checkpointed. A server with pauses between writes gets there on
// its own (the checkpointer catches up within checkpointEvery), and its
// WAL stays small. Under a steady stream of writes the checkpointer never
// quite catches up, so the WAL grows until a commit crosses
// autoCheckpointPages and checkpoints (and so restarts) it itself: that
// commit waits for an fsync of the database file, which on a large store
// written at random places takes 100 ms or more, and every write queued
// behind it waits too. The threshold is high so that this happens rarely
// (about every 30 s at half of the peak creation rate with a million
// sessions); the price is disk space: under sustained load the WAL file
// grows to about 1 GiB and keeps that size while the server runs (SQLite
// removes it when the last connection closes).
const (
	checkpointEvery     = 100 * time.Millisecond
	autoCheckpointPages = 262144 // 1 GiB of 4 KiB pages
)

var sqliteDialect = &dialect{
	name: "sqlite",
	what: "SQLite store",
	migrationsSQL: `CREATE TABLE IF NOT EXISTS schema_migrations (
		component  TEXT    NOT NULL,
		version    INTEGER NOT NULL,
		applied_at INTEGER NOT NULL,
		PRIMARY KEY (component, version))`,
	appliedSQL: `SELECT component, version FROM schema_migrations`,
	recordSQL:  `INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)`,
	// An immediate transaction holds SQLite's write lock from its start:
	// directory writes and migration steps are serialised by it.
	readTx: &sql.TxOptions{ReadOnly: true},
	// A sweep takes at most a third of the writer's time, in chunks that
	// hold it for about sweepChunkTime each (BENCHMARKS.md: the measured
	// alternatives).
	sweepChunk: 256,
	sweepPause: 2,
	unavailable: func(err error) bool {
		var se *sqlite.Error
		if errors.As(err, &se) {
			switch se.Code() & 0xff {
			case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN:
				return true
			}
		}
		return errors.Is(err, context.DeadlineExceeded)
	},
	uniqueViolation: func(err error) (string, bool) {
		var se *sqlite.Error
		if !errors.As(err, &se) {
			return "", false
		}
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			// "UNIQUE constraint failed: directory_tokens.username, directory_tokens.hash"
			return se.Error(), true
		}
		return "", false
	},
	badText: func(error) bool { return false },
}

// OpenSQLite opens (creating if needed) the SQLite store at path with the
// settings uapid relies on — WAL journal, foreign keys, a busy timeout so
// that the CLI and a running server share the file, immediate write
// transactions — and applies the migrations. With WAL and
// synchronous=NORMAL a committed write is in the WAL file before the
// commit returns, so it survives a crash of the process (not necessarily
// a power loss of the machine).
//
// Each connection keeps its prepared statements (cachingConn). WAL
// checkpoints run in a background goroutine every checkpointEvery rather
// than inside whichever commit crosses SQLite's default threshold: a
// checkpoint takes milliseconds, and a commit that has to run one holds up
// every write queued behind it. Durability is the same: a commit is in
// the WAL when it returns, checkpointed or not.
func OpenSQLite(ctx context.Context, path string, o Options) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("SQLite store: cannot create its directory: %v", err)
	}
	q := url.Values{}
	for _, p := range []string{
		"busy_timeout(10000)",
		"journal_mode(WAL)",
		"foreign_keys(ON)",
		"synchronous(NORMAL)",
		fmt.Sprintf("wal_autocheckpoint(%d)", autoCheckpointPages),
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	sdb, err := sql.Open(sqliteDriver, "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("SQLite store: open %s: %w", path, err)
	}
	n := sqliteMaxConns
	if o.MaxConns > 0 {
		n = o.MaxConns
	}
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	sdb.SetMaxOpenConns(n)
	// Keep every connection open while idle (database/sql keeps only 2 by
	// default): opening one costs far more than a query, and each holds
	// its cache of prepared statements.
	sdb.SetMaxIdleConns(n)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := sdb.PingContext(pctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("SQLite store: open %s: %w", path, err)
	}
	db := &DB{db: sdb, d: sqliteDialect}
	db.w = &writer{db: sdb}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	done := make(chan struct{})
	var once sync.Once // Close may be called again
	db.stop = func() { once.Do(func() { close(done) }) }
	go checkpointer(sdb, checkpointEvery, done)
	return db, nil
}

// checkpointer runs a PASSIVE checkpoint (which never waits for, nor holds
// up, readers and writers) every interval until done is closed or the
// *sql.DB is. Errors (a
// busy database, a full disk) are left to the next round and, meanwhile,
// to the automatic checkpoint of commits.
func checkpointer(db *sql.DB, every time.Duration, done <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		var busy, logFrames, checkpointed int
		err := db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &checkpointed)
		if err != nil && strings.Contains(err.Error(), "sql: database is closed") {
			return // closed through SQL() rather than Close
		}
	}
}

// cachingDriver opens connections of the wrapped driver that keep the
// statements they run prepared (cachingConn).
type cachingDriver struct{ d driver.Driver }

func (d cachingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.d.Open(name)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: c, cache: make(map[string]*cachedStmt)}, nil
}

// maxCachedStmts bounds the statements one connection keeps prepared.
// uapid runs a few dozen distinct statements.
const maxCachedStmts = 128

// cachingConn keeps every single statement it runs through QueryContext
// or ExecContext (database/sql's path for db.QueryContext, db.ExecContext,
// tx.QueryContext …) prepared, keyed by its text, and reuses it the next
// time the same text runs on this connection. Parsing and planning a
// statement costs more than running a point query in the pure-Go SQLite,
// and database/sql prepares afresh for every call that is not on an
// explicit *sql.Stmt. The results are those of the uncached path: a
// statement is reset after each use (by its rows' Close), and SQLite
// re-prepares a cached statement by itself when the schema changes.
//
// A connection is used by one goroutine at a time (database/sql
// guarantees it), so the cache needs no lock; a statement whose rows are
// still open is busy, and the same text then runs uncached.
type cachingConn struct {
	driver.Conn
	cache map[string]*cachedStmt
}

type cachedStmt struct {
	st   driver.Stmt
	busy bool
}

var (
	_ driver.ConnBeginTx                = (*cachingConn)(nil)
	_ driver.ConnPrepareContext         = (*cachingConn)(nil)
	_ driver.ExecerContext              = (*cachingConn)(nil)
	_ driver.QueryerContext             = (*cachingConn)(nil)
	_ driver.Pinger                     = (*cachingConn)(nil)
	_ driver.SessionResetter            = (*cachingConn)(nil)
	_ driver.Validator                  = (*cachingConn)(nil)
	_ driver.StmtQueryContext           = (driver.StmtQueryContext)(nil)
	_ interface{ Unwrap() driver.Conn } = (*cachingConn)(nil)
)

// Unwrap returns the driver's own connection (for sql.Conn.Raw users).
func (c *cachingConn) Unwrap() driver.Conn { return c.Conn }

// stmt returns the cached statement for query, preparing it on first use;
// nil when query is not cached (a script, the cache full, the statement
// busy, or preparing failed: the uncached path then reports the error).
func (c *cachingConn) stmt(ctx context.Context, query string) *cachedStmt {
	if cs, ok := c.cache[query]; ok {
		if cs.busy {
			return nil
		}
		return cs
	}
	// Scripts (migrations) hold several statements; they run once.
	if len(c.cache) >= maxCachedStmts || strings.Contains(query, ";") {
		return nil
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if _, ok := st.(driver.StmtQueryContext); !ok {
		st.Close()
		return nil
	}
	cs := &cachedStmt{st: st}
	c.cache[query] = cs
	return cs
}

// QueryContext implements driver.QueryerContext.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if cs := c.stmt(ctx, query); cs != nil {
		rows, err := cs.st.(driver.StmtQueryContext).QueryContext(ctx, args)
		if err != nil {
			return nil, err
		}
		cs.busy = true
		return &cachedRows{Rows: rows, cs: cs}, nil
	}
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

// ExecContext implements driver.ExecerContext.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if cs := c.stmt(ctx, query); cs != nil {
		if ex, ok := cs.st.(driver.StmtExecContext); ok {
			return ex.ExecContext(ctx, args)
		}
	}
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

// PrepareContext implements driver.ConnPrepareContext (explicit *sql.Stmt
// statements are prepared by their owners; they are not cached here).
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

// BeginTx implements driver.ConnBeginTx.
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// Ping implements driver.Pinger.
func (c *cachingConn) Ping(ctx context.Context) error {
	return c.Conn.(driver.Pinger).Ping(ctx)
}

// ResetSession implements driver.SessionResetter.
func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

// IsValid implements driver.Validator.
func (c *cachingConn) IsValid() bool {
	return c.Conn.(driver.Validator).IsValid()
}

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	for q, cs := range c.cache {
		cs.st.Close()
		delete(c.cache, q)
	}
	return c.Conn.Close()
}

// cachedRows marks its statement free again when closed.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	return err
}

// The column type interfaces of the driver's rows are passed through.

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

// OpenSQLiteSQL opens the SQLite store at path like OpenSQLite and returns
// its *sql.DB alone, for tests and tools that read the tables directly;
// closing the *sql.DB closes the store.
func OpenSQLiteSQL(path string) (*sql.DB, error) {
	db, err := OpenSQLite(context.Background(), path, Options{})
	if err != nil {
		return nil, err
	}
	return db.SQL(), nil
}
