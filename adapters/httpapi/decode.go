package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// readBody reads the whole request body, refusing one longer than limit with payload_too_large.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errorf(CodePayloadTooLarge, "the body is larger than %d bytes", limit)
	}
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if n := r.ContentLength; n > 0 && n <= 64<<10 {
		// A small body of announced length, within the limit (checked above): read exactly
		// that, so no limiting reader is needed (net/http stops the body there anyway).
		b := make([]byte, n)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, errorf(CodeBadRequest, "the body is shorter than its Content-Length")
		}
		return b, nil
	}
	if tw, ok := w.(*trackingWriter); ok {
		// MaxBytesReader tells the server to close the connection after an oversized body
		// through an unexported method of the server's own writer: give it that one.
		w = tw.ResponseWriter
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	b, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(CodePayloadTooLarge, "the body is larger than %d bytes", limit)
		}
		return nil, errorf(CodeBadRequest, "the body could not be read")
	}
	return b, nil
}

// decodeBody decodes a JSON object body into v strictly: exactly the field names of fields
// (case-sensitive), no unknown fields, no duplicate fields, no trailing data, the right types.
// An empty body leaves v untouched when optional, else it is refused.
func decodeBody(body []byte, v any, optional bool, fields ...string) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return errorf(CodeBadRequest, "a JSON body is required")
	}
	if !utf8.Valid(body) {
		return errorf(CodeBadRequest, "the body is not valid UTF-8")
	}
	// Unmarshal checks the syntax (trailing data included) and the types; checkKeys then checks
	// the names, which Unmarshal matches case-insensitively and lets repeat.
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(err)
	}
	return checkKeys(body, fields)
}

// checkKeys checks that body, valid JSON, is one object whose keys are among fields, each at
// most once.
func checkKeys(body []byte, fields []string) error {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return errorf(CodeBadRequest, "the body must be a JSON object")
	}
	var seen uint64 // bit i: fields[i] was seen (bodies have far fewer than 64 fields)
	for i++; ; {
		i = skipSpace(body, i)
		if i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
		}
		if i >= len(body) || body[i] != '"' {
			return nil // the closing brace: Unmarshal checked the rest
		}
		end := skipString(body, i)
		raw := body[i:end]
		// A key without escapes is matched without converting it to a string.
		var f int
		var key string
		escaped := bytes.IndexByte(raw, '\\') >= 0
		if escaped {
			var k string
			if err := json.Unmarshal(raw, &k); err != nil {
				return jsonError(err)
			}
			key, f = k, slices.Index(fields, k)
		} else {
			f = fieldIndex(fields, raw[1:len(raw)-1])
		}
		if f < 0 || seen&(1<<f) != 0 {
			if !escaped {
				key = string(raw[1 : len(raw)-1])
			}
			if f < 0 {
				return errorf(CodeBadRequest, "unknown field %s", quoteField(key))
			}
			return errorf(CodeBadRequest, "field %s appears more than once", quoteField(key))
		}
		seen |= 1 << f
		i = skipSpace(body, end)
		if i < len(body) && body[i] == ':' {
			i++
		}
		i = skipValue(body, skipSpace(body, i))
	}
}

// fieldIndex is the index of name among fields, -1 when absent (without converting name).
func fieldIndex(fields []string, name []byte) int {
	for i, f := range fields {
		if f == string(name) {
			return i
		}
	}
	return -1
}

// plainStrings is decodeBody's fast path for the usual body: one JSON object whose keys are
// among fields, each at most once, exactly spelled and without escapes, and whose values are
// strings of printable ASCII without escapes. It stores the value of fields[i] in *dst[i] and
// reports true. Anything else reports false and leaves dst untouched; decodeBody then decides,
// and for what plainStrings accepts it would have stored the same values.
func plainStrings(body []byte, fields []string, dst []*string) bool {
	var vals [8]string
	if len(fields) > len(vals) {
		return false
	}
	var seen uint64
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return skipSpace(body, i+1) == len(body)
	}
	for {
		key, next, ok := plainString(body, i)
		if !ok {
			return false
		}
		f := fieldIndex(fields, key)
		if f < 0 || seen&(1<<f) != 0 {
			return false
		}
		seen |= 1 << f
		i = skipSpace(body, next)
		if i >= len(body) || body[i] != ':' {
			return false
		}
		val, next, ok := plainString(body, skipSpace(body, i+1))
		if !ok {
			return false
		}
		vals[f] = string(val)
		i = skipSpace(body, next)
		if i >= len(body) {
			return false
		}
		if body[i] == '}' {
			break
		}
		if body[i] != ',' {
			return false
		}
		i = skipSpace(body, i+1)
	}
	if skipSpace(body, i+1) != len(body) {
		return false
	}
	for f := range fields {
		if seen&(1<<f) != 0 {
			*dst[f] = vals[f]
		}
	}
	return true
}

// plainString returns the content of the JSON string at b[i] and the index after it, when it
// is printable ASCII without escapes.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, 0, false
		}
	}
	return nil, 0, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the JSON string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the JSON value starting at b[i] (valid JSON).
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i = skipString(b, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return i
}

// quoteField quotes a client-supplied field name for a detail, shortened.
func quoteField(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "…"
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return strconv.Quote(s)
}

// jsonError describes a decoding error by position or field, never by value.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se) && strings.Contains(se.Error(), "after top-level value"):
		return errorf(CodeBadRequest, "unexpected data after the JSON object")
	case errors.As(err, &se):
		return errorf(CodeBadRequest, "malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field == "" {
			return errorf(CodeBadRequest, "the body must be a JSON object")
		}
		return errorf(CodeBadRequest, "field %s must be %s", quoteField(te.Field), kindOf(te.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errorf(CodeBadRequest, "malformed JSON: unexpected end of the body")
	}
	return errorf(CodeBadRequest, "malformed JSON")
}

func kindOf(k string) string {
	switch k {
	case "string":
		return "a string"
	case "int", "int64", "int32":
		return "an integer"
	case "slice":
		return "an array"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}

// checkText bounds a free-text field (a production type, a reason).
func checkText(name, s string, max int) error {
	if len(s) > max {
		return errorf(CodeBadRequest, "%s is longer than %d bytes", name, max)
	}
	if !utf8.ValidString(s) {
		return errorf(CodeBadRequest, "%s is not valid UTF-8", name)
	}
	return nil
}
