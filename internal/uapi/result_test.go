package uapi

import (
	"encoding/json"
	"math"
	"testing"
)

func TestResultJSON(t *testing.T) {
	tests := []struct {
		name string
		r    Result
		want string
	}{
		{"ok nil data", OK(nil),
			`{"data":null,"errors":null,"messages":null,"warnings":null,"metadata":{},"status":1}`},
		{"fail", Fail("Provide the “login” argument."),
			`{"data":null,"errors":["Provide the “login” argument."],"messages":null,"warnings":null,"metadata":{},"status":0}`},
		{"fail with more", Fail("a", "b", "c"),
			`{"data":null,"errors":["a","b","c"],"messages":null,"warnings":null,"metadata":{},"status":0}`},
		{"empty non-nil lists are null", Result{Data: "x", Errors: []string{}, Messages: []string{}, Warnings: []string{}, Status: 1},
			`{"data":"x","errors":null,"messages":null,"warnings":null,"metadata":{},"status":1}`},
		{"empty non-nil metadata", Result{Metadata: map[string]any{}, Status: 1},
			`{"data":null,"errors":null,"messages":null,"warnings":null,"metadata":{},"status":1}`},
		{"metadata and messages", Result{Data: map[string]any{"created": 0}, Messages: []string{"m"}, Warnings: []string{"w"}, Metadata: map[string]any{"transformed": 1}, Status: 1},
			`{"data":{"created":0},"errors":null,"messages":["m"],"warnings":["w"],"metadata":{"transformed":1},"status":1}`},
		{"numbers stay numbers", OK(map[string]any{"i": 42, "big": int64(math.MaxInt64), "f": 1.5, "n": json.Number("1e3"), "neg": -7, "s": "42"}),
			`{"data":{"big":9223372036854775807,"f":1.5,"i":42,"n":1e3,"neg":-7,"s":"42"},"errors":null,"messages":null,"warnings":null,"metadata":{},"status":1}`},
		{"no HTML escaping", Fail("cPanel & WHM’s <log>"),
			`{"data":null,"errors":["cPanel & WHM’s <log>"],"messages":null,"warnings":null,"metadata":{},"status":0}`},
		{"typed error data", Result{Data: map[string]any{"type": "BadPassword", "detail": nil}, Errors: []string{"The provided password is incorrect."}},
			`{"data":{"detail":null,"type":"BadPassword"},"errors":["The provided password is incorrect."],"messages":null,"warnings":null,"metadata":{},"status":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.r)
			if err != nil {
				t.Fatal(err)
			}
			// json.Marshal re-escapes HTML characters of a Marshaler's
			// output; Encode does not. Compare with Encode for the exact
			// bytes and check json.Marshal for equivalence.
			enc, err := Encode("json", tt.r)
			if err != nil {
				t.Fatal(err)
			}
			if string(enc) != tt.want+"\n" {
				t.Errorf("Encode(json)\n got %s\nwant %s", enc, tt.want)
			}
			var a, b any
			if err := json.Unmarshal(got, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &b); err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(a, b) {
				t.Errorf("json.Marshal = %s, want %s", got, tt.want)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestResultJSONUnmarshalable(t *testing.T) {
	if _, err := json.Marshal(OK(math.NaN())); err == nil {
		t.Error("want an error for NaN data")
	}
	if _, err := Encode("yaml", OK(make(chan int))); err == nil {
		t.Error("want an error for a channel")
	}
}

func TestWrap(t *testing.T) {
	w := Wrap("Session", "create_temp_user", OK(map[string]any{"created": 0}))
	if w.APIVersion != 3 || w.Module != "Session" || w.Func != "create_temp_user" || w.Result.Status != 1 {
		t.Fatalf("Wrap = %+v", w)
	}
	got, err := Encode("json", w)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"apiversion":3,"func":"create_temp_user","module":"Session","result":{"data":{"created":0},"errors":null,"messages":null,"warnings":null,"metadata":{},"status":1}}` + "\n"
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
