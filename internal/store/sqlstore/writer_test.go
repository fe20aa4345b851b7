package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// Tests of the group-commit writer of SQLite stores (writer.go).

// holdWriter makes db's writer busy until release is called, and
// waitQueued waits until n more writes are queued behind it.
func holdWriter(t *testing.T, db *DB) (waitQueued func(n int), release func()) {
	t.Helper()
	w := db.w
	started, unblock := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- w.do(context.Background(), func(context.Context, querier) error {
			close(started)
			<-unblock
			return nil
		})
	}()
	<-started
	waitQueued = func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			w.mu.Lock()
			q := len(w.queue)
			w.mu.Unlock()
			if q >= n+1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d writes queued, want %d", q-1, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(unblock)
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(release)
	return waitQueued, release
}

// writerSession is a record valid around now.
func writerSession() store.Session {
	now := time.Now()
	r := newSession("acct")
	r.CreatedAt, r.LastUsed, r.ExpiresAt = now, now, now.Add(5*time.Minute)
	return r
}

func TestPostgresHasNoWriter(t *testing.T) {
	t.Parallel()
	db := openPostgresAt(t, pgSchema(t), nil)
	if db.w != nil {
		t.Error("a PostgreSQL store has a writer queue")
	}
	if c, w := db.WriteStats(); c != 0 || w != 0 {
		t.Errorf("WriteStats of PostgreSQL = %d, %d", c, w)
	}
}

// TestWriterGroupCommit: writes that queue up while a transaction runs are
// committed together, each caller hears of its own outcome only after the
// commit (another handle sees the records by then), a duplicate fails
// alone, and a caller that gave up before its write started is refused
// without storing anything.
func TestWriterGroupCommit(t *testing.T) {
	t.Parallel()
	db, path := tempSQLite(t)
	s := db.Sessions()
	other := openSQLiteAt(t, path).Sessions() // another handle, as another process
	ctx := context.Background()

	dup := writerSession()
	must(t, s.Create(ctx, dup))
	waitQueued, release := holdWriter(t, db)
	txs0, writes0 := db.WriteStats()

	const n = 20
	recs := make([]store.Session, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		recs[i] = writerSession()
		if i == 7 {
			recs[i].LoginHash = dup.LoginHash // a duplicate login hash: ErrExists
		}
		wg.Go(func() {
			errs[i] = s.Create(ctx, recs[i])
			if errs[i] == nil {
				// Answered: committed, visible to every other connection.
				if _, err := other.Get(ctx, recs[i].ID); err != nil {
					t.Errorf("record %d not visible to another handle after Create returned: %v", i, err)
				}
			}
		})
	}
	waitQueued(n)
	cctx, cancel := context.WithCancel(ctx)
	gone := writerSession()
	var goneErr error
	wg.Go(func() { goneErr = s.Create(cctx, gone) })
	waitQueued(n + 1)
	cancel()
	release()
	wg.Wait()

	for i, err := range errs {
		switch {
		case i == 7 && !errors.Is(err, store.ErrExists):
			t.Errorf("duplicate login hash: %v, want ErrExists", err)
		case i != 7 && err != nil:
			t.Errorf("create %d: %v", i, err)
		}
	}
	if !errors.Is(goneErr, context.Canceled) {
		t.Errorf("canceled create: %v, want context.Canceled", goneErr)
	}
	if _, err := other.Get(ctx, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("canceled create was stored: %v", err)
	}
	txs, writes := db.WriteStats()
	if txs-txs0 != 1 || writes-writes0 != n+1 {
		t.Errorf("%d writes in %d transactions, want %d in 1", writes-writes0, txs-txs0, n+1)
	}
}

