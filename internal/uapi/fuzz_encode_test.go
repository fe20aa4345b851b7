package uapi_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/uapid/uapid/internal/uapi"
)

// jsonNormal is s as it survives JSON: every invalid UTF-8 byte becomes
// U+FFFD (encoding/json's documented coercion).
func jsonNormal(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// xmlNormal is s (already JSON-normal) with the characters XML 1.0 does
// not allow replaced by U+FFFD, as the XML encoder documents.
func xmlNormal(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t', r == '\n', r == '\r':
			return r
		case r < 0x20, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return '\uFFFD'
		}
		return r
	}, s)
}

// refXMLName is the XML encoder's documented key sanitising: characters
// other than ASCII letters, digits, '_', '-' and '.' become '_', and a name
// not starting with a letter or '_' gets a leading '_'.
func refXMLName(k string) string {
	var b strings.Builder
	letter := func(r rune) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r == '_' }
	if first, _ := utf8.DecodeRuneInString(k); k == "" || !letter(first) {
		b.WriteByte('_')
	}
	for _, r := range k {
		if letter(r) || '0' <= r && r <= '9' || r == '-' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// fuzzWrapped is a wrapped result carrying the fuzzed strings in every
// position a real result puts caller-influenced text: the function name,
// data values, a mapping key, a list item, an error and a metadata value.
func fuzzWrapped(fn, k, v string) uapi.Wrapped {
	return uapi.Wrap("Session", fn, uapi.Result{
		Data: map[string]any{
			"value": v,
			"key":   map[string]any{k: v},
			"list":  []any{v, 7},
			"null":  nil,
		},
		Errors:   []string{v},
		Metadata: map[string]any{"note": v},
		Status:   1,
	})
}

// wantGeneric is the generic (JSON-decoded, json.Number) form of
// fuzzWrapped after the JSON coercion of invalid UTF-8.
func wantGeneric(fn, k, v string) map[string]any {
	fn, k, v = jsonNormal(fn), jsonNormal(k), jsonNormal(v)
	return map[string]any{
		"apiversion": json.Number("3"),
		"func":       fn,
		"module":     "Session",
		"result": map[string]any{
			"data": map[string]any{
				"value": v,
				"key":   map[string]any{k: v},
				"list":  []any{v, json.Number("7")},
				"null":  nil,
			},
			"errors":   []any{v},
			"messages": nil,
			"warnings": nil,
			"metadata": map[string]any{"note": v},
			"status":   json.Number("1"),
		},
	}
}

var encodeSeeds = [][3]string{
	{"create_webmail_session_for_mail_user", "session", "bob@example.com:D7NiAZv1nf4bXeg9:CREATE_WEBMAIL_SESSION_FOR_MAIL_USER,728fb86a7df1cf20690c65f349ac3137"},
	{"f", "no", "yes"},
	{"f", "123", "042"},
	{"f", "<<", "~"},
	{"f", "- x", "- y"},
	{"f", "a: b", "c #d"},
	{"f", "", ""},
	{"f", " lead", "trail "},
	{"f", "x\ny", "line1\r\nline2\rline3"},
	{"f", "\x00\x1f\x7f", "\u0085\u2028\u2029\ufeff"},
	{"f", "“quoted”", "The request failed. (Error ID: abc234) Ask your hosting provider to research this error in cPanel & WHM’s main error log."},
	{"f", "\xff\xfe", "bad \xc3 utf8 \xed\xa0\x80"},
	{"f", "é", "\ufffe\uffff"},
	{"f", "1e5", ".inf"},
	{"f", "2024-01-31", "12:30:45"},
	{"f", "=", "!tag"},
	{"<b>", "&amp;", "]]>"},
	{"f", "?", "%YAML"},
	{"f", "'", "\""},
	{"f", "\\", "\t"},
}

// FuzzJSONRoundTrip: a wrapped result with fuzzed strings in every text
// position encodes as "json" and "jsonpretty" to JSON that decodes back to
// exactly the same value (invalid UTF-8 coerced to U+FFFD, numbers still
// numbers, empty lists null); compact JSON is one line.
func FuzzJSONRoundTrip(f *testing.F) {
	for _, s := range encodeSeeds {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, fn, k, v string) {
		want := wantGeneric(fn, k, v)
		for _, format := range []string{"json", "jsonpretty"} {
			out, err := uapi.Encode(format, fuzzWrapped(fn, k, v))
			if err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			if !bytes.HasSuffix(out, []byte("\n")) || !utf8.Valid(out) {
				t.Fatalf("%s output does not end with a newline or is not UTF-8: %q", format, out)
			}
			if format == "json" && bytes.Count(out, []byte("\n")) != 1 {
				t.Fatalf("compact JSON spans lines: %q", out)
			}
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.UseNumber()
			var got any
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("%s output does not decode: %v\n%s", format, err, out)
			}
			if dec.Decode(new(any)) != io.EOF {
				t.Fatalf("%s output has trailing data: %q", format, out)
			}
			if !reflect.DeepEqual(got, any(want)) {
				t.Fatalf("%s round trip differs:\n got  %#v\n want %#v\n%s", format, got, want, out)
			}
		}
	})
}

