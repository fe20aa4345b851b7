package redisstore_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/redisstore"
	"github.com/uapid/uapid/internal/store/redisstore/redistest"
	"github.com/uapid/uapid/internal/store/storetest"
)

// TestNativeExpiry checks the keys' Redis expiry: ExpiresAt plus the grace
// period, moved by Consume and Touch, and not earlier than grace from now
// for a record written already expired; every key of a record expires with
// it, and what Redis dropped by itself is unknown, not an error.
func TestNativeExpiry(t *testing.T) {
	t.Parallel()
	ns := redistest.Namespace(t)
	c := redistest.Client(t)
	s := open(t, ns, newBox(t, secretbox.NewKey()), "expiry_grace", "2s").Sessions()
	ctx := t.Context()
	now := time.Now()

	r := storetest.NewSessionRecord("alice")
	r.CreatedAt, r.LastUsed, r.ExpiresAt = now, now, now.Add(5*time.Minute)
	if err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	wantAt := func(what string, want time.Time) {
		t.Helper()
		keys := redistest.Keys(t, c, ns)
		for _, k := range keys {
			if k == ns+"exp" {
				continue
			}
			at, err := c.PExpireTime(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			got := time.UnixMilli(at.Milliseconds())
			if k == ns+"a:alice" {
				if got.Before(want.Truncate(time.Millisecond)) {
					t.Errorf("%s: account set expires at %v, before %v", what, got, want)
				}
				continue
			}
			if d := got.Sub(want); d < -5*time.Millisecond || d > 5*time.Millisecond {
				t.Errorf("%s: key %s expires at %v, want %v", what, strings.TrimPrefix(k, ns), got, want)
			}
		}
	}
	wantAt("create", r.ExpiresAt.Add(2*time.Second))
	if _, err := s.Consume(ctx, r.ID, newHash(), now, now.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantAt("consume", now.Add(15*time.Minute+2*time.Second))
	if err := s.Touch(ctx, r.ID, now.Add(time.Minute), now.Add(16*time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantAt("touch", now.Add(16*time.Minute+2*time.Second))
	if keys := redistest.Keys(t, c, ns); len(keys) != 6 {
		t.Errorf("keys %v: want record, token, login, cookie, account set, expiry index", keys)
	}

	// A record written already expired stays for the grace period (so that
	// lookups say "expired"), then Redis drops it and its index keys.
	old := storetest.NewSessionRecord("bob")
	old.ExpiresAt = now.Add(-time.Hour)
	if err := s.Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ByLoginHash(ctx, old.LoginHash); err != nil || !got.Expired(now) {
		t.Fatalf("expired record right after Create: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Get(ctx, old.ID)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired record still there after the grace period: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, k := range redistest.Keys(t, c, ns) {
		if strings.Contains(k, old.Token) || strings.HasSuffix(k, old.ID) || strings.HasSuffix(k, ":bob") {
			t.Errorf("key %s outlived its record", k)
		}
	}
	// Its id is still in the expiry index; Sweep forgets it without
	// returning anything, and Create may reuse every key.
	swept, err := s.Sweep(ctx, now, 0)
	if err != nil || len(swept) != 0 {
		t.Fatalf("Sweep of a natively expired record: %v, %v", swept, err)
	}
	if n, _ := c.ZCard(ctx, ns+"exp").Result(); n != 1 {
		t.Errorf("expiry index holds %d ids, want 1", n)
	}
	if err := s.Create(ctx, old); err != nil {
		t.Fatalf("Create again after native expiry: %v", err)
	}
}

// TestSecretsAtRest checks that the temporary password and the return URL
// are sealed in Redis and that rotation keeps old records readable.
func TestSecretsAtRest(t *testing.T) {
	t.Parallel()
	ns := redistest.Namespace(t)
	c := redistest.Client(t)
	ctx := t.Context()
	k1, k2 := secretbox.NewKey(), secretbox.NewKey()
	s1 := open(t, ns, newBox(t, k1)).Sessions()
	r := storetest.NewSessionRecord("alice")
	if err := s1.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	h, err := c.HGetAll(ctx, ns+"s:"+r.ID).Result()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		if strings.Contains(v, r.TempPass) || strings.Contains(v, "back?x=1") {
			t.Errorf("field %s holds a secret in clear", k)
		}
	}
	if h["tu"] != r.TempUser || len(h["tp"]) != len(r.TempPass)+secretbox.Overhead {
		t.Errorf("stored fields %q / %d bytes", h["tu"], len(h["tp"]))
	}
	// Sealed under the record id and field: swapped values do not open.
	c.HSet(ctx, ns+"s:"+r.ID, "tp", h["ru"], "ru", h["tp"])
	if _, err := s1.Get(ctx, r.ID); err == nil {
		t.Error("Get of a record whose sealed fields were swapped succeeded")
	}
	c.HSet(ctx, ns+"s:"+r.ID, "tp", h["tp"], "ru", h["ru"])

	rotated, err := secretbox.New(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := open(t, ns, rotated).Sessions().Get(ctx, r.ID); err != nil || got.TempPass != r.TempPass {
		t.Fatalf("Get after rotation: %v", err)
	}
	if _, err := open(t, ns, newBox(t, k2)).Sessions().Get(ctx, r.ID); !errors.Is(err, secretbox.ErrUnknownKey) {
		t.Fatalf("Get without the old key: %v", err)
	}
	if _, err := redisstore.New(c, redisstore.Options{}); err == nil {
		t.Fatal("New without a key succeeded")
	}
}

// TestNamespaces: two prefixes on one Redis do not see each other.
func TestNamespaces(t *testing.T) {
	t.Parallel()
	box := newBox(t, secretbox.NewKey())
	sa, sb := open(t, redistest.Namespace(t), box), open(t, redistest.Namespace(t), box)
	a, b := sa.Sessions(), sb.Sessions()
	ctx := t.Context()
	r := storetest.NewSessionRecord("alice")
	if err := a.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := b.Create(ctx, r); err != nil {
		t.Fatalf("same record in another namespace: %v", err)
	}
	if _, err := b.Delete(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, r.ID); err != nil {
		t.Fatalf("Delete in one namespace reached the other: %v", err)
	}
	k := store.AttemptKey{Kind: store.AttemptIP, Value: "192.0.2.1"}
	if _, err := sa.Attempts().Failure(ctx, k, t0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if st, err := sb.Attempts().Failure(ctx, k, t0, time.Minute); err != nil || st.Failures != 1 {
		t.Fatalf("failures of another namespace counted: %+v, %v", st, err)
	}
}

// TestConsumeManyNodes: 50 logins of one session spread over five
// connections; exactly one wins.
func TestConsumeManyNodes(t *testing.T) {
	t.Parallel()
	ns := redistest.Namespace(t)
	box := newBox(t, secretbox.NewKey())
	var nodes []*redisstore.Sessions
	for range 5 {
		nodes = append(nodes, open(t, ns, box).Sessions())
	}
	r := storetest.NewSessionRecord("alice")
	r.ExpiresAt = time.Now().Add(time.Minute)
	if err := nodes[0].Create(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, consumed, other int
	var winner []byte
	for i := range 50 {
		wg.Go(func() {
			c := newHash()
			_, err := nodes[i%len(nodes)].Consume(t.Context(), r.ID, c, time.Now(), time.Now().Add(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winner = c
				ok++
			case errors.Is(err, store.ErrConsumed):
				consumed++
			default:
				other++
				t.Errorf("Consume: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || consumed != 49 {
		t.Fatalf("%d won, %d ErrConsumed, %d other errors; want 1 and 49", ok, consumed, other)
	}
	got, err := nodes[3].ByCookieHash(t.Context(), winner)
	if err != nil || !bytes.Equal(got.CookieHash, winner) {
		t.Fatalf("winner's cookie: %v", err)
	}
}

// TestListSkipsVanished: List and DeleteByAccount cope with ids whose
// records vanished (expired natively).
func TestListSkipsVanished(t *testing.T) {
	t.Parallel()
	ns := redistest.Namespace(t)
	c := redistest.Client(t)
	s := open(t, ns, newBox(t, secretbox.NewKey())).Sessions()
	ctx := t.Context()
	var ids []string
	for range 3 {
		r := storetest.NewSessionRecord("alice")
		if err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	c.Del(ctx, ns+"s:"+ids[1]) // as if Redis had expired it
	list, err := s.List(ctx, "alice")
	if err != nil || len(list) != 2 {
		t.Fatalf("List: %d records, %v", len(list), err)
	}
	all, err := s.List(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("List(all): %d records, %v", len(all), err)
	}
	gone, err := s.DeleteByAccount(ctx, "alice", "")
	if err != nil || len(gone) != 2 {
		t.Fatalf("DeleteByAccount: %d records, %v", len(gone), err)
	}
	if n, _ := c.Exists(ctx, ns+"a:alice").Result(); n != 0 {
		t.Errorf("the account set outlived its records")
	}
	got := []string{gone[0].ID, gone[1].ID}
	slices.Sort(got)
	want := []string{ids[0], ids[2]}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("DeleteByAccount removed %v, want %v", got, want)
	}
}

// TestErrorMessages: errors are of the contract's kinds, name the session
// and never show a hash or a secret.
func TestErrorMessages(t *testing.T) {
	t.Parallel()
	s := open(t, redistest.Namespace(t), newBox(t, secretbox.NewKey())).Sessions()
	ctx := t.Context()
	r := storetest.NewSessionRecord("alice")
	if err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	dup := storetest.NewSessionRecord("alice")
	dup.LoginHash = r.LoginHash
	cookie := newHash()
	errs := map[string]error{}
	errs["create"] = s.Create(ctx, dup)
	_, errs["login"] = s.ByLoginHash(ctx, newHash())
	_, errs["get"] = s.Get(ctx, "nope\x00")
	_, errs["consume"] = s.Consume(ctx, r.ID, cookie, t0, t0.Add(time.Hour))
	_, errs["again"] = s.Consume(ctx, r.ID, cookie, t0, t0.Add(time.Hour))
	for what, want := range map[string]error{"create": store.ErrExists, "login": store.ErrNotFound,
		"get": store.ErrNotFound, "again": store.ErrConsumed} {
		err := errs[what]
		var se *store.Error
		if !errors.Is(err, want) || !errors.As(err, &se) {
			t.Errorf("%s: %v (%T), want a *store.Error of kind %v", what, err, err, want)
			continue
		}
		msg := err.Error()
		for _, secret := range []string{r.Token, r.TempPass, string(r.LoginHash), hexOf(r.LoginHash), hexOf(cookie)} {
			if strings.Contains(msg, secret) {
				t.Errorf("%s: message %q shows a secret", what, msg)
			}
		}
	}
	if msg := errs["create"].Error(); !strings.Contains(msg, dup.ID) || !strings.Contains(msg, "login") {
		t.Errorf("create: message %q does not say which session and what is taken", msg)
	}
	if msg := errs["get"].Error(); strings.Contains(msg, "\x00") {
		t.Errorf("get: message %q holds a control character", msg)
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }
