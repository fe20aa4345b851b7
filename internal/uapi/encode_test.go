package uapi

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The YAML goldens below were checked byte for byte against Perl's
// YAML::Syck 1.34 (Dump with SortKeys and ImplicitUnicode) on the same data,
// which is what cPanel's uapi command prints with.
const goldenSuccessYAML = `--- 
apiversion: 3
func: create_webmail_session_for_mail_user
module: Session
result: 
  data: 
    hostname: ~
    session: bob@example.com:D7NiAZv1nf4bXeg9:CREATE_WEBMAIL_SESSION_FOR_MAIL_USER,728fb86a7df1cf20690c65f349ac3137
    token: /cpsess2462418786
  errors: ~
  messages: ~
  metadata: 
    transformed: 1
  status: 1
  warnings: ~
`

const goldenFailureYAML = `--- 
apiversion: 3
func: create_webmail_session_for_mail_user
module: Session
result: 
  data: ~
  errors: 
    - Provide the “login” and “domain” arguments.
  messages: ~
  metadata: {}

  status: 0
  warnings: ~
`

const goldenGenericYAML = `--- 
apiversion: 3
func: create_temp_user
module: Session
result: 
  data: ~
  errors: 
    - "The request failed. (Error ID: abc234) Ask your hosting provider to research this error in cPanel & WHM’s main error log."
  messages: ~
  metadata: {}

  status: 0
  warnings: ~
`

const goldenNestedYAML = `--- 
data: 
  - 
    a: 1
    b: 
      - 1
      - 2
  - {}

  - []

  - 
    - 
      - 1
  - ~
  - x
deep: 
  a: 
    b: {}

`

func successWrapped() Wrapped {
	return Wrap("Session", "create_webmail_session_for_mail_user", Result{
		Data: map[string]any{
			"hostname": nil,
			"token":    "/cpsess2462418786",
			"session":  "bob@example.com:D7NiAZv1nf4bXeg9:CREATE_WEBMAIL_SESSION_FOR_MAIL_USER,728fb86a7df1cf20690c65f349ac3137",
		},
		Metadata: map[string]any{"transformed": 1},
		Status:   1,
	})
}

