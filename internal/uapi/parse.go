package uapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// ErrBodyTooLarge is wrapped by the error ParseRequest returns for a body
// larger than its limit.
var ErrBodyTooLarge = errors.New("uapi: request body too large")

// defaultMaxBody applies when ParseRequest is given a limit <= 0.
const defaultMaxBody = 1 << 20

// ParseRequest collects the arguments of an HTTP request: the query string,
// plus the body when it is application/x-www-form-urlencoded or
// multipart/form-data. Other bodies are ignored. Values of a repeated key form
// a list, query values first, then body values in body order.
//
// A multipart file part contributes its content as the value of its form
// name. At most maxBody bytes of body are read in total (maxBody <= 0 means
// 1 MiB); a larger body gives an error wrapping ErrBodyTooLarge. A malformed
// query, Content-Type or body gives a descriptive error.
func ParseRequest(r *http.Request, maxBody int64) (*Args, error) {
	return parseRequest(r, maxBody, false)
}

// ParseRequestJSON is ParseRequest that also takes the members of an
// application/json object body as arguments (see addJSON): WHM API
// clients such as Laravel's HTTP client POST JSON.
func ParseRequestJSON(r *http.Request, maxBody int64) (*Args, error) {
	return parseRequest(r, maxBody, true)
}

func parseRequest(r *http.Request, maxBody int64, withJSON bool) (*Args, error) {
	if maxBody <= 0 {
		maxBody = defaultMaxBody
	}
	a := NewArgs()
	if r == nil {
		return a, nil
	}
	if r.URL != nil && r.URL.RawQuery != "" {
		if err := addQuery(a, r.URL.RawQuery); err != nil {
			return nil, fmt.Errorf("malformed query string: %w", err)
		}
	}
	if r.Body == nil || r.Body == http.NoBody {
		return a, nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return a, nil
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, fmt.Errorf("malformed Content-Type %q: %w", ct, err)
	}
	switch mediaType {
	case "application/x-www-form-urlencoded":
		if r.ContentLength > maxBody {
			return nil, fmt.Errorf("form body of %d bytes exceeds the limit of %d bytes: %w", r.ContentLength, maxBody, ErrBodyTooLarge)
		}
		lr := &limitReader{r: r.Body, left: maxBody}
		body, err := io.ReadAll(lr)
		if err != nil {
			if lr.exceeded {
				return nil, fmt.Errorf("form body exceeds the limit of %d bytes: %w", maxBody, ErrBodyTooLarge)
			}
			return nil, fmt.Errorf("reading form body: %w", err)
		}
		if err := addQuery(a, string(body)); err != nil {
			return nil, fmt.Errorf("malformed form body: %w", err)
		}
	case "application/json":
		if !withJSON {
			break
		}
		if r.ContentLength > maxBody {
			return nil, fmt.Errorf("JSON body of %d bytes exceeds the limit of %d bytes: %w", r.ContentLength, maxBody, ErrBodyTooLarge)
		}
		lr := &limitReader{r: r.Body, left: maxBody}
		body, err := io.ReadAll(lr)
		if err != nil {
			if lr.exceeded {
				return nil, fmt.Errorf("JSON body exceeds the limit of %d bytes: %w", maxBody, ErrBodyTooLarge)
			}
			return nil, fmt.Errorf("reading JSON body: %w", err)
		}
		if err := addJSON(a, body); err != nil {
			return nil, err
		}
	case "multipart/form-data":
		if r.ContentLength > maxBody {
			return nil, fmt.Errorf("multipart body of %d bytes exceeds the limit of %d bytes: %w", r.ContentLength, maxBody, ErrBodyTooLarge)
		}
		boundary := params["boundary"]
		if boundary == "" {
			return nil, errors.New("malformed multipart body: no boundary in Content-Type")
		}
		lr := &limitReader{r: r.Body, left: maxBody}
		if err := addMultipart(a, multipart.NewReader(lr, boundary), lr); err != nil {
			if lr.exceeded {
				return nil, fmt.Errorf("multipart body exceeds the limit of %d bytes: %w", maxBody, ErrBodyTooLarge)
			}
			return nil, err
		}
	}
	return a, nil
}

// addJSON adds the members of a JSON object body (as Laravel's and
// similar HTTP clients send a POST) in the order they appear: strings as
// they are, numbers in their text form, true and false as 1 and 0, an
// array as a repeated key; null members are left out. Nested objects are
// refused.
func addJSON(a *Args, body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("malformed JSON body: it must be an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("malformed JSON body: %w", err)
		}
		key, _ := t.(string)
		var raw any
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("malformed JSON body: %w", err)
		}
		values := []any{raw}
		if list, ok := raw.([]any); ok {
			values = list
		}
		for _, v := range values {
			switch v := v.(type) {
			case nil:
			case string:
				a.Add(key, v)
			case json.Number:
				a.Add(key, v.String())
			case bool:
				if v {
					a.Add(key, "1")
				} else {
					a.Add(key, "0")
				}
			default:
				return fmt.Errorf("malformed JSON body: the value of %q is not a string, number, boolean or list of them", truncate(key))
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("malformed JSON body: %w", err)
	}
	return nil
}

// addQuery adds the pairs of an application/x-www-form-urlencoded string in
// order ('+' is a space here, as in HTML forms).
func addQuery(a *Args, s string) error {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			return fmt.Errorf("invalid semicolon separator in %q", truncate(pair))
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return fmt.Errorf("bad escape in key %q: %w", truncate(k), err)
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return fmt.Errorf("bad escape in value of %q: %w", truncate(key), err)
		}
		a.Add(key, val)
	}
	return nil
}

func addMultipart(a *Args, mr *multipart.Reader, lr *limitReader) error {
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("malformed multipart body: %w", err)
		}
		name := p.FormName()
		// Every part is read (the limit bounds the whole body), even one
		// without a name, which contributes nothing.
		data, err := io.ReadAll(p)
		p.Close()
		if err != nil {
			return fmt.Errorf("malformed multipart body: part %q: %w", truncate(name), err)
		}
		if name == "" {
			continue
		}
		a.Add(name, string(data))
	}
}

// limitReader reads at most left bytes; reading more fails with
// ErrBodyTooLarge and records that it happened (other layers may wrap or
// replace the error).
type limitReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.exceeded {
		return 0, ErrBodyTooLarge
	}
	if l.left <= 0 {
		// Probe for one more byte: only a body that really has more fails.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.exceeded = true
			return 0, ErrBodyTooLarge
		}
		if err == nil {
			return 0, nil
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// ParseCLI parses command-line arguments of the form key=value, as cPanel's
// uapi and whmapi1 take them: the text before the first '=' is the key, the
// rest the value, and both are URI-decoded (%XX). A '+' stays a plus sign:
// cPanel documents the arguments as URI-escaped strings, where a space is
// %20. A repeated key becomes a list. An argument without '=', with an empty
// key or with a malformed %-escape is an error.
func ParseCLI(args []string) (*Args, error) {
	a := NewArgs()
	for _, arg := range args {
		k, v, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, fmt.Errorf("invalid argument %q: expected key=value", truncate(arg))
		}
		key, err := url.PathUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("invalid argument key %q: %w", truncate(k), err)
		}
		if key == "" {
			return nil, fmt.Errorf("invalid argument %q: empty key", truncate(arg))
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("invalid value for argument %q: %w", truncate(key), err)
		}
		a.Add(key, val)
	}
	return a, nil
}
