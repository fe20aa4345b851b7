package uapi

import (
	"net/url"
	"reflect"
	"testing"
)

func TestMissingAndEmptyTexts(t *testing.T) {
	tests := []struct {
		keys         []string
		missing, emp string
	}{
		{nil, "", ""},
		{[]string{"login"}, "Provide the “login” argument.", "The “login” argument cannot be empty."},
		{[]string{"login", "domain"}, "Provide the “login” and “domain” arguments.", "The “login” and “domain” arguments cannot be empty."},
		{[]string{"a", "b", "c"}, "Provide the “a”, “b”, and “c” arguments.", "The “a”, “b”, and “c” arguments cannot be empty."},
		{[]string{"a", "b", "c", "d"}, "Provide the “a”, “b”, “c”, and “d” arguments.", "The “a”, “b”, “c”, and “d” arguments cannot be empty."},
	}
	for _, tt := range tests {
		if got := MissingText(tt.keys...); got != tt.missing {
			t.Errorf("MissingText(%q) = %q, want %q", tt.keys, got, tt.missing)
		}
		if got := EmptyText(tt.keys...); got != tt.emp {
			t.Errorf("EmptyText(%q) = %q, want %q", tt.keys, got, tt.emp)
		}
	}
}

func argsOf(pairs ...string) *Args {
	a := NewArgs()
	for i := 0; i+1 < len(pairs); i += 2 {
		a.Add(pairs[i], pairs[i+1])
	}
	return a
}

func TestRequire(t *testing.T) {
	tests := []struct {
		name string
		args *Args
		keys []string
		want string
	}{
		{"all present", argsOf("login", "bob", "domain", "example.com"), []string{"login", "domain"}, ""},
		{"no keys", argsOf(), nil, ""},
		{"one missing", argsOf("domain", "example.com"), []string{"login", "domain"}, "Provide the “login” argument."},
		{"two missing", argsOf(), []string{"login", "domain"}, "Provide the “login” and “domain” arguments."},
		{"three missing in given order", argsOf("x", "1"), []string{"c", "a", "b"}, "Provide the “c”, “a”, and “b” arguments."},
		{"missing wins over empty", argsOf("login", ""), []string{"login", "domain"}, "Provide the “domain” argument."},
		{"one empty", argsOf("login", "", "domain", "example.com"), []string{"login", "domain"}, "The “login” argument cannot be empty."},
		{"two empty", argsOf("login", "", "domain", ""), []string{"login", "domain"}, "The “login” and “domain” arguments cannot be empty."},
		{"three empty", argsOf("a", "", "b", "", "c", ""), []string{"a", "b", "c"}, "The “a”, “b”, and “c” arguments cannot be empty."},
		{"whitespace is not empty", argsOf("login", " "), []string{"login"}, ""},
		{"first value decides", argsOf("login", "", "login", "bob"), []string{"login"}, "The “login” argument cannot be empty."},
		{"nil args", nil, []string{"login"}, "Provide the “login” argument."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.args.Require(tt.keys...); got != tt.want {
				t.Errorf("Require = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRequireEach(t *testing.T) {
	tests := []struct {
		name string
		args *Args
		want string
	}{
		{"all fine", argsOf("login", "a", "domain", "b", "password", "c"), ""},
		{"all missing: first only", argsOf(), "Provide the “login” argument."},
		{"empty login before missing domain", argsOf("login", ""), "The “login” argument cannot be empty."},
		{"missing domain", argsOf("login", "a", "password", ""), "Provide the “domain” argument."},
		{"empty password", argsOf("login", "a", "domain", "b", "password", ""), "The “password” argument cannot be empty."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.args.RequireEach("login", "domain", "password"); got != tt.want {
				t.Errorf("RequireEach = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestArgsAccess(t *testing.T) {
	a := argsOf("b", "2", "a", "1", "b", "3", "e", "")
	if v, ok := a.Get("b"); v != "2" || !ok {
		t.Errorf("Get(b) = %q, %v", v, ok)
	}
	if v, ok := a.Get("e"); v != "" || !ok {
		t.Errorf("Get(e) = %q, %v", v, ok)
	}
	if v, ok := a.Get("zz"); v != "" || ok {
		t.Errorf("Get(zz) = %q, %v", v, ok)
	}
	if !a.Has("e") || a.Has("zz") {
		t.Error("Has wrong")
	}
	if got := a.List("b"); !reflect.DeepEqual(got, []string{"2", "3"}) {
		t.Errorf("List(b) = %q", got)
	}
	if got := a.List("zz"); got != nil {
		t.Errorf("List(zz) = %q", got)
	}
	l := a.List("b")
	l[0] = "changed"
	if v, _ := a.Get("b"); v != "2" {
		t.Error("List must return a copy")
	}
	if got := a.Keys(); !reflect.DeepEqual(got, []string{"a", "b", "e"}) {
		t.Errorf("Keys = %q", got)
	}

	var nilArgs *Args
	if _, ok := nilArgs.Get("x"); ok || nilArgs.Has("x") || nilArgs.List("x") != nil || len(nilArgs.Keys()) != 0 {
		t.Error("nil Args must read as empty")
	}

	var zero Args
	zero.Add("k", "v")
	if v, _ := zero.Get("k"); v != "v" {
		t.Error("zero Args must accept Add")
	}

	src := url.Values{"x": {"1", "2"}, "y": {""}}
	b := ArgsFromValues(src)
	src["x"][0] = "changed"
	if got := b.List("x"); !reflect.DeepEqual(got, []string{"1", "2"}) {
		t.Errorf("ArgsFromValues must copy: %q", got)
	}
	if v, ok := b.Get("y"); v != "" || !ok {
		t.Errorf("Get(y) = %q, %v", v, ok)
	}
}