func TestYAMLGolden(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"success", successWrapped(), goldenSuccessYAML},
		{"failure", Wrap("Session", "create_webmail_session_for_mail_user", Fail(MissingText("login", "domain"))), goldenFailureYAML},
		{"generic error", Wrap("Session", "create_temp_user", Fail(GenericError("abc234"))), goldenGenericYAML},
		{"nested", map[string]any{
			"data": []any{map[string]any{"a": 1, "b": []int{1, 2}}, map[string]any{}, []any{}, []any{[]any{1}}, nil, "x"},
			"deep": map[string]any{"a": map[string]any{"b": map[string]any{}}},
		}, goldenNestedYAML},
		{"scalar root", "x", "--- x\n"},
		{"number root", 42, "--- 42\n"},
		{"null root", nil, "--- ~\n"},
		{"empty map root", map[string]any{}, "--- {}\n\n"},
		{"empty list root", []any{}, "--- []\n\n"},
		{"list root", []any{1, "a"}, "--- \n- 1\n- a\n"},
		{"booleans", map[string]any{"t": true, "f": false}, "--- \nf: false\nt: true\n"},
		{"bare result", OK(map[string]any{"created": 0}), "--- \ndata: \n  created: 0\nerrors: ~\nmessages: ~\nmetadata: {}\n\nstatus: 1\nwarnings: ~\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode("yaml", tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestYAMLScalars(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		// plain
		{"bob", "bob"},
		{"a b", "a b"},
		{"x:y", "x:y"},
		{"a#b", "a#b"},
		{"a'b", "a'b"},
		{`a"b`, `a"b`},
		{`a\b`, `a\b`},
		{"-x", "-x"},
		{"/cpsess0123456789", "/cpsess0123456789"},
		{"192.168.0.1", "192.168.0.1"},
		{"11.110.0.5", "11.110.0.5"},
		{"2001:db8::1", "2001:db8::1"},
		{"https://h.test:2096/cpsess1/login/?session=a%3Ab", "https://h.test:2096/cpsess1/login/?session=a%3Ab"},
		{"Provide the “login” argument.", "Provide the “login” argument."},
		{"é", "é"},
		{"nULL", "nULL"},
		{"e5", "e5"},
		{"...", "..."},
		// single-quoted: would load as null, bool or number
		{"", "''"},
		{"~", "'~'"},
		{"null", "'null'"},
		{"NULL", "'NULL'"},
		{"yes", "'yes'"},
		{"No", "'No'"},
		{"y", "'y'"},
		{"N", "'N'"},
		{"true", "'true'"},
		{"FALSE", "'FALSE'"},
		{"on", "'on'"},
		{"Off", "'Off'"},
		{"0", "'0'"},
		{"123", "'123'"},
		{"-1", "'-1'"},
		{"+1", "'+1'"},
		{"042", "'042'"},
		{"1.0", "'1.0'"},
		{"1.", "'1.'"},
		{".5", "'.5'"},
		{"-.5", "'-.5'"},
		{"1e5", "'1e5'"},
		{"1.5e-3", "'1.5e-3'"},
		{"1_000", "'1_000'"},
		{"+_00", "'+_00'"},
		{"-_1._5", "'-_1._5'"},
		{"0x_1F", "'0x_1F'"},
		{"0x1F", "'0x1F'"},
		{"0o17", "'0o17'"},
		{"0b101", "'0b101'"},
		{"12:30", "'12:30'"},
		{".inf", "'.inf'"},
		{"-.Inf", "'-.Inf'"},
		{".nan", "'.nan'"},
		{"inf", "'inf'"},
		{"NaN", "'NaN'"},
		{"2020-01-01", "'2020-01-01'"},
		{"2001-12-14t21:59:43.10-05:00", "'2001-12-14t21:59:43.10-05:00'"},
		{"<<", "'<<'"},
		{"=", "'='"},
		{"123456789012345678901234567890", "'123456789012345678901234567890'"},
		// double-quoted: indicators, spaces, comments, controls
		{"-", `"-"`},
		{"- x", `"- x"`},
		{"?", `"?"`},
		{"? x", `"? x"`},
		{":", `":"`},
		{":x", `":x"`},
		{"a:", `"a:"`},
		{"a: b", `"a: b"`},
		{"x #y", `"x #y"`},
		{"#", `"#"`},
		{",x", `",x"`},
		{"[x", `"[x"`},
		{"]", `"]"`},
		{"{}", `"{}"`},
		{"&a", `"&a"`},
		{"*a", `"*a"`},
		{"!a", `"!a"`},
		{"|", `"|"`},
		{">x", `">x"`},
		{"'x", `"'x"`},
		{`"x`, `"\"x"`},
		{"%x", `"%x"`},
		{"@x", `"@x"`},
		{"`x", "\"`x\""},
		{" ", `" "`},
		{" lead", `" lead"`},
		{"trail ", `"trail "`},
		{"x\ny", `"x\ny"`},
		{"x\n", `"x\n"`},
		{"\t", `"\t"`},
		{"a\tb", `"a\tb"`},
		{"a\rb", `"a\rb"`},
		{"\x00\x01\x07\x08\x0b\x0c\x1b\x1f\x7f", `"\0\x01\a\b\v\f\e\x1F\x7F"`},
		{"a\\b\nc", `"a\\b\nc"`},
		{"\u0085", `"\N"`},
		{"\u2028\u2029", `"\L\P"`},
		{"\ufeffx", `"\uFEFFx"`},
		{"\u0080", `"\u0080"`},
		{"é: x", `"é: x"`},
		{"“x”: y", `"“x”: y"`},
	}
	for _, tt := range tests {
		got, err := Encode("yaml", map[string]any{"k": tt.in})
		if err != nil {
			t.Fatal(err)
		}
		want := "--- \nk: " + tt.want + "\n"
		if string(got) != want {
			t.Errorf("%q: got %q, want %q", tt.in, got, want)
		}
	}
}

