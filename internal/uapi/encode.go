package uapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Formats returns the output formats Encode accepts, in the order cPanel's
// uapi --help lists them.
func Formats() []string {
	return []string{"json", "jsonpretty", "xml", "yaml"}
}

// Encode renders v (usually a Wrapped or a Result, or any JSON-marshalable
// value) in one of the formats:
//
//   - "json": compact JSON, keys in v's own order (a Result keeps cPanel's
//     data, errors, messages, warnings, metadata, status), no HTML escaping.
//   - "jsonpretty": JSON laid out as cPanel's uapi --output=jsonpretty (Perl's
//     JSON pretty mode): keys sorted, 3-space indentation, "key" : value,
//     empty containers as {} and [].
//   - "yaml": cPanel's YAML layout (see yaml.go).
//   - "xml": see xml.go.
//
// For jsonpretty, yaml and xml, v is first marshalled to JSON and decoded
// generically with json.Decoder.UseNumber, so numbers stay numbers exactly as
// written and keys come out sorted. Every format ends with a newline. An
// unknown format is an error.
func Encode(format string, v any) ([]byte, error) {
	switch format {
	case "json":
		var b bytes.Buffer
		b.Grow(256)
		var err error
		switch r := v.(type) {
		case Result:
			err = writeResultJSON(&b, &r)
		case *Result:
			if r == nil {
				b.WriteString("null")
			} else {
				err = writeResultJSON(&b, r)
			}
		default:
			err = writeJSONValue(&b, v)
		}
		if err != nil {
			return nil, err
		}
		b.WriteByte('\n')
		return b.Bytes(), nil
	case "jsonpretty", "yaml", "xml":
		g, err := toGeneric(v)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		switch format {
		case "jsonpretty":
			writePrettyJSON(&b, g, 0)
			b.WriteByte('\n')
		case "yaml":
			writeYAMLDocument(&b, g)
		case "xml":
			writeXMLDocument(&b, g)
		}
		return b.Bytes(), nil
	default:
		return nil, fmt.Errorf("uapi: unknown output format %q (use one of json, jsonpretty, xml, yaml)", format)
	}
}

// writeResultJSON writes r exactly as Result.MarshalJSON does (the bare
// result of every HTTP answer), without the reflection of encoding/json and
// the second pass it makes over a MarshalJSON's output. Values of the
// common simple types are written directly (writeFastJSON); anything else
// goes through encoding/json, so the bytes are the same either way.
func writeResultJSON(b *bytes.Buffer, r *Result) error {
	b.WriteString(`{"data":`)
	if err := writeFastJSON(b, r.Data); err != nil {
		return err
	}
	for _, f := range [...]struct {
		name string
		list []string
	}{{`,"errors":`, r.Errors}, {`,"messages":`, r.Messages}, {`,"warnings":`, r.Warnings}} {
		b.WriteString(f.name)
		if len(f.list) == 0 {
			b.WriteString("null")
			continue
		}
		writeStringList(b, f.list)
	}
	b.WriteString(`,"metadata":`)
	if r.Metadata == nil {
		b.WriteString("{}")
	} else if err := writeFastJSON(b, r.Metadata); err != nil {
		return err
	}
	b.WriteString(`,"status":`)
	b.WriteString(strconv.Itoa(r.Status))
	b.WriteByte('}')
	return nil
}

func writeStringList(b *bytes.Buffer, l []string) {
	b.WriteByte('[')
	for i, s := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(b, s)
	}
	b.WriteByte(']')
}

// writeFastJSON writes v as compact JSON without HTML escaping, the same
// bytes as writeJSONValue: nil, strings, booleans, integers, string lists
// and maps and lists of those directly (map keys sorted, as encoding/json
// sorts them), anything else through writeJSONValue.
func writeFastJSON(b *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		writeJSONString(b, t)
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case int:
		b.WriteString(strconv.Itoa(t))
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case []string:
		if t == nil {
			b.WriteString("null")
			return nil
		}
		writeStringList(b, t)
	case []any:
		if t == nil {
			b.WriteString("null")
			return nil
		}
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeFastJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		if t == nil {
			b.WriteString("null")
			return nil
		}
		var buf [8]string
		keys := buf[:0]
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			if err := writeFastJSON(b, t[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return writeJSONValue(b, v)
	}
	return nil
}

// toGeneric turns v into nil, bool, json.Number, string, []any and
// map[string]any by a JSON round trip.
func toGeneric(v any) (any, error) {
	var b bytes.Buffer
	if err := writeJSONValue(&b, v); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(&b)
	dec.UseNumber()
	var g any
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("uapi: decoding marshalled value: %w", err)
	}
	return g, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func writeIndent(b *bytes.Buffer, n int) {
	for ; n > 0; n-- {
		b.WriteByte(' ')
	}
}

// writePrettyJSON writes g in the layout of Perl's JSON pretty mode, which
// cPanel's jsonpretty output uses:
//
//	{
//	   "key" : [
//	      1,
//	      {}
//	   ]
//	}
func writePrettyJSON(b *bytes.Buffer, g any, indent int) {
	const step = 3
	switch t := g.(type) {
	case map[string]any:
		if len(t) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range sortedKeys(t) {
			if i > 0 {
				b.WriteString(",\n")
			}
			writeIndent(b, indent+step)
			writeJSONString(b, k)
			b.WriteString(" : ")
			writePrettyJSON(b, t[k], indent+step)
		}
		b.WriteByte('\n')
		writeIndent(b, indent)
		b.WriteByte('}')
	case []any:
		if len(t) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range t {
			if i > 0 {
				b.WriteString(",\n")
			}
			writeIndent(b, indent+step)
			writePrettyJSON(b, e, indent+step)
		}
		b.WriteByte('\n')
		writeIndent(b, indent)
		b.WriteByte(']')
	case string:
		writeJSONString(b, t)
	case json.Number:
		b.WriteString(t.String())
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	default: // nil
		b.WriteString("null")
	}
}

// writeJSONString writes s as a JSON string without HTML escaping. Control
// characters, U+2028 and U+2029 are escaped; invalid UTF-8 becomes U+FFFD.
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(s[start:i])
			b.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b.WriteString(s[start:i])
			b.WriteString(`\u202`)
			b.WriteByte(hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}
