package redisstore

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/storetest"
)

// Benchmarks of the record encoding and decoding, without Redis: the store
// runs on a client whose hook answers every command itself.

// answerHook answers every command as Redis answers a Create that
// succeeded ("ok") and keeps the arguments of the last one; nothing is
// sent.
type answerHook struct{ args []any }

func (h *answerHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *answerHook) ProcessHook(redis.ProcessHook) redis.ProcessHook {
	return func(_ context.Context, cmd redis.Cmder) error {
		h.args = cmd.Args()
		if c, ok := cmd.(*redis.Cmd); ok {
			c.SetVal("ok")
		}
		return nil
	}
}

func (h *answerHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// offlineStore returns a store on a client that never connects, and the
// hook that answers for it.
func offlineStore(b *testing.B) (*Store, *answerHook) {
	b.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	b.Cleanup(func() { rdb.Close() })
	h := &answerHook{}
	rdb.AddHook(h)
	box, err := secretbox.New(secretbox.NewKey(), nil)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(rdb, Options{Box: box})
	if err != nil {
		b.Fatal(err)
	}
	return s, h
}

// benchRecord returns a record as the conformance suite builds it, fresh
// and expiring in five minutes.
func benchRecord() store.Session {
	now := time.Now()
	r := storetest.NewSessionRecord("alice")
	r.CreatedAt, r.LastUsed, r.ExpiresAt = now, now, now.Add(5*time.Minute)
	return r
}

// BenchmarkEncode: what Create does on the client for a new record:
// validation, hex hashes, both secrets sealed, the script's arguments
// built (go-redis's command included, the network and the script not).
func BenchmarkEncode(b *testing.B) {
	s, h := offlineStore(b)
	ss := s.Sessions()
	ctx := b.Context()
	r := benchRecord()
	b.ReportAllocs()
	for b.Loop() {
		if err := ss.Create(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	if len(h.args) == 0 || h.args[0] != "evalsha" {
		b.Fatalf("Create sent %v, want evalsha", h.args)
	}
}

// BenchmarkDecode: a record as the scripts return it (a flat field list,
// every value a string) back to a store.Session: the field map, hex
// hashes, times, both secrets opened.
func BenchmarkDecode(b *testing.B) {
	s, h := offlineStore(b)
	ss := s.Sessions()
	r := benchRecord()
	if err := ss.Create(b.Context(), r); err != nil {
		b.Fatal(err)
	}
	reply := fieldReply(b, h.args)

	// The reply must decode to the record that was encoded.
	got, err := ss.record(reply)
	if err != nil {
		b.Fatal(err)
	}
	want := r
	for _, t := range []*time.Time{&want.CreatedAt, &want.LastUsed, &want.ExpiresAt} {
		*t = time.UnixMilli(t.UnixMilli()).UTC()
	}
	if !reflect.DeepEqual(got, want) {
		b.Fatalf("decoded %+v\nwant %+v", got, want)
	}

	b.ReportAllocs()
	for b.Loop() {
		if _, err := ss.record(reply); err != nil {
			b.Fatal(err)
		}
	}
}

// fieldReply turns the arguments of the Create script into the reply of
// the scripts that return a record: its hash fields (from "id" on, in
// name, value pairs) with every value as Redis gives it back, a string.
func fieldReply(b *testing.B, args []any) []any {
	b.Helper()
	for i, a := range args {
		if a != "id" {
			continue
		}
		pairs := args[i:]
		if len(pairs)%2 != 0 {
			b.Fatalf("odd field list %v", pairs)
		}
		out := make([]any, len(pairs))
		for j, v := range pairs {
			switch v := v.(type) {
			case string:
				out[j] = v
			case []byte:
				out[j] = string(v)
			default:
				out[j] = fmt.Sprint(v)
			}
		}
		return out
	}
	b.Fatalf("no field list in %v", args)
	return nil
}
