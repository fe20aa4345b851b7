// Package reqctx carries a request's id through its context, and provides the
// log handler that stamps that id on every log line written with the
// request's context, so that all lines of one request can be found together.
package reqctx

import (
	"context"
	"log/slog"
)

type key struct{}

// With returns ctx carrying the request id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// ID returns the request id of ctx ("" outside a request).
func ID(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// Handler wraps a slog.Handler: records logged with a request's context get
// a request_id attribute (unless they already have one).
type Handler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	if id := ID(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "request_id" {
				has = true
				return false
			}
			return true
		})
		if !has {
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return Handler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h Handler) WithGroup(name string) slog.Handler {
	return Handler{h.Handler.WithGroup(name)}
}
