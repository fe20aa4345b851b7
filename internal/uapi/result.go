package uapi

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Result is a UAPI result.
//
// Its JSON form (MarshalJSON) has exactly the keys data, errors, messages,
// warnings, metadata and status: errors, messages and warnings are null when
// empty (never []), metadata is {} when nil, and status is the JSON number 1
// or 0.
type Result struct {
	Data     any
	Errors   []string
	Messages []string
	Warnings []string
	Metadata map[string]any // nil encodes as {}
	Status   int            // 1 or 0

	// err is the failure behind a generic error (set by Dispatch; never
	// encoded).
	err error
}

// Err returns the error a function returned when Dispatch answered it
// with the generic error text, else nil. The HTTP server uses it to answer
// a store that cannot be reached with 503 (store.ErrUnavailable).
func (r Result) Err() error { return r.err }

// OK returns a successful result (status 1) carrying data.
func OK(data any) Result {
	return Result{Data: data, Status: 1}
}

// Fail returns a failed result (status 0, data null) with the given error
// texts, msg first.
func Fail(msg string, more ...string) Result {
	errs := make([]string, 0, 1+len(more))
	errs = append(errs, msg)
	errs = append(errs, more...)
	return Result{Errors: errs, Status: 0}
}

// MarshalJSON renders the result in cPanel's field layout; see Result.
func (r Result) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"data":`)
	if err := writeJSONValue(&b, r.Data); err != nil {
		return nil, err
	}
	for _, f := range [...]struct {
		name string
		list []string
	}{{"errors", r.Errors}, {"messages", r.Messages}, {"warnings", r.Warnings}} {
		b.WriteString(`,"`)
		b.WriteString(f.name)
		b.WriteString(`":`)
		if len(f.list) == 0 {
			b.WriteString("null")
			continue
		}
		if err := writeJSONValue(&b, f.list); err != nil {
			return nil, err
		}
	}
	b.WriteString(`,"metadata":`)
	if r.Metadata == nil {
		b.WriteString("{}")
	} else if err := writeJSONValue(&b, r.Metadata); err != nil {
		return nil, err
	}
	b.WriteString(`,"status":`)
	b.WriteString(strconv.Itoa(r.Status))
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeJSONValue appends the compact JSON of v without HTML escaping (so
// "cPanel & WHM’s" stays readable) and without a trailing newline.
func writeJSONValue(b *bytes.Buffer, v any) error {
	start := b.Len()
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		b.Truncate(start)
		return err
	}
	// Encoder.Encode always ends with a newline.
	b.Truncate(b.Len() - 1)
	return nil
}

// Wrapped is the form for the CLI and /json-api/cpanel.
type Wrapped struct {
	APIVersion int    `json:"apiversion"`
	Func       string `json:"func"`
	Module     string `json:"module"`
	Result     Result `json:"result"`
}

// Wrap returns r in the wrapped form with apiversion 3.
func Wrap(module, function string, r Result) Wrapped {
	return Wrapped{APIVersion: 3, Func: function, Module: module, Result: r}
}
