package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// maxBatch bounds how many writes one transaction of the writer runs.
const maxBatch = 256

// writer runs the store's writes, in the order they arrive, in batches:
// the first caller to find the queue empty becomes the leader, takes every
// write queued by then (its own first), runs them in one IMMEDIATE
// transaction and commits; then it answers the others of the batch and
// hands the lead to the first write queued meanwhile. A write that finds a
// leader at work waits. A lone write is a batch of one. Every batch runs on
// the same connection (see writerCacheKiB). Each write is answered only once its transaction committed,
// so a write that succeeded is durable (WAL, synchronous=NORMAL) when its
// caller hears of it.
//
// A failing write does not fail its batch: SQLite rolls back only the
// failing statement of a constraint violation, and a write's own logical
// failure (no row matched) changes nothing. If the transaction cannot be
// begun or committed, every write of the batch gets that error.
type writer struct {
	db    *sql.DB
	mu    sync.Mutex
	queue []*writeReq
	// connMu guards conn, the connection batches run on (see
	// writerCacheKiB); the leader holds it while it runs a batch.
	connMu sync.Mutex
	conn   *sql.Conn
	// txs counts the transactions run, writes the writes: their ratio is
	// the batching achieved.
	txs, writes atomic.Int64
}

// writeFunc runs one write on q (the *sql.Tx of its batch). It must not
// call the writer again.
type writeFunc func(ctx context.Context, q querier) error

type writeReq struct {
	ctx  context.Context
	fn   writeFunc
	err  error
	done bool          // guarded by writer.mu
	wake chan struct{} // "done" or "you lead now"
}

// do queues fn and returns its error once its batch has committed.
func (w *writer) do(ctx context.Context, fn writeFunc) error {
	req := &writeReq{ctx: ctx, fn: fn, wake: make(chan struct{}, 1)}
	w.mu.Lock()
	w.queue = append(w.queue, req)
	lead := len(w.queue) == 1
	w.mu.Unlock()
	if !lead {
		// Waiting does not give up on ctx: the leader may be running fn
		// already. It checks ctx before it starts fn.
		<-req.wake
		w.mu.Lock()
		done := req.done
		w.mu.Unlock()
		if done {
			return req.err
		}
	}
	// req is at the head of the queue: lead one batch. Yielding first lets
	// goroutines that are about to queue a write (typically those just
	// answered) join this batch rather than wait for the next one.
	runtime.Gosched()
	w.mu.Lock()
	batch := slices.Clone(w.queue[:min(len(w.queue), maxBatch)])
	w.mu.Unlock()
	w.run(batch)
	w.mu.Lock()
	n := copy(w.queue, w.queue[len(batch):])
	clear(w.queue[n:])
	w.queue = w.queue[:n]
	for _, r := range batch[1:] {
		r.done = true
		r.wake <- struct{}{}
	}
	if len(w.queue) > 0 {
		w.queue[0].wake <- struct{}{} // the next leader
	}
	w.mu.Unlock()
	return req.err
}

// writerCacheKiB is the page cache of the writer's connection. Every
// other connection's cache is emptied whenever the writer commits (SQLite
// keeps a connection's cache only while no other connection has written),
// so this one cache is the only one that stays warm: with a million
// sessions it holds the inner pages of the indexes that random keys
// (login and cookie hashes) keep touching, which the default 2 MiB cannot.
// It is not larger because every commit walks the cache (SQLite's
// pcache1TruncateUnsafe): at 64 MiB that walk was 11 % of the CPU of a
// create load with a million sessions, and 8 MiB made creates cheaper
// (99 against 111 µs per request) and the process smaller (BENCHMARKS.md).
const writerCacheKiB = 8 << 10

// connection returns the connection every batch runs on, opening it on first
// use. Only the leader calls it (under connMu).
func (w *writer) connection(ctx context.Context) (*sql.Conn, error) {
	if w.conn != nil {
		return w.conn, nil
	}
	c, err := w.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", writerCacheKiB)); err != nil {
		c.Close()
		return nil, err
	}
	w.conn = c
	return c, nil
}

// close returns the writer's connection to the pool.
func (w *writer) close() error {
	w.connMu.Lock()
	defer w.connMu.Unlock()
	if w.conn == nil {
		return nil
	}
	err := w.conn.Close()
	w.conn = nil
	return err
}

// run executes one batch in one transaction on the writer's connection.
// The statements run under a context that the callers' cancellation does
// not reach: interrupting a statement inside a transaction would roll back
// the whole batch.
func (w *writer) run(batch []*writeReq) {
	ctx := context.WithoutCancel(batch[0].ctx)
	if len(batch) == 1 {
		if err := batch[0].ctx.Err(); err != nil {
			batch[0].err = err
			return
		}
	}
	w.connMu.Lock()
	defer w.connMu.Unlock()
	w.txs.Add(1)
	w.writes.Add(int64(len(batch)))
	fail := func(what string, err error) {
		for _, r := range batch {
			r.err = fmt.Errorf("%s: %w", what, err)
		}
	}
	conn, err := w.connection(ctx)
	if err != nil {
		fail("connect", err)
		return
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		// The connection may be broken: the next batch opens another.
		w.conn.Close()
		w.conn = nil
		fail("begin", err)
		return
	}
	for _, r := range batch {
		if r.err = r.ctx.Err(); r.err == nil {
			r.err = r.fn(ctx, tx)
		}
	}
	if err := tx.Commit(); err != nil {
		fail("commit", err)
	}
}
