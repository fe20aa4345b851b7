package reqctx

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestHandlerStampsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Handler{slog.NewTextHandler(&buf, nil)})
	ctx := With(context.Background(), "abc123")
	log.InfoContext(ctx, "inside")
	log.With("x", 1).ErrorContext(ctx, "derived")
	log.InfoContext(ctx, "explicit", "request_id", "abc123")
	log.Info("outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	for i, want := range []bool{true, true, true, false} {
		if got := strings.Count(lines[i], "request_id=abc123"); (got == 1) != want || got > 1 {
			t.Fatalf("line %d: %s", i, lines[i])
		}
	}
}
