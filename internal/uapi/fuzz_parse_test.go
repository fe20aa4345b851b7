package uapi_test

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/uapi"
)

// fuzzArgsMap turns Args into a plain map for comparisons.
func fuzzArgsMap(a *uapi.Args) map[string][]string {
	m := map[string][]string{}
	for _, k := range a.Keys() {
		m[k] = a.List(k)
	}
	return m
}

// pctEncode escapes every byte except unreserved characters as %XX, so that
// both url.QueryUnescape and url.PathUnescape give s back.
func pctEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// refForm decodes an application/x-www-form-urlencoded string with the
// standard library (url.ParseQuery), the reference ParseRequest must agree
// with: same pairs, same per-key order, an error exactly when ParseQuery
// reports one.
func refForm(into map[string][]string, s string) error {
	v, err := url.ParseQuery(s)
	if err != nil {
		return err
	}
	// ParseQuery has no cross-key order, and ParseRequest's only observable
	// order is per key, so appending per key is exact.
	for _, k := range sortedKeys(v) {
		into[k] = append(into[k], v[k]...)
	}
	return nil
}

func sortedKeys(v url.Values) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	// Order does not matter for appending distinct keys; keep it stable.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// refMultipart reads a whole multipart body with mime/multipart and no
// limit: every part with a form name contributes its (decoded) content.
func refMultipart(into map[string][]string, body []byte, boundary string) error {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := p.FormName()
		data, err := io.ReadAll(p)
		p.Close()
		if err != nil {
			return err
		}
		if name != "" {
			into[name] = append(into[name], string(data))
		}
	}
}

// refBodyKind is how ParseRequest treats a body of the given Content-Type:
// "" ignored, "form", "multipart", or "error" for a malformed Content-Type
// or a multipart type without boundary.
func refBodyKind(ct string) (kind, boundary string) {
	if ct == "" {
		return "", ""
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "error", ""
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		return "form", ""
	case "multipart/form-data":
		if params["boundary"] == "" {
			return "error", ""
		}
		return "multipart", params["boundary"]
	}
	return "", ""
}

var simpleKeyRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,40}$`)

// FuzzParseRequest builds a request from a fuzzed query string, body,
// Content-Type and multipart boundary, in one of six modes:
//
//	0 no Content-Type (body ignored)
//	1 urlencoded, raw fuzzed body
//	2 urlencoded, body built from a fuzzed key and value (also in the query)
//	3 multipart, raw fuzzed body, fuzzed boundary in the Content-Type
//	4 multipart built with multipart.Writer and the fuzzed boundary when it
//	  is a legal one: a field and a file part under the fuzzed key
//	5 the fuzzed boundary string used as the whole Content-Type
//
// and checks, with a small limit (1..1024 bytes, or 0 for the 1 MiB
// default) and with a known or unknown (chunked) Content-Length:
//
//   - ParseRequest never panics;
//   - a body within the limit gives exactly the arguments (and an error
//     exactly when) a reference decoder built on url.ParseQuery and
//     mime/multipart without limits gives: query values first, then body
//     values, per key in input order;
//   - a body over the limit that would be read is refused; with a known
//     Content-Length, and for well-formed bodies, with ErrBodyTooLarge;
//   - ErrBodyTooLarge is never reported for a body within the limit;
//   - in the built modes the fuzzed value comes back unchanged.
func FuzzParseRequest(f *testing.F) {
	f.Add("login=bob&domain=example.com", []byte("a=1&a=2"), byte(1), "", "k", "v", uint16(64), false)
	f.Add("a=q1&b=q", []byte("a=b1&a=b2"), byte(1), "", "a", "b", uint16(0), true)
	f.Add("x=a+b%20c%2B", []byte(""), byte(0), "", "", "", uint16(10), false)
	f.Add("a;b=1", []byte("c=%zz"), byte(1), "", "", "", uint16(100), false)
	f.Add("", []byte("0123456789abcdef"), byte(1), "", "", "", uint16(8), true)
	f.Add("list=q", []byte("--XYZ\r\nContent-Disposition: form-data; name=\"list\"\r\n\r\nb1\r\n--XYZ--\r\n"), byte(3), "XYZ", "", "", uint16(500), false)
	f.Add("", []byte("--XYZ\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=41=42\r\n--XYZ--\r\n"), byte(3), "XYZ", "", "", uint16(500), true)
	f.Add("", []byte("file content"), byte(4), "b0undary", "cert", "pem\r\n--b0undary", uint16(300), false)
	f.Add("", []byte("x"), byte(4), "", "login", "“bob”", uint16(40), true)
	f.Add("", []byte("a=1"), byte(5), "application/x-www-form-urlencoded; charset=UTF-8", "", "", uint16(0), false)
	f.Add("", []byte("a=1"), byte(5), "multipart/form-data", "", "", uint16(0), false)
	f.Add("", []byte("a=1"), byte(5), "text/plain; ===", "", "", uint16(0), false)
	f.Add("", []byte(`{"b":2}`), byte(5), "application/json", "", "", uint16(0), false)
	f.Fuzz(func(t *testing.T, query string, body []byte, mode byte, boundary, key, value string, limit uint16, chunked bool) {
		if strings.Count(query, "&")+bytes.Count(body, []byte("&")) > 5000 {
			return // stay clear of url.ParseQuery's parameter cap
		}
		maxBody := int64(limit % 1025)
		effMax := maxBody
		if effMax <= 0 {
			effMax = 1 << 20
		}
		var ct string
		built := false
		fileContent := body
		switch mode % 6 {
		case 0:
		case 1:
			ct = "application/x-www-form-urlencoded"
		case 2:
			ct = "application/x-www-form-urlencoded"
			if key == "" {
				key = "k"
			}
			pair := pctEncode(key) + "=" + pctEncode(value)
			query = pctEncode(key) + "=q&" + query
			body = []byte(pair + "&" + pair)
			built = true
		case 3:
			ct = "multipart/form-data; boundary=" + boundary
		case 4:
			var b bytes.Buffer
			w := multipart.NewWriter(&b)
			if w.SetBoundary(boundary) != nil {
				w.SetBoundary("fuzzboundary")
			}
			if !simpleKeyRE.MatchString(key) {
				key = "k"
			}
			query = pctEncode(key) + "=q&" + query
			w.WriteField(key, value)
			fw, _ := w.CreateFormFile(key, "f.bin")
			fw.Write(body)
			w.Close()
			ct = w.FormDataContentType()
			body = b.Bytes()
			// A value holding the delimiter legitimately splits the part;
			// only the reference comparison applies then.
			built = !strings.Contains(value, w.Boundary()) && !bytes.Contains(fileContent, []byte(w.Boundary()))
		case 5:
			ct = boundary
		}

		r := &http.Request{
			Method:        http.MethodPost,
			URL:           &url.URL{Path: "/execute/M/f", RawQuery: query},
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		if chunked {
			r.ContentLength = -1
		}
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		a, err := uapi.ParseRequest(r, maxBody)

		// The reference result.
		want := map[string][]string{}
		queryErr := error(nil)
		if query != "" {
			queryErr = refForm(want, query)
		}
		kind, bnd := refBodyKind(ct)
		oversize := int64(len(body)) > effMax && (kind == "form" || kind == "multipart")
		var bodyErr error
		switch kind {
		case "error":
			bodyErr = errors.New("bad Content-Type")
		case "form":
			bodyErr = refForm(want, string(body))
		case "multipart":
			bodyErr = refMultipart(want, body, bnd)
		}

		if errors.Is(err, uapi.ErrBodyTooLarge) && int64(len(body)) <= effMax {
			t.Fatalf("ErrBodyTooLarge for a %d-byte body with limit %d: %v", len(body), effMax, err)
		}
		if (err == nil) != (a != nil) {
			t.Fatalf("ParseRequest returned args %v and error %v", a, err)
		}
		switch {
		case queryErr != nil:
			if err == nil {
				t.Fatalf("query %q: url.ParseQuery fails (%v) but ParseRequest accepted %v", query, queryErr, fuzzArgsMap(a))
			}
			return
		case oversize:
			if err == nil {
				t.Fatalf("%d-byte %s body over the limit %d accepted: %v", len(body), kind, effMax, fuzzArgsMap(a))
			}
			if (!chunked || built || kind == "form") && !errors.Is(err, uapi.ErrBodyTooLarge) {
				t.Fatalf("%d-byte %s body over the limit %d (chunked %v): error %v does not wrap ErrBodyTooLarge", len(body), kind, effMax, chunked, err)
			}
			return
		case bodyErr != nil:
			if err == nil {
				t.Fatalf("Content-Type %q body %q: reference fails (%v) but ParseRequest accepted %v", ct, body, bodyErr, fuzzArgsMap(a))
			}
			return
		}
		if err != nil {
			t.Fatalf("query %q, Content-Type %q, body %q (limit %d): unexpected error %v; reference gives %v", query, ct, body, effMax, err, want)
		}
		got := fuzzArgsMap(a)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("query %q, Content-Type %q, body %q:\n got  %q\n want %q", query, ct, body, got, want)
		}
		if built {
			// The built pairs come back unchanged: the query's "q" first,
			// the body's values last.
			l := a.List(key)
			tail := []string{value, value}
			if mode%6 == 4 {
				tail = []string{value, string(fileContent)}
			}
			if len(l) < 3 || l[0] != "q" || !reflect.DeepEqual(l[len(l)-2:], tail) {
				t.Fatalf("built body: %q = %q, want q … %q", key, l, tail)
			}
		}
	})
}

// FuzzParseCLI: ParseCLI never panics; an argument without '=' or with an
// empty key is refused; arguments "key=value" without '%' come back
// verbatim (the text before the first '=' is the key, '+' stays a plus); a
// percent-encoded key and value always decode to the original; and
// repeated keys become lists in order. The fuzzed string is split on NUL
// into arguments.
func FuzzParseCLI(f *testing.F) {
	for _, s := range []string{
		"login=info\x00domain=example.com\x00remote_address=127.0.0.1",
		"a=1\x00a=2\x00a=3",
		"x=a+b%20c%2B",
		"noequals",
		"=value",
		"k=%zz",
		"k=v=w",
		"%6b=%76",
		"q=“x”",
		"",
	} {
		f.Add(s, "key", "value")
	}
	f.Add("", "a=b", "c=d")
	f.Add("", "ключ", "значение\x00")
	f.Fuzz(func(t *testing.T, joined, key, value string) {
		var args []string
		if joined != "" {
			args = strings.Split(joined, "\x00")
		}
		a, err := uapi.ParseCLI(args)
		if (err == nil) != (a != nil) {
			t.Fatalf("ParseCLI(%q) = %v, %v", args, a, err)
		}
		want := map[string][]string{}
		wantErr := false
		for _, arg := range args {
			k, v, ok := strings.Cut(arg, "=")
			if !ok {
				wantErr = true
				break
			}
			dk, e1 := url.PathUnescape(k)
			dv, e2 := url.PathUnescape(v)
			if e1 != nil || e2 != nil || dk == "" {
				wantErr = true
				break
			}
			if !strings.Contains(arg, "%") && (dk != k || dv != v) {
				t.Fatalf("PathUnescape changed %q without a %%", arg)
			}
			want[dk] = append(want[dk], dv)
		}
		if wantErr != (err != nil) {
			t.Fatalf("ParseCLI(%q): error %v, want error %v", args, err, wantErr)
		}
		if err == nil {
			if got := fuzzArgsMap(a); !reflect.DeepEqual(got, want) {
				t.Fatalf("ParseCLI(%q) = %q, want %q", args, got, want)
			}
		}

		// Literal key=value without '%': verbatim.
		if key != "" && !strings.ContainsAny(key, "=%") && !strings.Contains(value, "%") {
			a, err := uapi.ParseCLI([]string{key + "=" + value, key + "=" + value + "2"})
			if err != nil {
				t.Fatalf("ParseCLI(%q=%q): %v", key, value, err)
			}
			if got := a.List(key); !reflect.DeepEqual(got, []string{value, value + "2"}) {
				t.Fatalf("ParseCLI(%q=%q) = %q", key, value, got)
			}
			if len(a.Keys()) != 1 {
				t.Fatalf("ParseCLI(%q=%q) keys %q", key, value, a.Keys())
			}
		}
		// Any key and value survive percent-encoding.
		if key != "" {
			arg := pctEncode(key) + "=" + pctEncode(value)
			a, err := uapi.ParseCLI([]string{arg})
			if err != nil {
				t.Fatalf("ParseCLI(%q): %v", arg, err)
			}
			if got, ok := a.Get(key); !ok || got != value || len(a.Keys()) != 1 {
				t.Fatalf("ParseCLI(%q) = %q, want %q=%q", arg, fuzzArgsMap(a), key, value)
			}
		}
	})
}