func TestYAMLKeys(t *testing.T) {
	got, err := Encode("yaml", map[string]any{"": 5, "-": 4, "123": 2, "a b": 3, "a: b": 6, "no": 1, "x\ny": 7, "n": nil})
	if err != nil {
		t.Fatal(err)
	}
	want := "--- \n\"\": 5\n\"-\": 4\n\"123\": 2\na b: 3\n\"a: b\": 6\n\"n\": ~\n\"no\": 1\n\"x\\ny\": 7\n"
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestYAMLNumbersStayNumbers(t *testing.T) {
	got, err := Encode("yaml", map[string]any{"i": 1, "f": 1.5, "big": json.Number("123456789012345678901234567890"), "e": json.Number("1e-7"), "neg": -3})
	if err != nil {
		t.Fatal(err)
	}
	want := "--- \nbig: 123456789012345678901234567890\ne: 1e-7\nf: 1.5\ni: 1\nneg: -3\n"
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

const goldenPrettyJSON = `{
   "apiversion" : 3,
   "func" : "create_webmail_session_for_mail_user",
   "module" : "Session",
   "result" : {
      "data" : {
         "hostname" : null,
         "list" : [
            1,
            "a\"b\\c\n\u0001 <&> “x”",
            {},
            [],
            true
         ],
         "session" : "bob@example.com:D7NiAZv1nf4bXeg9:CREATE_WEBMAIL_SESSION_FOR_MAIL_USER,728fb86a7df1cf20690c65f349ac3137",
         "token" : "/cpsess2462418786"
      },
      "errors" : null,
      "messages" : null,
      "metadata" : {
         "transformed" : 1
      },
      "status" : 1,
      "warnings" : null
   }
}
`

func TestJSONPrettyGolden(t *testing.T) {
	w := successWrapped()
	w.Result.Data.(map[string]any)["list"] = []any{1, "a\"b\\c\n\x01 <&> “x”", map[string]any{}, []any{}, true}
	got, err := Encode("jsonpretty", w)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != goldenPrettyJSON {
		t.Errorf("got:\n%s\nwant:\n%s", got, goldenPrettyJSON)
	}
}

func TestEncodeFormats(t *testing.T) {
	if got := Formats(); !reflect.DeepEqual(got, []string{"json", "jsonpretty", "xml", "yaml"}) {
		t.Errorf("Formats = %q", got)
	}
	for _, f := range Formats() {
		out, err := Encode(f, successWrapped())
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if !bytes.HasSuffix(out, []byte("\n")) {
			t.Errorf("%s: no final newline", f)
		}
	}
	for _, f := range []string{"", "JSON", "yml", "html", "json "} {
		if _, err := Encode(f, successWrapped()); err == nil {
			t.Errorf("Encode(%q): no error", f)
		}
	}
}

// xmlTree parses XML back into a generic tree: element name -> children
// (repeated names collect into lists) or text.
type xmlNode struct {
	Name     string
	Text     string
	Children []*xmlNode
}

func parseXML(t *testing.T, data []byte) *xmlNode {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var stack []*xmlNode
	var root *xmlNode
	roots := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, data)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			n := &xmlNode{Name: tk.Name.Local}
			if tk.Name.Space != "" {
				t.Fatalf("unexpected namespace in %v", tk.Name)
			}
			if len(stack) == 0 {
				root = n
				roots++
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(tk)
			} else if strings.TrimSpace(string(tk)) != "" {
				t.Fatalf("text outside the root: %q", tk)
			}
		case xml.ProcInst:
			if tk.Target != "xml" || string(tk.Inst) != `version="1.0" ` {
				t.Fatalf("unexpected processing instruction %q %q", tk.Target, tk.Inst)
			}
		}
	}
	if roots != 1 || root.Name != "result" {
		t.Fatalf("want one <result> root, got %d roots", roots)
	}
	return root
}

