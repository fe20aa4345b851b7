package uapi

import (
	"bytes"
	"encoding/json"
	"testing"
)

// viaEncodingJSON is the reference: the result marshalled by encoding/json
// (through Result.MarshalJSON) without HTML escaping, plus the newline.
func viaEncodingJSON(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := writeJSONValue(&b, v); err != nil {
		t.Fatal(err)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// TestFastResultJSON: the direct writer of bare results gives the bytes of
// encoding/json for every kind of value a function returns.
func TestFastResultJSON(t *testing.T) {
	tricky := "a\"b\\c\n\r\t\b\f\x00\x1f\x7f<>&\u2028\u2029é€😀\xff\xfe end"
	type point struct {
		X, Y int
	}
	var nilMap map[string]any
	var nilList []any
	var nilStrings []string
	cases := []Result{
		OK(nil),
		OK(map[string]any{"hostname": nil, "token": "/cpsess0123456789", "session": "bob@example.com:abc:TAG,0123"}),
		{Data: map[string]any{tricky: tricky, "n": 1, "big": int64(1) << 62, "neg": -7, "t": true, "f": false,
			"list":  []any{"x", 1, nil, map[string]any{"z": "y", "a": []string{"p", tricky}}},
			"float": 1.5, "small": 1e-9, "num": json.Number("12.50"), "point": point{1, 2},
			"sm": map[string]string{"b": "1", "a": "2"}, "nilmap": nilMap, "nillist": nilList, "nilstrings": nilStrings,
			"empty": map[string]any{}, "emptylist": []any{}, "uint": uint8(3), "ptr": &point{3, 4}},
			Errors: []string{tricky, "two"}, Messages: []string{"m"}, Warnings: []string{},
			Metadata: map[string]any{"transformed": 1, "paginate": map[string]any{"total": 3}}, Status: 1},
		Fail("The “login” argument cannot be empty."),
		Fail("x", "y", tricky),
		{Data: []string{"a", "b"}, Status: 1},
		{Data: []any{}, Metadata: map[string]any{}, Status: 0},
		{Data: "scalar", Status: 1},
		{Data: 3.25, Status: 1},
	}
	for i, r := range cases {
		got, err := Encode("json", r)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if want := viaEncodingJSON(t, r); !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
		gotp, err := Encode("json", &r)
		if err != nil || !bytes.Equal(gotp, got) {
			t.Errorf("case %d: *Result encodes as %s (%v), Result as %s", i, gotp, err, got)
		}
	}
	var nilRes *Result
	if got, err := Encode("json", nilRes); err != nil || string(got) != "null\n" {
		t.Errorf("nil *Result: %q, %v", got, err)
	}
	if _, err := Encode("json", OK(map[string]any{"c": make(chan int)})); err == nil {
		t.Error("an unencodable value was accepted")
	}
}

// FuzzFastResultJSON compares the direct writer with encoding/json on
// arbitrary strings in every position.
func FuzzFastResultJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "\x00\xff\u2028<&>", "é😀", "\"\\"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		r := Result{Data: map[string]any{k: v, v: []any{k, map[string]any{k: nil}}}, Errors: []string{v},
			Metadata: map[string]any{k: 1}, Status: 0}
		got, err := Encode("json", r)
		if err != nil {
			t.Fatal(err)
		}
		if want := viaEncodingJSON(t, r); !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}
