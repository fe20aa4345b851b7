package uapi

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"
)

// YAML output, laid out as cPanel's uapi and whmapi1 commands print it.
//
// cPanel serialises with Perl's YAML::Syck (keys sorted). What was matched,
// from YAML::Syck's own dump tests, from running YAML::Syck 1.34, and from
// scripts that parse cPanel's uapi output line by line (two-space levels,
// "- " items one level below their key):
//
//   - The document starts with "--- " (three dashes and a space) and a
//     newline when the top level is a non-empty mapping or sequence;
//     otherwise the scalar (or {} / []) follows on the same line.
//   - A mapping entry is "key: value". A non-empty nested mapping or
//     sequence is "key: " (with the trailing space) and a newline, its
//     children indented two more spaces than the key.
//   - Sequence items are "- item", indented two spaces below their key
//     (not at the key's column). An item that is itself a non-empty mapping
//     or sequence is "- " (trailing space) and a newline, its children
//     indented two more spaces than the dash.
//   - An empty mapping is "{}" and an empty sequence "[]", each followed by
//     an extra empty line, as YAML::Syck emits them (so "metadata: {}" is
//     followed by a blank line).
//   - null is "~"; numbers are plain, exactly as in the JSON; booleans are
//     true and false.
//   - A string is plain unless that would be misread. The empty string and
//     strings a YAML loader would take for null, a boolean, a number or a
//     date (~, null, yes, no, on, off, y, n, true, false in their usual
//     cases, 042, 1.5, 1e5, .inf, 2024-01-31, …) are single-quoted, as
//     YAML::Syck quotes 'no' or '042'; as mapping keys they are
//     double-quoted, as YAML::Syck does ("n": ~).
//   - Strings with leading or trailing spaces, containing ": " or " #",
//     ending in ':', starting with an indicator character (, [ ] { } # & * !
//     | > ' " % @ ` ? :, or "-" alone or followed by a space) or holding
//     control characters or line breaks are double-quoted with backslash
//     escapes (\n, \t, \xNN, …).
//   - Non-ASCII text such as “ ” is written as UTF-8 as is, also inside
//     double quotes (YAML::Syck with Unicode strings does the same).
//
// Deliberate differences from YAML::Syck, which only has Perl's untyped
// scalars to go by: strings that look like plain integers ("123", "0") are
// quoted here so that they load back as strings, and numbers are never
// quoted (YAML::Syck quotes Perl floats such as '1.5'). YAML::Syck also drops
// or corrupts some characters (a lone \r, U+0085); here every string round
// trips through YAML 1.1 and 1.2 loaders. The rare characters escaped as
// \N, \L, \P or \uXXXX (U+0085, U+2028, U+2029, the BOM, C1 controls) use
// standard YAML escapes that YAML::Syck's own loader does not read.

func writeYAMLDocument(b *bytes.Buffer, g any) {
	b.WriteString("---")
	writeYAMLNode(b, g, 0)
}

// writeYAMLNode writes g after a "---", "key:" or "-" already on the line;
// indent is the column of nested children.
func writeYAMLNode(b *bytes.Buffer, g any, indent int) {
	switch t := g.(type) {
	case map[string]any:
		if len(t) == 0 {
			b.WriteString(" {}\n\n")
			return
		}
		b.WriteString(" \n")
		var key bytes.Buffer
		for _, k := range sortedKeys(t) {
			key.Reset()
			writeYAMLString(&key, k, true)
			writeIndent(b, indent)
			if key.Len() > maxImplicitKey {
				// YAML allows at most 1024 characters in an implicit
				// ("key: value") key; longer ones use the explicit form.
				b.WriteString("? ")
				b.Write(key.Bytes())
				b.WriteByte('\n')
				writeIndent(b, indent)
			} else {
				b.Write(key.Bytes())
			}
			b.WriteByte(':')
			writeYAMLNode(b, t[k], indent+2)
		}
	case []any:
		if len(t) == 0 {
			b.WriteString(" []\n\n")
			return
		}
		b.WriteString(" \n")
		for _, e := range t {
			writeIndent(b, indent)
			b.WriteByte('-')
			writeYAMLNode(b, e, indent+2)
		}
	case string:
		b.WriteByte(' ')
		writeYAMLString(b, t, false)
		b.WriteByte('\n')
	case json.Number:
		b.WriteByte(' ')
		b.WriteString(t.String())
		b.WriteByte('\n')
	case bool:
		if t {
			b.WriteString(" true\n")
		} else {
			b.WriteString(" false\n")
		}
	default: // nil
		b.WriteString(" ~\n")
	}
}

// maxImplicitKey is the longest key YAML allows in the implicit form.
const maxImplicitKey = 1024

type yamlStyle int

const (
	yamlPlain yamlStyle = iota
	yamlSingle
	yamlDouble
)