// FuzzYAMLRoundTrip: the same wrapped result encodes to YAML that a YAML
// 1.2 loader (go.yaml.in/yaml/v3) reads back to the same strings: no
// string turns into a number, boolean, null, timestamp or merge key, and
// no character is lost; numbers stay numbers; the document starts "--- ".
func FuzzYAMLRoundTrip(f *testing.F) {
	for _, s := range encodeSeeds {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, fn, k, v string) {
		out, err := uapi.Encode("yaml", fuzzWrapped(fn, k, v))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(out, []byte("--- \n")) || !utf8.Valid(out) {
			t.Fatalf("YAML does not start with a \"--- \" line or is not UTF-8: %q", out)
		}
		var got any
		if err := yaml.Unmarshal(out, &got); err != nil {
			t.Fatalf("YAML does not load: %v\n%s", err, out)
		}
		fn, k, v = jsonNormal(fn), jsonNormal(k), jsonNormal(v)
		want := map[string]any{
			"apiversion": 3,
			"func":       fn,
			"module":     "Session",
			"result": map[string]any{
				"data": map[string]any{
					"value": v,
					"key":   map[string]any{k: v},
					"list":  []any{v, 7},
					"null":  nil,
				},
				"errors":   []any{v},
				"messages": nil,
				"warnings": nil,
				"metadata": map[string]any{"note": v},
				"status":   1,
			},
		}
		if !reflect.DeepEqual(got, any(want)) {
			t.Fatalf("YAML round trip differs:\n got  %#v\n want %#v\n%s", got, want, out)
		}
	})
}

// xmlElem is a parsed XML element.
type xmlElem struct {
	name     string
	text     string
	children []*xmlElem
}

func (e *xmlElem) find(names ...string) []*xmlElem {
	cur := []*xmlElem{e}
	for _, n := range names {
		var next []*xmlElem
		for _, c := range cur {
			for _, cc := range c.children {
				if cc.name == n {
					next = append(next, cc)
				}
			}
		}
		cur = next
	}
	return cur
}

func parseXMLStrict(t *testing.T, data []byte) *xmlElem {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var stack []*xmlElem
	var root *xmlElem
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%q", err, data)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			e := &xmlElem{name: tk.Name.Local}
			if len(stack) == 0 {
				if root != nil {
					t.Fatalf("two root elements in %q", data)
				}
				root = e
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tk)
			} else if len(bytes.TrimSpace(tk)) > 0 {
				t.Fatalf("text outside the root element in %q", data)
			}
		}
	}
	if root == nil {
		t.Fatalf("no root element in %q", data)
	}
	return root
}

// FuzzXMLRoundTrip: the same wrapped result encodes to well-formed XML
// (strict encoding/xml) whose text gives back the fuzzed strings, with only
// the characters XML 1.0 forbids replaced by U+FFFD, and whose element for
// the fuzzed key is the documented sanitised name.
func FuzzXMLRoundTrip(f *testing.F) {
	for _, s := range encodeSeeds {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, fn, k, v string) {
		out, err := uapi.Encode("xml", fuzzWrapped(fn, k, v))
		if err != nil {
			t.Fatal(err)
		}
		root := parseXMLStrict(t, out)
		fn, k, v = jsonNormal(fn), jsonNormal(k), jsonNormal(v)
		wv := xmlNormal(v)
		if root.name != "result" {
			t.Fatalf("root element %q", root.name)
		}
		text := func(path ...string) []string {
			var out []string
			for _, e := range root.find(path...) {
				if len(e.children) > 0 {
					t.Fatalf("%v has child elements", path)
				}
				out = append(out, e.text)
			}
			return out
		}
		check := func(want []string, path ...string) {
			t.Helper()
			if got := text(path...); !reflect.DeepEqual(got, want) {
				t.Fatalf("%v = %q, want %q\n%s", path, got, want, out)
			}
		}
		check([]string{xmlNormal(fn)}, "func")
		check([]string{"Session"}, "module")
		check([]string{"3"}, "apiversion")
		check([]string{wv}, "result", "data", "value")
		check([]string{wv}, "result", "data", "key", refXMLName(k))
		check([]string{wv, "7"}, "result", "data", "list")
		check([]string{""}, "result", "data", "null")
		check([]string{wv}, "result", "errors")
		check([]string{""}, "result", "messages")
		check([]string{wv}, "result", "metadata", "note")
		check([]string{"1"}, "result", "status")
	})
}
