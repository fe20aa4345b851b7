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
	"slices"

	"github.com/uapid/uapid/internal/uapi"
)

// Metadata is the envelope's metadata object.
type Metadata struct {
	Command string `json:"command"`
	Reason  string `json:"reason"`
	Result  int    `json:"result"`
	Version int    `json:"version"`
	// Output is the log a provisioning function prints (cPanel's
	// metadata.output.raw); nil when it prints none.
	Output *Output `json:"output,omitempty"`
}

// Output is metadata.output.
type Output struct {
	Raw string `json:"raw"`
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

// Registry holds the WHM API 1 functions and, for those WHM API 0 also
// serves, how their answer looks in API 0.
type Registry struct {
	log   *slog.Logger
	funcs map[string]Func
	api0  map[string]API0
	// rootOnly are the functions only root may call (applist leaves them
	// out for resellers).
	rootOnly map[string]bool
}

// API0 turns the WHM API 1 answer of a function into its WHM API 0 form.
type API0 func(env Envelope) any

// NewRegistry returns a registry with the built-in "version" function
// (in both API versions) and "applist".
func NewRegistry(log *slog.Logger) *Registry {
	r := &Registry{log: log, funcs: map[string]Func{}, api0: map[string]API0{}, rootOnly: map[string]bool{}}
	r.Register("version", func(ctx context.Context, c uapi.Caller, args *uapi.Args) (Envelope, error) {
		return OK(map[string]any{"version": Version}), nil
	})
	r.RegisterAPI0("version", func(env Envelope) any {
		if env.Metadata.Result == 0 {
			return Refusal(env.Metadata.Reason)
		}
		return env.Data
	})
	r.Register("applist", r.applist)
	return r
}

// RegisterAPI0 lets WHM API 0 (a call without api.version, or with
// api.version=0) serve a registered function, answering in the form conv
// makes of its API 1 answer.
func (r *Registry) RegisterAPI0(name string, conv API0) { r.api0[name] = conv }

// Refusal is WHM API 0's answer to a call it cannot serve (and the body of
// a refused authentication on the WHM ports): cPanel's "cpanelresult"
// object with the reason in "error" and in "data".
func Refusal(reason string) any {
	return map[string]any{"cpanelresult": map[string]any{
		"apiversion": "2",
		"error":      reason,
		"data":       map[string]any{"reason": reason, "result": "0"},
		"type":       "text",
	}}
}

// ResultList is the API 0 form of most provisioning functions:
// {"result":[{"status":1|0,"statusmsg":…, extra…}]}. The status message is
// the function's printed output when it has one, else its reason.
func ResultList(env Envelope, extra map[string]any) any {
	msg := env.Metadata.Reason
	if env.Metadata.Output != nil && env.Metadata.Result == 1 {
		msg = env.Metadata.Output.Raw
	}
	item := map[string]any{"status": env.Metadata.Result, "statusmsg": msg}
	for k, v := range extra {
		item[k] = v
	}
	return map[string]any{"result": []any{item}}
}

// applist lists the functions the caller may call, as data.app (API 1).
func (r *Registry) applist(ctx context.Context, c uapi.Caller, args *uapi.Args) (Envelope, error) {
	names := make([]string, 0, len(r.funcs))
	for n := range r.funcs {
		if c.User == "root" || !r.rootOnly[n] {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return OK(map[string]any{"app": names}), nil
}

// Version is the cPanel & WHM version uapid reports itself compatible with.
const Version = "11.134.0.0"

// Register adds a function.
func (r *Registry) Register(name string, f Func) { r.funcs[name] = f }

// RegisterRootOnly adds a function only root may call; applist leaves it
// out for resellers. (f checks the caller itself.)
func (r *Registry) RegisterRootOnly(name string, f Func) {
	r.funcs[name] = f
	r.rootOnly[name] = true
}

// Dispatch runs one WHM API 1 call. version is the api.version argument
// ("" when absent; the HTTP server sends calls without it, or with "0", to
// DispatchAPI0). The command name is always echoed in metadata.command.
func (r *Registry) Dispatch(ctx context.Context, name, version string, c uapi.Caller, args *uapi.Args) (env Envelope) {
	defer func() { env.Metadata.Command = name }()
	if version != "1" {
		if version == "" {
			return Fail("This interface serves WHM API 1 only: add “api.version=1” to the request.")
		}
		return Fail(fmt.Sprintf("WHM API version “%s” is not supported; use “api.version=1”.", version))
	}
	return r.run(ctx, name, 1, c, args)
}

// DispatchAPI0 runs one WHM API 0 call and returns its answer with the
// error behind a generic failure (for the server's 503). A function API 0
// does not serve is refused in API 0's shape.
func (r *Registry) DispatchAPI0(ctx context.Context, name string, c uapi.Caller, args *uapi.Args) (any, error) {
	conv, ok := r.api0[name]
	if !ok || !uapi.ValidFunctionName(name) {
		if _, known := r.funcs[name]; known && uapi.ValidFunctionName(name) {
			return Refusal(fmt.Sprintf("This server serves “%s” in WHM API 1 only: add “api.version=1” to the request.", name)), nil
		}
		return Refusal(fmt.Sprintf("Unknown app (“%s”) requested for this version (0) of the API.", logName(name))), nil
	}
	env := r.run(ctx, name, 0, c, args)
	env.Metadata.Command = name
	if env.err != nil {
		return Refusal(env.Metadata.Reason), env.err
	}
	return conv(env), nil
}

func logName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// run runs a registered function with panic recovery.
func (r *Registry) run(ctx context.Context, name string, version int, c uapi.Caller, args *uapi.Args) (env Envelope) {
	f, ok := r.funcs[name]
	if !ok || !uapi.ValidFunctionName(name) {
		return Fail(fmt.Sprintf("Unknown app (“%s”) requested for this version (%d) of the API.", name, version))
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