func writeYAMLString(b *bytes.Buffer, s string, key bool) {
	switch style := yamlStyleOf(s); {
	case style == yamlPlain:
		b.WriteString(s)
	case style == yamlSingle && !key:
		// Only used for strings without quotes or special characters.
		b.WriteByte('\'')
		b.WriteString(s)
		b.WriteByte('\'')
	default:
		writeYAMLDoubleQuoted(b, s)
	}
}

func yamlStyleOf(s string) yamlStyle {
	if s == "" {
		return yamlSingle
	}
	if yamlNeedsDouble(s) {
		return yamlDouble
	}
	if yamlResolvesNonString(s) {
		return yamlSingle
	}
	return yamlPlain
}

// yamlNeedsDouble reports whether s cannot be written plain (nor simply
// single-quoted) and needs double quotes with escapes.
func yamlNeedsDouble(s string) bool {
	first, last := s[0], s[len(s)-1]
	if first == ' ' || last == ' ' || last == ':' {
		return true
	}
	switch first {
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', '?', ':':
		return true
	case '-':
		if len(s) == 1 || s[1] == ' ' {
			return true
		}
	}
	if strings.Contains(s, ": ") || strings.Contains(s, " #") {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7F {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !yamlPrintable(r, size) {
			return true
		}
		i += size
	}
	return false
}

// yamlPrintable reports whether a non-ASCII rune may appear unescaped: YAML's
// printable set, less the characters YAML 1.1 treats as line breaks (U+0085,
// U+2028, U+2029) and the byte order mark.
func yamlPrintable(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1:
		return false
	case r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xFEFF:
		return false
	case r < 0xA0:
		return false
	case r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// yamlSpecialWords are plain scalars that YAML 1.1 (YAML::Syck, PyYAML) or
// 1.2 loaders resolve to null, booleans or merge/value keys.
var yamlSpecialWords = map[string]bool{
	"~": true, "null": true, "Null": true, "NULL": true,
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"n": true, "N": true, "no": true, "No": true, "NO": true,
	"true": true, "True": true, "TRUE": true,
	"false": true, "False": true, "FALSE": true,
	"on": true, "On": true, "ON": true,
	"off": true, "Off": true, "OFF": true,
	"<<": true, "=": true,
}

// yamlNumberLike matches what YAML 1.1 or 1.2 loaders resolve as an integer,
// a float or a timestamp (a generous union, so such strings get quoted).
var yamlNumberLike = regexp.MustCompile(`^(?:` +
	`[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?` +
	`|[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?` +
	`|[-+]?0[xX][0-9a-fA-F_]+` +
	`|[-+]?0[bB][01_]+` +
	`|[-+]?0[oO][0-7_]+` +
	`|[-+]?\.(?:inf|Inf|INF)` +
	`|\.(?:nan|NaN|NAN)` +
	`|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?` +
	`)$`)

func yamlResolvesNonString(s string) bool {
	if yamlSpecialWords[s] {
		return true
	}
	c := s[0]
	if '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.' {
		// Loaders drop every underscore of such a scalar before parsing
		// it as a number ("+_00" is 0), wherever it stands.
		if yamlNumberLike.MatchString(s) || strings.Contains(s, "_") && yamlNumberLike.MatchString(strings.ReplaceAll(s, "_", "")) {
			return true
		}
	}
	// Perl's looks_like_number words, which YAML::Syck quotes too.
	w := strings.TrimLeft(s, "+-")
	return len(s)-len(w) <= 1 && (strings.EqualFold(w, "inf") || strings.EqualFold(w, "infinity") || strings.EqualFold(w, "nan"))
}

func writeYAMLDoubleQuoted(b *bytes.Buffer, s string) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				b.WriteString(`\"`)
			case c == '\\':
				b.WriteString(`\\`)
			case c >= 0x20 && c != 0x7F:
				b.WriteByte(c)
			case c == 0:
				b.WriteString(`\0`)
			case c == 0x07:
				b.WriteString(`\a`)
			case c == 0x08:
				b.WriteString(`\b`)
			case c == '\t':
				b.WriteString(`\t`)
			case c == '\n':
				b.WriteString(`\n`)
			case c == 0x0B:
				b.WriteString(`\v`)
			case c == 0x0C:
				b.WriteString(`\f`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == 0x1B:
				b.WriteString(`\e`)
			default:
				b.WriteString(`\x`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xF])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case yamlPrintable(r, size):
			b.WriteString(s[i : i+size])
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\uFFFD`)
		case r == 0x85:
			b.WriteString(`\N`)
		case r == 0x2028:
			b.WriteString(`\L`)
		case r == 0x2029:
			b.WriteString(`\P`)
		case r <= 0xFFFF:
			b.WriteString(`\u`)
			for shift := 12; shift >= 0; shift -= 4 {
				b.WriteByte(hex[(r>>shift)&0xF])
			}
		default:
			b.WriteString(`\U`)
			for shift := 28; shift >= 0; shift -= 4 {
				b.WriteByte(hex[(r>>shift)&0xF])
			}
		}
		i += size
	}
	b.WriteByte('"')
}
