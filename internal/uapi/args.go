package uapi

import (
	"net/url"
	"sort"
	"strings"
)

// Args holds the arguments of a call: each key maps to the ordered list of
// its values. A key given more than once is a list. The read methods are safe
// on a nil *Args (no arguments). Args is not safe for concurrent mutation.
type Args struct {
	m map[string][]string
}

// NewArgs returns an empty argument set.
func NewArgs() *Args {
	return &Args{m: make(map[string][]string)}
}

// ArgsFromValues copies v into a new argument set (value order is kept).
func ArgsFromValues(v url.Values) *Args {
	a := NewArgs()
	for k, vs := range v {
		a.m[k] = append([]string(nil), vs...)
	}
	return a
}

// Add appends value to the values of key.
func (a *Args) Add(key, value string) {
	if a.m == nil {
		a.m = make(map[string][]string)
	}
	a.m[key] = append(a.m[key], value)
}

// Get returns the first value of key and whether key is present at all.
func (a *Args) Get(key string) (value string, present bool) {
	if a == nil {
		return "", false
	}
	vs, ok := a.m[key]
	if !ok {
		return "", false
	}
	if len(vs) == 0 {
		return "", true
	}
	return vs[0], true
}

// Has reports whether key is present (possibly with an empty value).
func (a *Args) Has(key string) bool {
	if a == nil {
		return false
	}
	_, ok := a.m[key]
	return ok
}

// List returns a copy of all values of key in order (nil when absent).
func (a *Args) List(key string) []string {
	if a == nil {
		return nil
	}
	vs, ok := a.m[key]
	if !ok {
		return nil
	}
	return append([]string(nil), vs...)
}

// Keys returns the present keys, sorted.
func (a *Args) Keys() []string {
	if a == nil {
		return []string{}
	}
	keys := make([]string, 0, len(a.m))
	for k := range a.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Require checks the named arguments the way cPanel does before a function
// runs. If any is missing it returns the "Provide the …" text naming all
// missing ones in the given order; otherwise, if any is present but empty,
// the "… cannot be empty." text naming all empty ones. It returns "" when all
// are present and non-empty. An argument counts as empty when its first value
// is the empty string.
func (a *Args) Require(keys ...string) string {
	var missing, empty []string
	for _, k := range keys {
		v, ok := a.Get(k)
		switch {
		case !ok:
			missing = append(missing, k)
		case v == "":
			empty = append(empty, k)
		}
	}
	if len(missing) > 0 {
		return MissingText(missing...)
	}
	if len(empty) > 0 {
		return EmptyText(empty...)
	}
	return ""
}

// RequireEach checks the keys one by one in order (missing, then empty) and
// reports only the first problem, in the singular form; "" if none.
func (a *Args) RequireEach(keys ...string) string {
	for _, k := range keys {
		v, ok := a.Get(k)
		if !ok {
			return MissingText(k)
		}
		if v == "" {
			return EmptyText(k)
		}
	}
	return ""
}

// MissingText is cPanel's text for missing arguments:
//
//	Provide the “login” argument.
//	Provide the “login” and “domain” arguments.
//	Provide the “a”, “b”, and “c” arguments.
//
// It returns "" for no keys.
func MissingText(keys ...string) string {
	if len(keys) == 0 {
		return ""
	}
	return "Provide the " + quotedList(keys) + " " + argumentWord(len(keys)) + "."
}

// EmptyText is cPanel's text for arguments that are present but empty:
//
//	The “login” argument cannot be empty.
//	The “login” and “domain” arguments cannot be empty.
//	The “a”, “b”, and “c” arguments cannot be empty.
//
// It returns "" for no keys.
func EmptyText(keys ...string) string {
	if len(keys) == 0 {
		return ""
	}
	return "The " + quotedList(keys) + " " + argumentWord(len(keys)) + " cannot be empty."
}

func argumentWord(n int) string {
	if n == 1 {
		return "argument"
	}
	return "arguments"
}

// quotedList renders “a”, “a” and “b”, or “a”, “b”, and “c” (serial comma).
func quotedList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = "“" + k + "”"
	}
	switch len(q) {
	case 1:
		return q[0]
	case 2:
		return q[0] + " and " + q[1]
	default:
		return strings.Join(q[:len(q)-1], ", ") + ", and " + q[len(q)-1]
	}
}
