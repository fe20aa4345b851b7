package uapi

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
)

// XML output. cPanel documents its XML output only loosely (and warns that
// it is not standards-compliant); uapid emits well-formed XML 1.0 for any
// input, in the same spirit as cPanel's WHM API 1 XML examples:
//
//	<?xml version="1.0" ?>
//	<result>
//	  <apiversion>3</apiversion>
//	  <func>list_pops</func>
//	  <module>Email</module>
//	  <result>
//	    <data>
//	      <email>user@example.com</email>
//	    </data>
//	    <errors/>
//	    <metadata/>
//	    <status>1</status>
//	  </result>
//	</result>
//
//   - The root element <result> holds the top-level mapping's keys as child
//     elements, sorted (a top-level list or scalar goes inside it as
//     <item> elements or text).
//   - A list is its key's element repeated once per item (an empty list
//     gives no element); an item that is itself a list is one element of the
//     key holding its items as <item> elements.
//   - null, an empty string and an empty mapping are an empty element;
//     booleans are 1 and 0, as cPanel writes them.
//   - Text is escaped; characters XML 1.0 does not allow become U+FFFD.
//   - A key that is not a valid XML name is sanitised: characters other than
//     ASCII letters, digits, '_', '-' and '.' become '_', and a name not
//     starting with a letter or '_' gets a leading '_'.

func writeXMLDocument(b *bytes.Buffer, g any) {
	b.WriteString("<?xml version=\"1.0\" ?>\n")
	switch t := g.(type) {
	case map[string]any:
		writeXMLMapElement(b, "result", t, 0)
	case []any:
		if len(t) == 0 {
			b.WriteString("<result/>\n")
			return
		}
		b.WriteString("<result>\n")
		for _, e := range t {
			writeXMLValue(b, "item", e, 2)
		}
		b.WriteString("</result>\n")
	default:
		writeXMLValue(b, "result", g, 0)
	}
}

// writeXMLValue writes g as element(s) named name (already sanitised).
func writeXMLValue(b *bytes.Buffer, name string, g any, indent int) {
	switch t := g.(type) {
	case map[string]any:
		writeXMLMapElement(b, name, t, indent)
	case []any:
		for _, e := range t {
			if inner, ok := e.([]any); ok && len(inner) > 0 {
				writeIndent(b, indent)
				b.WriteString("<" + name + ">\n")
				for _, ie := range inner {
					writeXMLValue(b, "item", ie, indent+2)
				}
				writeIndent(b, indent)
				b.WriteString("</" + name + ">\n")
				continue
			}
			if inner, ok := e.([]any); ok && len(inner) == 0 {
				writeIndent(b, indent)
				b.WriteString("<" + name + "/>\n")
				continue
			}
			writeXMLValue(b, name, e, indent)
		}
	default:
		text := xmlScalarText(g)
		writeIndent(b, indent)
		if text == "" {
			b.WriteString("<" + name + "/>\n")
			return
		}
		b.WriteString("<" + name + ">")
		xml.EscapeText(b, []byte(text)) // writes to a bytes.Buffer: no error
		b.WriteString("</" + name + ">\n")
	}
}

func writeXMLMapElement(b *bytes.Buffer, name string, m map[string]any, indent int) {
	writeIndent(b, indent)
	if len(m) == 0 {
		b.WriteString("<" + name + "/>\n")
		return
	}
	b.WriteString("<" + name + ">\n")
	for _, k := range sortedKeys(m) {
		writeXMLValue(b, xmlName(k), m[k], indent+2)
	}
	writeIndent(b, indent)
	b.WriteString("</" + name + ">\n")
}

func xmlScalarText(g any) string {
	switch t := g.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		if t {
			return "1"
		}
		return "0"
	default:
		return ""
	}
}

// xmlName turns a mapping key into a valid XML element name.
func xmlName(k string) string {
	ok := k != ""
	for i := 0; ok && i < len(k); i++ {
		ok = xmlNameByte(k[i], i == 0)
	}
	if ok {
		return k
	}
	out := make([]byte, 0, len(k)+1)
	if k == "" || !xmlNameByte(k[0], true) {
		out = append(out, '_')
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 0x80 {
			// Replace a whole UTF-8 sequence by one '_'.
			if c >= 0xC0 || i == 0 {
				out = append(out, '_')
			}
			continue
		}
		if xmlNameByte(c, false) {
			out = append(out, c)
		} else {
			out = append(out, '_')
		}
	}
	return string(out)
}

func xmlNameByte(c byte, first bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		return true
	case first:
		return false
	case '0' <= c && c <= '9', c == '-', c == '.':
		return true
	}
	return false
}
