package uapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func newTestRegistry() (*Registry, *bytes.Buffer, *sync.Mutex) {
	var buf bytes.Buffer
	var mu sync.Mutex
	h := slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, nil)
	r := NewRegistry(slog.New(h))
	r.Register("Test", "ok", func(ctx context.Context, c *Call) (Result, error) {
		v, _ := c.Args.Get("x")
		return OK(map[string]any{"x": v}), nil
	})
	r.Register("Test", "boom", func(ctx context.Context, c *Call) (Result, error) {
		panic("kaboom")
	})
	r.Register("Test", "fails", func(ctx context.Context, c *Call) (Result, error) {
		return OK("ignored"), errors.New("database is on fire")
	})
	r.Register("Test", "nilmap", func(ctx context.Context, c *Call) (Result, error) {
		var m map[string]int
		m[c.Function] = 1 //lint:ignore SA5000 the panic is the point of this test
		return OK(nil), nil
	})
	return r, &buf, &mu
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestValidFunctionName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"create_temp_user", true},
		{"a", true},
		{"A9_", true},
		{"9abc", true},
		{strings.Repeat("a", 1024), true},
		{"", false},
		{"_private", false},
		{"_", false},
		{strings.Repeat("a", 1025), false},
		{"bad-name", false},
		{"ünicode", false},
		{"a b", false},
		{"a.b", false},
		{"a\x00", false},
		{"a/b", false},
	}
	for _, tt := range tests {
		if got := ValidFunctionName(tt.name); got != tt.want {
			t.Errorf("ValidFunctionName(%.40q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDispatchValidation(t *testing.T) {
	r, _, _ := newTestRegistry()
	long := strings.Repeat("f", 1025)
	tests := []struct {
		name, module, function string
		want                   string
	}{
		{"empty function", "Test", "", "Illegal function name: "},
		{"leading underscore", "Test", "_ok", "Illegal function name: _ok"},
		{"1025 chars", "Test", long, "Illegal function name: " + long},
		{"non-ASCII", "Test", "café", "Illegal function name: café"},
		{"dash", "Test", "create-user", "Illegal function name: create-user"},
		{"illegal name wins over unknown module", "Nope", "a-b", "Illegal function name: a-b"},
		{"unknown module", "Nope", "ok", "Failed to load module “Nope”."},
		{"empty module", "", "ok", "Failed to load module “”."},
		{"module with quotes", `Te"st'“”`, "ok", "Failed to load module “Te\"st'“””."},
		{"module with newline and NUL", "A\nB\x00", "ok", "Failed to load module “A\nB\x00”."},
		{"module invalid UTF-8", "\xff\xfe", "ok", "Failed to load module “\xff\xfe”."},
		{"long module", strings.Repeat("M", 100000), "ok", "Failed to load module “" + strings.Repeat("M", 100000) + "”."},
		{"module case matters", "test", "ok", "Failed to load module “test”."},
		{"unknown function", "Test", "nope", "The system could not find the function “nope” in the module “Test”."},
		{"function case matters", "Test", "OK", "The system could not find the function “OK” in the module “Test”."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := r.Dispatch(context.Background(), &Call{Module: tt.module, Function: tt.function, Args: NewArgs()})
			if res.Status != 0 || res.Data != nil || len(res.Errors) != 1 || res.Errors[0] != tt.want {
				t.Errorf("Dispatch = %+v, want error %.80q", res, tt.want)
			}
		})
	}
	if res := r.Dispatch(context.Background(), nil); res.Status != 0 {
		t.Errorf("nil call: %+v", res)
	}
}

func TestDispatchRuns(t *testing.T) {
	r, _, _ := newTestRegistry()
	res := r.Dispatch(context.Background(), &Call{Module: "Test", Function: "ok", Args: argsOf("x", "1")})
	if res.Status != 1 || res.Data.(map[string]any)["x"] != "1" {
		t.Errorf("Dispatch = %+v", res)
	}
	// A nil Args is replaced by an empty set.
	res = r.Dispatch(context.Background(), &Call{Module: "Test", Function: "ok"})
	if res.Status != 1 {
		t.Errorf("Dispatch with nil args = %+v", res)
	}
	if !r.HasModule("Test") || r.HasModule("Nope") || r.HasModule("") {
		t.Error("HasModule wrong")
	}
}

var genericRE = func() func(string) (string, bool) {
	const prefix = "The request failed. (Error ID: "
	const suffix = ") Ask your hosting provider to research this error in cPanel & WHM’s main error log."
	return func(s string) (string, bool) {
		if !strings.HasPrefix(s, prefix) || !strings.HasSuffix(s, suffix) {
			return "", false
		}
		return s[len(prefix) : len(s)-len(suffix)], true
	}
}()

func validErrorID(id string) bool {
	if len(id) != 6 {
		return false
	}
	for _, c := range id {
		if !strings.ContainsRune(errorIDAlphabet, c) {
			return false
		}
	}
	return true
}

func TestDispatchInternalFailures(t *testing.T) {
	tests := []struct {
		function string
		logWants []string
	}{
		{"boom", []string{`"level":"ERROR"`, `"module":"Test"`, `"function":"boom"`, `"panic":"kaboom"`, `"stack":`, "registry_test.go"}},
		{"nilmap", []string{`"level":"ERROR"`, `"function":"nilmap"`, "assignment to entry in nil map", `"stack":`}},
		{"fails", []string{`"level":"ERROR"`, `"module":"Test"`, `"function":"fails"`, `"error":"database is on fire"`}},
	}
	for _, tt := range tests {
		t.Run(tt.function, func(t *testing.T) {
			r, buf, mu := newTestRegistry()
			secret := "hunter2-SECRET-PASSWORD"
			res := r.Dispatch(context.Background(), &Call{Module: "Test", Function: tt.function, Args: argsOf("password", secret)})
			if res.Status != 0 || res.Data != nil || len(res.Errors) != 1 {
				t.Fatalf("Dispatch = %+v", res)
			}
			id, ok := genericRE(res.Errors[0])
			if !ok || !validErrorID(id) {
				t.Fatalf("not the generic error with a valid id: %q", res.Errors[0])
			}
			mu.Lock()
			logged := buf.String()
			mu.Unlock()
			if !strings.Contains(logged, `"error_id":"`+id+`"`) {
				t.Errorf("log lacks error_id %s: %s", id, logged)
			}
			for _, w := range tt.logWants {
				if !strings.Contains(logged, w) {
					t.Errorf("log lacks %q: %s", w, logged)
				}
			}
			if strings.Contains(logged, secret) {
				t.Errorf("log leaks the arguments: %s", logged)
			}
			if strings.Count(logged, "\n") != 1 {
				t.Errorf("want exactly one log record: %s", logged)
			}
		})
	}
}

func TestDispatchFreshIDs(t *testing.T) {
	r, _, _ := newTestRegistry()
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		res := r.Dispatch(context.Background(), &Call{Module: "Test", Function: "fails"})
		id, _ := genericRE(res.Errors[0])
		seen[id] = true
	}
	if len(seen) < 45 { // 31^6 ≈ 887M ids; collisions are vanishingly rare
		t.Errorf("error ids repeat: %d distinct of 50", len(seen))
	}
}

