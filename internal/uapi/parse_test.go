package uapi

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func argsMap(a *Args) map[string][]string {
	m := map[string][]string{}
	for _, k := range a.Keys() {
		m[k] = a.List(k)
	}
	return m
}

func multipartBody(t *testing.T, build func(w *multipart.Writer)) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	build(w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), b.Bytes()
}

func TestParseRequest(t *testing.T) {
	mpType, mpBody := multipartBody(t, func(w *multipart.Writer) {
		w.WriteField("login", "bob")
		w.WriteField("list", "b1")
		fw, _ := w.CreateFormFile("cert", "cert.pem")
		fw.Write([]byte("-----BEGIN CERTIFICATE-----\nAAA\n"))
		w.WriteField("list", "b2")
		w.WriteField("empty", "")
	})
	tests := []struct {
		name        string
		method, url string
		ctype       string
		body        string
		want        map[string][]string
	}{
		{"GET query", "GET", "/execute/Session/f?login=bob&domain=example.com&x=a+b%20c%2B", "", "",
			map[string][]string{"login": {"bob"}, "domain": {"example.com"}, "x": {"a b c+"}}},
		{"GET repeated", "GET", "/x?a=1&a=2&b=&a=3", "", "",
			map[string][]string{"a": {"1", "2", "3"}, "b": {""}}},
		{"key without value", "GET", "/x?flag&v=", "", "",
			map[string][]string{"flag": {""}, "v": {""}}},
		{"empty pairs skipped", "GET", "/x?&&a=1&&", "", "",
			map[string][]string{"a": {"1"}}},
		{"UTF-8", "GET", "/x?q=%E2%80%9Cx%E2%80%9D", "", "",
			map[string][]string{"q": {"“x”"}}},
		{"urlencoded POST", "POST", "/x", "application/x-www-form-urlencoded", "login=bob&password=p%40ss+word",
			map[string][]string{"login": {"bob"}, "password": {"p@ss word"}}},
		{"urlencoded with charset", "POST", "/x", "application/x-www-form-urlencoded; charset=UTF-8", "a=1",
			map[string][]string{"a": {"1"}}},
		{"query then body", "POST", "/x?a=q1&b=q", "application/x-www-form-urlencoded", "a=b1&a=b2",
			map[string][]string{"a": {"q1", "b1", "b2"}, "b": {"q"}}},
		{"multipart", "POST", "/x?list=q", mpType, string(mpBody),
			map[string][]string{"login": {"bob"}, "list": {"q", "b1", "b2"}, "cert": {"-----BEGIN CERTIFICATE-----\nAAA\n"}, "empty": {""}}},
		{"JSON body ignored", "POST", "/x?a=1", "application/json", `{"b":2}`,
			map[string][]string{"a": {"1"}}},
		{"no content type ignored", "POST", "/x?a=1", "", "b=2",
			map[string][]string{"a": {"1"}}},
		{"empty body", "POST", "/x", "application/x-www-form-urlencoded", "",
			map[string][]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			r := httptest.NewRequest(tt.method, tt.url, body)
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			a, err := ParseRequest(r, 1<<16)
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if got := argsMap(a); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// unknownLength hides the length of a body from httptest.NewRequest.
type unknownLength struct{ io.Reader }

func TestParseRequestTooLarge(t *testing.T) {
	big := "a=" + strings.Repeat("x", 200)
	mpType, mpBody := multipartBody(t, func(w *multipart.Writer) {
		fw, _ := w.CreateFormFile("f", "f.bin")
		fw.Write(bytes.Repeat([]byte("z"), 500))
	})
	tests := []struct {
		name  string
		ctype string
		body  io.Reader
	}{
		{"urlencoded known length", "application/x-www-form-urlencoded", strings.NewReader(big)},
		{"urlencoded unknown length", "application/x-www-form-urlencoded", unknownLength{strings.NewReader(big)}},
		{"multipart known length", mpType, bytes.NewReader(mpBody)},
		{"multipart unknown length", mpType, unknownLength{bytes.NewReader(mpBody)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/x", tt.body)
			r.Header.Set("Content-Type", tt.ctype)
			_, err := ParseRequest(r, 100)
			if !errors.Is(err, ErrBodyTooLarge) {
				t.Fatalf("err = %v, want ErrBodyTooLarge", err)
			}
		})
	}

	// Exactly at the limit is fine.
	body := "a=" + strings.Repeat("x", 98)
	r := httptest.NewRequest("POST", "/x", unknownLength{strings.NewReader(body)})
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	a, err := ParseRequest(r, 100)
	if err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if v, _ := a.Get("a"); len(v) != 98 {
		t.Errorf("len = %d", len(v))
	}
	// One past the limit is not.
	r = httptest.NewRequest("POST", "/x", unknownLength{strings.NewReader(body + "x")})
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := ParseRequest(r, 100); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("one past the limit: %v", err)
	}
}

func TestParseRequestMalformed(t *testing.T) {
	tests := []struct {
		name, url, ctype, body string
	}{
		{"bad query escape", "/x?a=%zz", "", ""},
		{"bad query key escape", "/x?%G0=1", "", ""},
		{"semicolon in query", "/x?a=1;b=2", "", ""},
		{"bad body escape", "/x", "application/x-www-form-urlencoded", "a=%"},
		{"bad content type", "/x", "multipart/form-data; boundary", "x"},
		{"multipart without boundary", "/x", "multipart/form-data", "--x\r\n"},
		{"multipart garbage", "/x", "multipart/form-data; boundary=XYZ", "this is not multipart at all"},
		{"multipart truncated", "/x", "multipart/form-data; boundary=XYZ", "--XYZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue-without-end"},
		{"multipart bad header", "/x", "multipart/form-data; boundary=XYZ", "--XYZ\r\nno colon header line\r\n\r\nv\r\n--XYZ--\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.URL.RawQuery = strings.TrimPrefix(tt.url, "/x?")
			if !strings.Contains(tt.url, "?") {
				r.URL.RawQuery = ""
			}
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			a, err := ParseRequest(r, 1<<16)
			if err == nil {
				t.Fatalf("no error; args %q", argsMap(a))
			}
			if errors.Is(err, ErrBodyTooLarge) {
				t.Errorf("malformed input reported as too large: %v", err)
			}
			if err.Error() == "" {
				t.Error("empty error text")
			}
		})
	}
}

func TestParseRequestEdge(t *testing.T) {
	a, err := ParseRequest(nil, 0)
	if err != nil || len(a.Keys()) != 0 {
		t.Errorf("nil request: %v %v", a, err)
	}
	r := &http.Request{Method: "GET", Header: http.Header{}}
	if a, err := ParseRequest(r, 0); err != nil || len(a.Keys()) != 0 {
		t.Errorf("request without URL: %v %v", a, err)
	}
	// maxBody <= 0 means the default (1 MiB).
	r = httptest.NewRequest("POST", "/x", strings.NewReader("a="+strings.Repeat("x", 1000)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := ParseRequest(r, 0); err != nil {
		t.Errorf("default limit: %v", err)
	}
	r = httptest.NewRequest("POST", "/x", unknownLength{strings.NewReader("a=" + strings.Repeat("x", 1<<20))})
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := ParseRequest(r, -1); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("default limit exceeded: %v", err)
	}
}

func TestParseCLI(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want map[string][]string
	}{
		{"none", nil, map[string][]string{}},
		{"plain", []string{"login=bob", "domain=example.com"}, map[string][]string{"login": {"bob"}, "domain": {"example.com"}}},
		{"percent decoding", []string{"return_url=https%3A%2F%2Fx.test%2F%3Fa%3D1", "name=a%20b"}, map[string][]string{"return_url": {"https://x.test/?a=1"}, "name": {"a b"}}},
		{"plus is literal", []string{"password=a+b"}, map[string][]string{"password": {"a+b"}}},
		{"encoded plus", []string{"password=a%2Bb"}, map[string][]string{"password": {"a+b"}}},
		{"equals in value", []string{"q=a=b=c"}, map[string][]string{"q": {"a=b=c"}}},
		{"empty value", []string{"locale="}, map[string][]string{"locale": {""}}},
		{"encoded key", []string{"my%20key=v"}, map[string][]string{"my key": {"v"}}},
		{"UTF-8", []string{"x=%E2%80%9C", "y=é"}, map[string][]string{"x": {"“"}, "y": {"é"}}},
		{"repeated", []string{"a=1", "b=2", "a=3"}, map[string][]string{"a": {"1", "3"}, "b": {"2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseCLI(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if got := argsMap(a); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	for _, bad := range [][]string{{"novalue"}, {"a=1", "flag"}, {"=v"}, {"a=%zz"}, {"%zz=1"}, {"a=100%"}} {
		if _, err := ParseCLI(bad); err == nil {
			t.Errorf("ParseCLI(%q): no error", bad)
		}
	}
}