// TestWriterMixedBatch: creations, consumptions, touches and deletes
// queued together keep their individual results and their order; a write
// that fails (a constraint, a logical refusal) fails alone.
func TestWriterMixedBatch(t *testing.T) {
	t.Parallel()
	db, _ := tempSQLite(t)
	s := db.Sessions()
	ctx := context.Background()
	a, b, c := writerSession(), writerSession(), writerSession()
	for _, r := range []store.Session{a, b, c} {
		must(t, s.Create(ctx, r))
	}
	now := time.Now()
	waitQueued, release := holdWriter(t, db)
	var wg sync.WaitGroup
	var c1, c2, c3, delErr, touchErr, createErr, markErr error
	var marked bool
	cookie := hash32()
	fresh := writerSession()
	queued := 0
	queue := func(fn func()) {
		wg.Go(fn)
		queued++
		waitQueued(queued)
	}
	queue(func() { _, c1 = s.Consume(ctx, a.ID, cookie, now, now.Add(time.Hour)) })
	queue(func() { _, c2 = s.Consume(ctx, a.ID, hash32(), now, now.Add(time.Hour)) })
	queue(func() { _, c3 = s.Consume(ctx, c.ID, cookie, now, now.Add(time.Hour)) }) // a's cookie: ErrExists
	queue(func() { _, delErr = s.Delete(ctx, b.ID) })
	queue(func() { touchErr = s.Touch(ctx, b.ID, now, now.Add(time.Hour)) })
	queue(func() { createErr = s.Create(ctx, fresh) })
	queue(func() { marked, markErr = s.MarkTempCreated(ctx, fresh.ID) })
	release()
	wg.Wait()
	if c1 != nil || !errors.Is(c2, store.ErrConsumed) {
		t.Errorf("consume twice in one batch: %v, %v; want nil, ErrConsumed", c1, c2)
	}
	if !errors.Is(c3, store.ErrExists) {
		t.Errorf("consume with another record's cookie hash: %v, want ErrExists", c3)
	}
	if delErr != nil || !errors.Is(touchErr, store.ErrNotFound) {
		t.Errorf("delete then touch in one batch: %v, %v; want nil, ErrNotFound", delErr, touchErr)
	}
	if createErr != nil || markErr != nil || !marked {
		t.Errorf("create then mark in one batch: %v, %v, %v", createErr, marked, markErr)
	}
	got, err := s.ByCookieHash(ctx, cookie)
	if err != nil || got.ID != a.ID || !got.Consumed {
		t.Errorf("consumed record: %+v, %v", got, err)
	}
	if got, err := s.Get(ctx, c.ID); err != nil || got.Consumed || got.CookieHash != nil {
		t.Errorf("the record whose consumption failed changed: %+v, %v", got, err)
	}
	if got, err := s.Get(ctx, fresh.ID); err != nil || !got.TempCreated {
		t.Errorf("record created in the batch: %+v, %v", got, err)
	}
}