func TestNewErrorID(t *testing.T) {
	counts := map[rune]int{}
	for i := 0; i < 5000; i++ {
		id := NewErrorID()
		if !validErrorID(id) {
			t.Fatalf("bad id %q", id)
		}
		for _, c := range id {
			counts[c]++
		}
	}
	// 30000 draws over 31 symbols: every symbol appears (expected ≈ 968 each).
	if len(counts) != len(errorIDAlphabet) {
		t.Errorf("only %d of %d symbols drawn", len(counts), len(errorIDAlphabet))
	}
	for c, n := range counts {
		if n < 700 || n > 1250 {
			t.Errorf("symbol %q drawn %d times; distribution looks skewed", c, n)
		}
	}
}

func TestGenericError(t *testing.T) {
	want := "The request failed. (Error ID: abc234) Ask your hosting provider to research this error in cPanel & WHM’s main error log."
	if got := GenericError("abc234"); got != want {
		t.Errorf("GenericError = %q", got)
	}
}

func TestRegisterPanics(t *testing.T) {
	f := func(ctx context.Context, c *Call) (Result, error) { return OK(nil), nil }
	tests := []struct {
		name             string
		module, function string
		f                Func
	}{
		{"illegal function", "M", "bad-name", f},
		{"empty function", "M", "", f},
		{"empty module", "", "ok", f},
		{"nil func", "M", "ok", nil},
		{"duplicate", "Test", "ok", f},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _, _ := newTestRegistry()
			defer func() {
				if recover() == nil {
					t.Error("Register did not panic")
				}
			}()
			r.Register(tt.module, tt.function, tt.f)
		})
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r, _, _ := newTestRegistry()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			r.Register(fmt.Sprintf("Mod%d", i), "f", func(ctx context.Context, c *Call) (Result, error) { return OK(i), nil })
		}(i)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				r.Dispatch(context.Background(), &Call{Module: "Test", Function: "ok", Args: argsOf("x", "y")})
				r.Dispatch(context.Background(), &Call{Module: "Test", Function: "boom"})
				r.HasModule("Mod3")
			}
		}()
	}
	wg.Wait()
	for i := 0; i < 8; i++ {
		res := r.Dispatch(context.Background(), &Call{Module: fmt.Sprintf("Mod%d", i), Function: "f"})
		if res.Status != 1 || res.Data != i {
			t.Errorf("Mod%d: %+v", i, res)
		}
	}
}

func TestNewRegistryNilLogger(t *testing.T) {
	r := NewRegistry(nil)
	r.Register("M", "f", func(ctx context.Context, c *Call) (Result, error) { return Result{}, errors.New("x") })
	if res := r.Dispatch(context.Background(), &Call{Module: "M", Function: "f"}); res.Status != 0 {
		t.Errorf("%+v", res)
	}
}
