package redisstore_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/redisstore/redistest"
)

// previousRelease is testdata/previous-release.json: the raw Redis keys
// that the previous release's store (internal/session/redisstore, git
// a03dd4e) wrote for four sessions, with the key that sealed their
// secrets and the records as that store read them back.
type previousRelease struct {
	BoxKey string `json:"box_key"`
	Keys   []struct {
		Key    string            `json:"key"` // without the prefix
		Type   string            `json:"type"`
		Hash   map[string]string `json:"hash"`   // base64 values
		String string            `json:"string"` // base64
		Set    []string          `json:"set"`
		ZSet   map[string]int64  `json:"zset"`
	} `json:"keys"`
	Records []store.Session `json:"records"`
}

func b64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPreviousRelease: sessions written by the previous release are read
// and changed by this one unchanged, so that a rolling upgrade logs nobody
// out. The records are: 0, a Webmail session of a mailbox with its login
// pending and a return URL; 1, a cPanel session, logged in, with a
// temporary database user that exists; 2, a password login of root (no
// login secret); 3, a session of bob that expired.
func TestPreviousRelease(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/previous-release.json")
	if err != nil {
		t.Fatal(err)
	}
	var old previousRelease
	if err := json.Unmarshal(raw, &old); err != nil {
		t.Fatal(err)
	}
	ns := redistest.Namespace(t)
	c := redistest.Client(t)
	ctx := t.Context()
	for _, k := range old.Keys {
		key := ns + k.Key
		var err error
		switch k.Type {
		case "hash":
			var args []any
			for f, v := range k.Hash {
				args = append(args, f, b64(t, v))
			}
			err = c.HSet(ctx, key, args...).Err()
		case "string":
			err = c.Set(ctx, key, b64(t, k.String), 0).Err()
		case "set":
			err = c.SAdd(ctx, key, k.Set).Err()
		case "zset":
			for m, score := range k.ZSet {
				if err = c.ZAdd(ctx, key, redisZ(float64(score), m)).Err(); err != nil {
					break
				}
			}
		default:
			t.Fatalf("key %s of type %s", k.Key, k.Type)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	boxKey, err := base64.StdEncoding.DecodeString(old.BoxKey)
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, ns, newBox(t, boxKey)).Sessions()
	recs := old.Records
	if len(recs) != 4 {
		t.Fatalf("%d records in the fixture", len(recs))
	}
	same := func(what string, want, got store.Session) {
		t.Helper()
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
		}
	}
	for i := range recs {
		// JSON gives empty hashes as nil, as the store does.
		r := &recs[i]
		for _, tm := range []*time.Time{&r.CreatedAt, &r.LastUsed, &r.ExpiresAt} {
			*tm = tm.UTC()
		}
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatalf("Get(%d): %v", i, err)
		}
		same("Get", *r, got)
		if r.LoginHash != nil {
			got, err := s.ByLoginHash(ctx, r.LoginHash)
			if err != nil {
				t.Fatalf("ByLoginHash(%d): %v", i, err)
			}
			same("ByLoginHash", *r, got)
		}
		if r.CookieHash != nil {
			got, err := s.ByCookieHash(ctx, r.CookieHash)
			if err != nil {
				t.Fatalf("ByCookieHash(%d): %v", i, err)
			}
			same("ByCookieHash", *r, got)
		}
	}
	if recs[0].ReturnURL == "" || recs[1].TempPass == "" || !recs[1].Consumed || !recs[1].TempCreated || recs[2].LoginHash != nil {
		t.Fatalf("the fixture is not what the test expects: %+v", recs)
	}
	list, err := s.List(ctx, "alice")
	if err != nil || len(list) != 2 {
		t.Fatalf("List(alice): %d records, %v", len(list), err)
	}
	if all, err := s.List(ctx, ""); err != nil || len(all) != 4 {
		t.Fatalf("List: %d records, %v", len(all), err)
	}

	// The records change as this release's own do.
	now := recs[0].CreatedAt.Add(time.Minute)
	cookie := newHash()
	got, err := s.Consume(ctx, recs[0].ID, cookie, now, now.Add(time.Hour))
	if err != nil || !got.Consumed || !bytes.Equal(got.CookieHash, cookie) || got.ReturnURL != recs[0].ReturnURL {
		t.Fatalf("Consume of the pending login: %+v, %v", got, err)
	}
	if _, err := s.Consume(ctx, recs[1].ID, newHash(), now, now.Add(time.Hour)); !errors.Is(err, store.ErrConsumed) {
		t.Fatalf("Consume of the used login: %v", err)
	}
	if err := s.Touch(ctx, recs[1].ID, now, now.Add(2*time.Hour)); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	if changed, err := s.MarkTempCreated(ctx, recs[1].ID); err != nil || changed {
		t.Fatalf("MarkTempCreated: %v, %v", changed, err)
	}
	swept, err := s.Sweep(ctx, now, 0)
	if err != nil || len(swept) != 1 || swept[0].ID != recs[3].ID || swept[0].TempPass != recs[3].TempPass {
		t.Fatalf("Sweep: %v, %v", swept, err)
	}
	gone, err := s.DeleteByAccount(ctx, "alice", "")
	if err != nil || len(gone) != 2 {
		t.Fatalf("DeleteByAccount: %d records, %v", len(gone), err)
	}
	if _, err := s.Delete(ctx, recs[2].ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	// Nothing of the old records is left behind.
	if keys := redistest.Keys(t, c, ns); len(keys) != 0 {
		t.Errorf("keys left: %v", keys)
	}
}

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }
