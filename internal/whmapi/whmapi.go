// Package whmapi is WHM API 1 as uapid serves it: the envelope
// ({"metadata":{"command","reason","result","version"},"data":…}), a registry
// of functions, and the dispatch rules for unknown functions and API
// versions. Like package uapi it knows nothing about HTTP; the server and the
// whmapi1 command share it.
package whmapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/uapid/uapid/internal/uapi"
)

// Metadata is the envelope's metadata object.
type Metadata struct {
	Command string `json:"command"`
	Reason  string `json:"reason"`
	Result  int    `json:"result"`
	Version int    `json:"version"`
}

// Envelope is one WHM API 1 answer. Data is omitted on failure.
type Envelope struct {
	Metadata Metadata `json:"metadata"`
	Data     any      `json:"data,omitempty"`

	// err is the failure behind a generic error (set by Dispatch; never
	// encoded).
	err error
}

// Err returns the error a function returned when Dispatch answered it
// with the generic error text, else nil. The HTTP server uses it to answer
// a store that cannot be reached with 503 (store.ErrUnavailable).
func (e Envelope) Err() error { return e.err }

// MarshalJSON keeps "data" out of failed answers and in successful ones
// (even when it is null).
func (e Envelope) MarshalJSON() ([]byte, error) {
	if e.Metadata.Result == 0 {
		return json.Marshal(struct {
			Metadata Metadata `json:"metadata"`
		}{e.Metadata})
	}
	return json.Marshal(struct {
		Metadata Metadata `json:"metadata"`
		Data     any      `json:"data"`
	}{e.Metadata, e.Data})
}

// OK is a successful answer with reason "OK" unless changed.
func OK(data any) Envelope {
	return Envelope{Metadata: Metadata{Reason: "OK", Result: 1, Version: 1}, Data: data}
}

// Fail is a failed answer with reason.
func Fail(reason string) Envelope {
	return Envelope{Metadata: Metadata{Reason: reason, Result: 0, Version: 1}}
}

// Func implements one WHM API 1 function. An unexpected internal failure
// may be returned as err.
type Func func(ctx context.Context, c uapi.Caller, args *uapi.Args) (Envelope, error)

// Registry holds the WHM API 1 functions.
type Registry struct {
	log   *slog.Logger
	funcs map[string]Func
}

// NewRegistry returns a registry with the built-in "version" function.
func NewRegistry(log *slog.Logger) *Registry {
	r := &Registry{log: log, funcs: map[string]Func{}}
	r.Register("version", func(ctx context.Context, c uapi.Caller, args *uapi.Args) (Envelope, error) {
		return OK(map[string]any{"version": Version}), nil
	})
	return r
}

// Version is the cPanel & WHM version uapid reports itself compatible with.
const Version = "11.134.0.0"

// Register adds a function.
func (r *Registry) Register(name string, f Func) { r.funcs[name] = f }

// Dispatch runs one call. version is the api.version argument ("" when
// absent). The command name is always echoed in metadata.command.
func (r *Registry) Dispatch(ctx context.Context, name, version string, c uapi.Caller, args *uapi.Args) (env Envelope) {
	defer func() { env.Metadata.Command = name }()
	if version != "1" {
		if version == "" {
			return Fail("This interface serves WHM API 1 only: add “api.version=1” to the request.")
		}
		return Fail(fmt.Sprintf("WHM API version “%s” is not supported; use “api.version=1”.", version))
	}
	f, ok := r.funcs[name]
	if !ok || !uapi.ValidFunctionName(name) {
		return Fail(fmt.Sprintf("Unknown app (“%s”) requested for this version (1) of the API.", name))
	}
	defer func() {
		if v := recover(); v != nil {
			id := uapi.NewErrorID()
			r.log.ErrorContext(ctx, "panic in WHM API function", "error_id", id, "function", name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			env = Fail(uapi.GenericError(id))
		}
	}()
	env, err := f(ctx, c, args)
	if err != nil {
		id := uapi.NewErrorID()
		r.log.ErrorContext(ctx, "WHM API function failed", "error_id", id, "function", name, "error", err.Error())
		env = Fail(uapi.GenericError(id))
		env.err = err
		return env
	}
	return env
}

// Has reports whether the function exists (for bounded metric labels).
func (r *Registry) Has(name string) bool {
	_, ok := r.funcs[name]
	return ok
}
