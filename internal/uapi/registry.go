package uapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
)

// Registry holds the UAPI modules and their functions. It is safe for
// concurrent use; functions are normally registered at start-up.
type Registry struct {
	log *slog.Logger

	mu      sync.RWMutex
	modules map[string]map[string]Func
}

// NewRegistry returns an empty registry that logs internal failures to log
// (slog.Default() when nil).
func NewRegistry(log *slog.Logger) *Registry {
	if log == nil {
		log = slog.Default()
	}
	return &Registry{log: log, modules: make(map[string]map[string]Func)}
}

// Register adds function f as module::function. It panics on a programming
// error: an illegal function name, an empty module name, a nil f or a
// duplicate registration.
func (r *Registry) Register(module, function string, f Func) {
	if module == "" {
		panic("uapi: Register with an empty module name")
	}
	if !ValidFunctionName(function) {
		panic(fmt.Sprintf("uapi: Register %s::%q: illegal function name", module, function))
	}
	if f == nil {
		panic(fmt.Sprintf("uapi: Register %s::%s with a nil function", module, function))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fns := r.modules[module]
	if fns == nil {
		fns = make(map[string]Func)
		r.modules[module] = fns
	}
	if _, dup := fns[function]; dup {
		panic(fmt.Sprintf("uapi: %s::%s registered twice", module, function))
	}
	fns[function] = f
}

// HasModule reports whether at least one function of module is registered.
func (r *Registry) HasModule(module string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.modules[module]
	return ok
}

func (r *Registry) lookup(module, function string) (f Func, moduleKnown bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fns, ok := r.modules[module]
	if !ok {
		return nil, false
	}
	return fns[function], true
}

// Dispatch validates and runs one call, in this order:
//
//   - an illegal function name: Illegal function name: <f>
//   - an unknown module: Failed to load module “<M>”.
//   - an unknown function: The system could not find the function “<f>” in the module “<M>”.
//
// otherwise it runs the function. If the function returns a non-nil error
// or panics, Dispatch logs the cause (level Error, with error_id, module and
// function; a panic also with its value and stack; never the arguments,
// which may hold passwords) and returns the generic error text under a fresh
// error id.
func (r *Registry) Dispatch(ctx context.Context, c *Call) Result {
	if c == nil {
		return Fail("Illegal function name: ")
	}
	if !ValidFunctionName(c.Function) {
		return Fail("Illegal function name: " + c.Function)
	}
	f, moduleKnown := r.lookup(c.Module, c.Function)
	if !moduleKnown {
		return Fail("Failed to load module “" + c.Module + "”.")
	}
	if f == nil {
		return Fail("The system could not find the function “" + c.Function + "” in the module “" + c.Module + "”.")
	}
	if c.Args == nil {
		cc := *c
		cc.Args = NewArgs()
		c = &cc
	}
	return r.run(ctx, c, f)
}

func (r *Registry) run(ctx context.Context, c *Call, f Func) (res Result) {
	module, function := c.Module, c.Function
	defer func() {
		if p := recover(); p != nil {
			id := NewErrorID()
			r.log.LogAttrs(ctx, slog.LevelError, "uapi function panicked",
				slog.String("error_id", id),
				slog.String("module", module),
				slog.String("function", function),
				slog.String("panic", fmt.Sprint(p)),
				slog.String("stack", string(debug.Stack())),
			)
			res = Fail(GenericError(id))
		}
	}()
	res, err := f(ctx, c)
	if err != nil {
		id := NewErrorID()
		r.log.LogAttrs(ctx, slog.LevelError, "uapi function failed",
			slog.String("error_id", id),
			slog.String("module", module),
			slog.String("function", function),
			slog.String("error", err.Error()),
		)
		res = Fail(GenericError(id))
		res.err = err
		return res
	}
	return res
}

// errorIDAlphabet has no look-alike characters (no i, l, o, 0, 1).
const errorIDAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// NewErrorID returns 6 characters from errorIDAlphabet drawn with crypto/rand.
func NewErrorID() string {
	const n = 6
	// Rejection sampling keeps the draw uniform: 248 = 8*31.
	const limit = 256 - 256%len(errorIDAlphabet)
	out := make([]byte, 0, n)
	var buf [16]byte
	for len(out) < n {
		rand.Read(buf[:]) // never returns an error (Go ≥ 1.24)
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, errorIDAlphabet[int(b)%len(errorIDAlphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}

// GenericError is the text of an unexpected internal failure logged under id.
func GenericError(id string) string {
	return "The request failed. (Error ID: " + id + ") Ask your hosting provider to research this error in cPanel & WHM’s main error log."
}

// ValidFunctionName reports whether name is a legal UAPI function name:
// 1 to 1024 characters of [A-Za-z0-9_], not starting with '_'.
func ValidFunctionName(name string) bool {
	if len(name) == 0 || len(name) > 1024 || name[0] == '_' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Has reports whether module has function (for bounded metric labels).
func (r *Registry) Has(module, function string) bool {
	f, _ := r.lookup(module, function)
	return f != nil
}
