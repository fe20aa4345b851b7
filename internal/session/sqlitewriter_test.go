package session

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	uapisqlite "github.com/uapid/uapid/internal/sqlite"
)

func openWriterTest(t *testing.T, path string) *SQLite {
	t.Helper()
	db, err := uapisqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := NewSQLite(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func writerRecord(i int) Record {
	now := time.Now().Truncate(time.Millisecond)
	return Record{
		ID: NewID(), User: "box@example.test", Account: "acct", Service: "webmaild", Token: NewToken(),
		LoginHash: HashSecret(NewLoginSecret("box@example.test", TagMailUser)), Creator: "acct",
		Method: "create_webmail_session_for_mail_user", Origin: "192.0.2.1", Locale: "en",
		CreatedAt: now, LastUsed: now, ExpiresAt: now.Add(5 * time.Minute),
	}
}

// holdWriter makes the writer busy until the returned function is called,
// and waits until n more writes are queued behind it.
func holdWriter(t *testing.T, s *SQLite) (waitQueued func(n int), release func()) {
	t.Helper()
	started, unblock := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.w.do(context.Background(), func(context.Context, querier) error {
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
			s.w.mu.Lock()
			q := len(s.w.queue)
			s.w.mu.Unlock()
			if q >= n+1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d writes queued, want %d", q-1, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return waitQueued, func() {
		close(unblock)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestWriterGroupCommit: writes that queue up while a transaction runs are
// committed together, each caller hears of its own outcome only after the
// commit (another connection sees the records by then), a duplicate fails
// alone, and a caller that gave up before its write started is refused
// without storing anything.
func TestWriterGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uapid.db")
	s := openWriterTest(t, path)
	other := openWriterTest(t, path) // another handle, as another process
	ctx := context.Background()

	dup := writerRecord(0)
	if err := s.Create(ctx, dup); err != nil {
		t.Fatal(err)
	}
	waitQueued, release := holdWriter(t, s)
	txs0, writes0 := s.w.txs.Load(), s.w.writes.Load()

	const n = 20
	recs := make([]Record, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		recs[i] = writerRecord(i)
		if i == 7 {
			recs[i].Token = dup.Token // a duplicate token: ErrExists
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
	gone := writerRecord(99)
	var goneErr error
	wg.Go(func() { goneErr = s.Create(cctx, gone) })
	waitQueued(n + 1)
	cancel()
	release()
	wg.Wait()

	for i, err := range errs {
		switch {
		case i == 7 && !errors.Is(err, ErrExists):
			t.Errorf("duplicate token: %v, want ErrExists", err)
		case i != 7 && err != nil:
			t.Errorf("create %d: %v", i, err)
		}
	}
	if !errors.Is(goneErr, context.Canceled) {
		t.Errorf("canceled create: %v, want context.Canceled", goneErr)
	}
	if _, err := other.Get(ctx, gone.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("canceled create was stored: %v", err)
	}
	if txs, writes := s.w.txs.Load()-txs0, s.w.writes.Load()-writes0; txs != 1 || writes != n+1 {
		t.Errorf("%d writes in %d transactions, want %d in 1", writes, txs, n+1)
	}
}

// TestWriterMixedBatch: creations, consumptions, touches and deletes
// queued together keep their individual results and their order.
func TestWriterMixedBatch(t *testing.T) {
	s := openWriterTest(t, filepath.Join(t.TempDir(), "uapid.db"))
	ctx := context.Background()
	a, b := writerRecord(1), writerRecord(2)
	for _, r := range []Record{a, b} {
		if err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	waitQueued, release := holdWriter(t, s)
	var wg sync.WaitGroup
	var c1, c2 error
	var delErr, touchErr error
	cookie := HashSecret(NewCookieSecret("box@example.test"))
	wg.Go(func() { _, c1 = s.Consume(ctx, a.ID, cookie, now, now.Add(time.Hour)) })
	waitQueued(1)
	wg.Go(func() { _, c2 = s.Consume(ctx, a.ID, HashSecret(NewCookieSecret("x@y")), now, now.Add(time.Hour)) })
	waitQueued(2)
	wg.Go(func() { _, delErr = s.Delete(ctx, b.ID) })
	waitQueued(3)
	wg.Go(func() { touchErr = s.Touch(ctx, b.ID, now, now.Add(time.Hour)) })
	waitQueued(4)
	release()
	wg.Wait()
	if c1 != nil || !errors.Is(c2, ErrConsumed) {
		t.Errorf("consume twice in one batch: %v, %v; want nil, ErrConsumed", c1, c2)
	}
	if delErr != nil || !errors.Is(touchErr, ErrNotFound) {
		t.Errorf("delete then touch in one batch: %v, %v; want nil, ErrNotFound", delErr, touchErr)
	}
	got, err := s.ByCookieHash(ctx, cookie)
	if err != nil || got.ID != a.ID || !got.Consumed {
		t.Errorf("consumed record: %+v, %v", got, err)
	}
}

// TestSweepChunks: a sweep larger than one chunk removes everything
// expired, in expiry order, honouring the limit.
func TestSweepChunks(t *testing.T) {
	s := openWriterTest(t, filepath.Join(t.TempDir(), "uapid.db"))
	ctx := context.Background()
	now := time.Now()
	const n = sweepChunk*2 + 17
	for i := range n {
		r := writerRecord(i)
		r.CreatedAt, r.LastUsed = now.Add(-time.Hour), now.Add(-time.Hour)
		r.ExpiresAt = now.Add(-time.Duration(n-i) * time.Second)
		if err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	live := writerRecord(-1)
	if err := s.Create(ctx, live); err != nil {
		t.Fatal(err)
	}
	first, err := s.Sweep(ctx, now, sweepChunk+5)
	if err != nil || len(first) != sweepChunk+5 {
		t.Fatalf("Sweep(limit %d) = %d records, %v", sweepChunk+5, len(first), err)
	}
	rest, err := s.Sweep(ctx, now, 0)
	if err != nil || len(rest) != n-sweepChunk-5 {
		t.Fatalf("Sweep(no limit) = %d records, %v; want %d", len(rest), err, n-sweepChunk-5)
	}
	all := append(first, rest...)
	for i := 1; i < len(all); i++ {
		if all[i].ExpiresAt.Before(all[i-1].ExpiresAt) {
			t.Fatalf("sweep order: %v after %v", all[i].ExpiresAt, all[i-1].ExpiresAt)
		}
	}
	if _, err := s.Get(ctx, live.ID); err != nil {
		t.Fatalf("live record swept: %v", err)
	}
}

// TestWriterConnection: every batch runs on one connection with the
// writer's larger page cache, and Close gives it back.
func TestWriterConnection(t *testing.T) {
	s := openWriterTest(t, filepath.Join(t.TempDir(), "uapid.db"))
	ctx := context.Background()
	recs := []Record{writerRecord(0), writerRecord(1), writerRecord(2)}
	for _, r := range recs {
		if err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	first := s.w.conn
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
	if _, err := s.Consume(ctx, recs[1].ID, HashSecret("cookie"), time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s.w.conn != first {
		t.Error("a later write ran on another connection")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.w.conn != nil {
		t.Error("Close kept the writer connection")
	}
}