func (n *xmlNode) child(name string) []*xmlNode {
	var out []*xmlNode
	for _, c := range n.Children {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

func TestXML(t *testing.T) {
	w := successWrapped()
	w.Result.Data.(map[string]any)["pops"] = []any{"a@x.test", "b@x.test"}
	w.Result.Data.(map[string]any)["text"] = "<b>&amp; \"q\" 'a'</b>\n“x”"
	w.Result.Errors = []string{"e1", "e2"}
	out, err := Encode("xml", w)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("<?xml version=\"1.0\" ?>\n<result>\n")) {
		t.Errorf("bad start:\n%s", out)
	}
	root := parseXML(t, out)
	var names []string
	for _, c := range root.Children {
		names = append(names, c.Name)
	}
	if !reflect.DeepEqual(names, []string{"apiversion", "func", "module", "result"}) {
		t.Errorf("root children %q", names)
	}
	res := root.child("result")[0]
	data := res.child("data")[0]
	if got := data.child("pops"); len(got) != 2 || got[0].Text != "a@x.test" || got[1].Text != "b@x.test" {
		t.Errorf("list as repeated elements: %+v", got)
	}
	if got := data.child("text")[0].Text; got != "<b>&amp; \"q\" 'a'</b>\n“x”" {
		t.Errorf("text round trip: %q", got)
	}
	if got := data.child("hostname")[0]; got.Text != "" || len(got.Children) != 0 {
		t.Errorf("null: %+v", got)
	}
	if got := res.child("errors"); len(got) != 2 || got[1].Text != "e2" {
		t.Errorf("errors: %+v", got)
	}
	if got := res.child("messages"); len(got) != 1 || got[0].Text != "" {
		t.Errorf("null messages: %+v", got)
	}
	if got := res.child("status")[0].Text; got != "1" {
		t.Errorf("status %q", got)
	}
	if got := res.child("metadata")[0].child("transformed")[0].Text; got != "1" {
		t.Errorf("metadata %q", got)
	}
}

func TestXMLAlwaysWellFormed(t *testing.T) {
	nasty := []string{"", "1abc", "-x", ".x", "a b", "a:b", "xml", "<x>", "&", "\x00", "é", "“”", "a\u0085b", "\xff", "]]>", "--", "_ok", "ok-1.2"}
	m := map[string]any{}
	for i, k := range nasty {
		m[k] = []any{k, "\x00\x01\x08\x0b\x0c\x1f\x7f\ufffe\uffff\ud7ff\ue000 ]]> <!-- -->", i, nil, map[string]any{k: k}, []any{}, []any{[]any{k, 1}, []any{}}, true}
	}
	for _, v := range []any{m, []any{m, "x"}, "scalar & <root>", nil, 3, []any{}, map[string]any{}, []any{[]any{1}}} {
		out, err := Encode("xml", v)
		if err != nil {
			t.Fatal(err)
		}
		parseXML(t, out)
	}
}

func TestXMLName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"data", "data"},
		{"a_b-c.d", "a_b-c.d"},
		{"", "_"},
		{"1abc", "_1abc"},
		{"-x", "_-x"},
		{"a b", "a_b"},
		{"a:b", "a_b"},
		{"é", "__"},
		{"aé", "a_"},
		{"<&>", "____"},
	}
	for _, tt := range tests {
		if got := xmlName(tt.in); got != tt.want {
			t.Errorf("xmlName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// randomValue builds a random JSON-like value of json.Number, string, bool,
// nil, []any and map[string]any.
func randomValue(r *rand.Rand, depth int) any {
	k := r.IntN(8)
	if depth > 3 && k >= 6 {
		k = r.IntN(6)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return json.Number(strconv.FormatInt(r.Int64()-r.Int64(), 10))
	case 3:
		return json.Number(strconv.FormatFloat(r.NormFloat64()*1e6, 'g', -1, 64))
	case 4, 5:
		return randomString(r)
	case 6:
		n := r.IntN(5)
		l := make([]any, n)
		for i := range l {
			l[i] = randomValue(r, depth+1)
		}
		return l
	default:
		n := r.IntN(5)
		m := make(map[string]any, n)
		for i := 0; i < n; i++ {
			m[randomString(r)] = randomValue(r, depth+1)
		}
		return m
	}
}

var randomPieces = []string{"a", "Z", "0", "1", " ", ":", "#", "-", "?", "'", "\"", "\\", "\n", "\t", "\r", "\x00", "\x1f", "\x7f", "<", ">", "&", "é", "“", "”", "’", "\u0085", "\u2028", "\ufeff", "😀", "yes", "null", "~", "1e5", ".5", "]]>", "{", "[", "%", "@", "`", "!", "*", "|"}

func randomString(r *rand.Rand) string {
	var b strings.Builder
	for n := r.IntN(6); n > 0; n-- {
		b.WriteString(randomPieces[r.IntN(len(randomPieces))])
	}
	return b.String()
}

func TestJSONRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		in := randomValue(r, 0)
		for _, format := range []string{"json", "jsonpretty"} {
			out, err := Encode(format, in)
			if err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.UseNumber()
			var back any
			if err := dec.Decode(&back); err != nil {
				t.Fatalf("%s: %v\n%s", format, err, out)
			}
			if !reflect.DeepEqual(back, in) {
				t.Fatalf("%s round trip differs:\n in  %#v\n out %#v", format, in, back)
			}
		}
		// XML stays well-formed and YAML encodes for the same values.
		out, err := Encode("xml", in)
		if err != nil {
			t.Fatal(err)
		}
		parseXML(t, out)
		y, err := Encode("yaml", in)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(y) || !bytes.HasPrefix(y, []byte("---")) {
			t.Fatalf("bad YAML %q", y)
		}
	}
}

func TestJSONRoundTripResult(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 300; i++ {
		res := Result{Data: randomValue(r, 0), Status: r.IntN(2)}
		if r.IntN(2) == 0 {
			res.Errors = []string{randomString(r), randomString(r)}
		}
		if r.IntN(2) == 0 {
			res.Metadata = map[string]any{randomString(r): randomValue(r, 2)}
		}
		out, err := Encode("json", Wrap("M", "f", res))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		var back struct {
			APIVersion json.Number    `json:"apiversion"`
			Func       string         `json:"func"`
			Module     string         `json:"module"`
			Result     map[string]any `json:"result"`
		}
		if err := dec.Decode(&back); err != nil {
			t.Fatal(err)
		}
		if back.APIVersion != "3" || back.Func != "f" || back.Module != "M" {
			t.Fatalf("envelope %+v", back)
		}
		if !reflect.DeepEqual(back.Result["data"], res.Data) {
			t.Fatalf("data differs: %#v vs %#v", back.Result["data"], res.Data)
		}
		if back.Result["status"] != json.Number(strconv.Itoa(res.Status)) {
			t.Fatalf("status %#v", back.Result["status"])
		}
		if res.Errors == nil && back.Result["errors"] != nil {
			t.Fatalf("errors should be null: %#v", back.Result["errors"])
		}
		if res.Metadata == nil && !reflect.DeepEqual(back.Result["metadata"], map[string]any{}) {
			t.Fatalf("metadata should be {}: %#v", back.Result["metadata"])
		}
	}
}

func FuzzEncode(f *testing.F) {
	for _, s := range randomPieces {
		f.Add(s, s)
	}
	f.Add("key", "The request failed. (Error ID: abc234)")
	f.Fuzz(func(t *testing.T, k, v string) {
		in := map[string]any{k: []any{v, map[string]any{v: k}}}
		for _, format := range Formats() {
			out, err := Encode(format, in)
			if err != nil {
				t.Fatal(err)
			}
			if format == "xml" {
				parseXML(t, out)
			}
		}
	})
}

func TestEncodeErrorPropagates(t *testing.T) {
	for _, f := range Formats() {
		_, err := Encode(f, map[string]any{"c": make(chan int)})
		var ute *json.UnsupportedTypeError
		if !errors.As(err, &ute) {
			t.Errorf("%s: err = %v", f, err)
		}
	}
}

func benchmarkResult() Result {
	return Result{
		Data: map[string]any{
			"hostname": nil,
			"token":    "/cpsess2462418786",
			"session":  "bob@example.com:D7NiAZv1nf4bXeg9:CREATE_WEBMAIL_SESSION_FOR_MAIL_USER,728fb86a7df1cf20690c65f349ac3137",
		},
		Metadata: map[string]any{"transformed": 1},
		Status:   1,
	}
}

// BenchmarkEncodeBare measures the HTTP form: the bare result as compact JSON.
func BenchmarkEncodeBare(b *testing.B) {
	r := benchmarkResult()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode("json", r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeYAML measures the CLI form: the wrapped result as YAML.
func BenchmarkEncodeYAML(b *testing.B) {
	w := Wrap("Session", "create_webmail_session_for_mail_user", benchmarkResult())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode("yaml", w); err != nil {
			b.Fatal(err)
		}
	}
}