// TestWriterBatchesUnderLoad: many concurrent writers share commits.
func TestWriterBatchesUnderLoad(t *testing.T) {
	t.Parallel()
	db, _ := tempSQLite(t)
	s := db.Sessions()
	ctx := context.Background()
	txs0, writes0 := db.WriteStats()
	const n = 400
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := s.Create(ctx, writerSession()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	txs, writes := db.WriteStats()
	txs, writes = txs-txs0, writes-writes0
	if writes != n {
		t.Errorf("%d writes counted, want %d", writes, n)
	}
	if txs >= writes {
		t.Errorf("%d writes took %d transactions: no batching", writes, txs)
	}
	t.Logf("%d writes in %d transactions", writes, txs)
	if l, err := s.List(ctx, ""); err != nil || len(l) != n {
		t.Errorf("List = %d records, %v", len(l), err)
	}
}

// TestSweepChunks: an SQLite sweep larger than one chunk removes
// everything expired, in expiry order, honouring the limit, one chunk per
// writer transaction.
func TestSweepChunks(t *testing.T) {
	t.Parallel()
	db, _ := tempSQLite(t)
	s := db.Sessions()
	ctx := context.Background()
	chunk := sqliteDialect.sweepChunk
	if chunk <= 0 {
		t.Fatalf("sweepChunk = %d", chunk)
	}
	now := time.Now()
	n := chunk*2 + 17
	for i := range n {
		r := writerSession()
		r.CreatedAt, r.LastUsed = now.Add(-time.Hour), now.Add(-time.Hour)
		r.ExpiresAt = now.Add(-time.Duration(n-i) * time.Second)
		must(t, s.Create(ctx, r))
	}
	live := writerSession()
	must(t, s.Create(ctx, live))
	txs0, _ := db.WriteStats()
	first, err := s.Sweep(ctx, now, chunk+5)
	if err != nil || len(first) != chunk+5 {
		t.Fatalf("Sweep(limit %d) = %d records, %v", chunk+5, len(first), err)
	}
	if txs, _ := db.WriteStats(); txs-txs0 != 2 {
		t.Errorf("a sweep of %d records took %d transactions, want 2", chunk+5, txs-txs0)
	}
	rest, err := s.Sweep(ctx, now, 0)
	if err != nil || len(rest) != n-chunk-5 {
		t.Fatalf("Sweep(no limit) = %d records, %v; want %d", len(rest), err, n-chunk-5)
	}
	all := append(first, rest...)
	seen := map[string]bool{}
	for i, r := range all {
		if seen[r.ID] {
			t.Errorf("record %s swept twice", r.ID)
		}
		seen[r.ID] = true
		if i > 0 && r.ExpiresAt.Before(all[i-1].ExpiresAt) {
			t.Fatalf("sweep order: %v after %v", r.ExpiresAt, all[i-1].ExpiresAt)
		}
	}
	if _, err := s.Get(ctx, live.ID); err != nil {
		t.Fatalf("live record swept: %v", err)
	}
	if rs, err := s.Sweep(ctx, now, 0); err != nil || len(rs) != 0 {
		t.Errorf("sweep of nothing = %d, %v", len(rs), err)
	}
	// A canceled sweep stops between chunks with what it removed.
	for i := range 3 * chunk {
		r := writerSession()
		r.ExpiresAt = now.Add(-time.Duration(i+1) * time.Millisecond)
		must(t, s.Create(ctx, r))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	got, err := s.Sweep(cctx, now, 0)
	if size := db.sweep.size(chunk); !errors.Is(err, context.Canceled) || len(got) > size {
		t.Errorf("canceled sweep = %d records, %v; want at most one chunk (%d)", len(got), err, size)
	}
}

// TestSweepChunkAdapts: the chunk size halves after a full chunk that held
// the writer too long, doubles after one that was quick, stays within its
// bounds, and is kept between sweeps.
func TestSweepChunkAdapts(t *testing.T) {
	var c sweepChunker
	if n := c.size(0); n != 0 {
		t.Fatalf("size(0) = %d: a dialect without chunks got one", n)
	}
	if n := c.size(256); n != 256 {
		t.Fatalf("first size = %d, want the initial 256", n)
	}
	c.adapt(256, 10*sweepChunkTime)
	if n := c.size(256); n != 128 {
		t.Fatalf("after a slow chunk: %d, want 128", n)
	}
	c.adapt(128, sweepChunkTime)
	if n := c.size(256); n != 128 {
		t.Fatalf("after a chunk on time: %d, want 128", n)
	}
	c.adapt(128, sweepChunkTime/4)
	if n := c.size(256); n != 256 {
		t.Fatalf("after a quick chunk: %d, want 256", n)
	}
	for range 20 {
		c.adapt(c.size(256), time.Hour)
	}
	if n := c.size(256); n != sweepChunkMin {
		t.Fatalf("after slow chunks: %d, want the minimum %d", n, sweepChunkMin)
	}
	for range 20 {
		c.adapt(c.size(256), 0)
	}
	if n := c.size(256); n != sweepChunkMax {
		t.Fatalf("after quick chunks: %d, want the maximum %d", n, sweepChunkMax)
	}
}

// TestWriterConnection: every batch runs on one connection with the
// writer's larger page cache, and Close gives it back.
func TestWriterConnection(t *testing.T) {
	t.Parallel()
	db, _ := tempSQLite(t)
	s := db.Sessions()
	ctx := context.Background()
	recs := []store.Session{writerSession(), writerSession(), writerSession()}
	for _, r := range recs {
		must(t, s.Create(ctx, r))
	}
	first := db.w.conn
	if first == nil {
		t.Fatal("no writer connection after writes")
	}
	var kib int
	if err := first.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&kib); err != nil {
		t.Fatal(err)
	}
	if kib != -writerCacheKiB {
		t.Errorf("writer connection cache_size %d, want %d", kib, -writerCacheKiB)
	}
	if _, err := s.Consume(ctx, recs[1].ID, hash32(), time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sweep(ctx, time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	if db.w.conn != first {
		t.Error("a later write ran on another connection")
	}
	must(t, db.Close())
	if db.w.conn != nil {
		t.Error("Close kept the writer connection")
	}
	must(t, db.Close()) // again: no panic, no error
}

// TestSweepTwoHandlesUnderLoad sweeps from two handles (SQLite: two
// processes; PostgreSQL: two nodes) while a third keeps creating and
// consuming: no record is returned twice, none is lost, live ones stay.
func TestSweepTwoHandlesUnderLoad(t *testing.T) {
	t.Parallel()
	forDialects(t, func(t *testing.T, dc *dialectCase) {
		t.Parallel()
		db := dc.open(t)
		a, b, c := db.Sessions(), dc.reopen(t, db).Sessions(), dc.reopen(t, db).Sessions()
		ctx := t.Context()
		now := time.Now()
		const n = 300
		for i := range n {
			r := newSession("sweep")
			r.CreatedAt, r.LastUsed = now.Add(-time.Hour), now.Add(-time.Hour)
			r.ExpiresAt = now.Add(-time.Duration(i+1) * time.Millisecond)
			must(t, c.Create(ctx, r))
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var live []string
		var wg sync.WaitGroup
		for _, s := range []*Sessions{a, b} {
			wg.Go(func() {
				for {
					rs, err := s.Sweep(ctx, now, 13)
					if err != nil {
						t.Error(err)
						return
					}
					if len(rs) == 0 {
						return
					}
					mu.Lock()
					for _, r := range rs {
						seen[r.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Go(func() {
			for i := range 50 {
				r := newSession("live")
				r.CreatedAt, r.LastUsed, r.ExpiresAt = now, now, now.Add(time.Hour)
				if err := c.Create(ctx, r); err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Consume(ctx, r.ID, hash32(), now, now.Add(time.Hour)); err != nil {
					t.Error(fmt.Errorf("consume %d: %w", i, err))
					return
				}
				mu.Lock()
				live = append(live, r.ID)
				mu.Unlock()
			}
		})
		wg.Wait()
		if len(seen) != n {
			t.Errorf("swept %d records, want %d", len(seen), n)
		}
		for id, k := range seen {
			if k != 1 {
				t.Errorf("record %s swept %d times", id, k)
			}
		}
		for _, id := range live {
			if _, err := a.Get(ctx, id); err != nil {
				t.Errorf("live record %s: %v", id, err)
			}
		}
	})
}
