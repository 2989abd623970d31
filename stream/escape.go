package stream

import (
	"io"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// unsafeRune reports a character that must never reach a consumer raw
// (SPEC section 6): controls (C0, DEL and C1, U+0085 included), format
// characters (bidirectional controls such as U+202E, zero-width characters
// such as U+200B and U+FEFF, the soft hyphen, tags) and the line and
// paragraph separators U+2028 and U+2029. Each can break a line-based
// reader, a terminal or a reviewer's view of the text.
func unsafeRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	return r <= 0x9f || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r)
}

// AppendSafeJSON appends the JSON document src to dst with every unsafe
// character (see unsafeRune) written as a \uXXXX escape, a surrogate pair
// beyond the Basic Multilingual Plane. Outside strings JSON holds only
// ASCII, so this rewrites characters inside strings only, and the decoded
// values are unchanged. encoding/json already escapes C0 controls, U+2028
// and U+2029; it leaves the others raw. src without a byte of 0x7f or above
// is appended as is.
func AppendSafeJSON(dst, src []byte) []byte {
	return appendSafe(dst, src, false)
}

// appendSafe escapes the unsafe characters of src; ASCII controls only
// with ascii, since JSON whitespace between tokens must stay as it is.
func appendSafe(dst, src []byte, ascii bool) []byte {
	start := 0
	for i := 0; i < len(src); {
		b := src[i]
		if b < 0x7f && (!ascii || b >= 0x20) {
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size == 1 || !unsafeRune(r) {
			i += size // invalid UTF-8 is left for the JSON encoder's caller to refuse
			continue
		}
		dst = append(dst, src[start:i]...)
		dst = appendEscape(dst, r)
		i += size
		start = i
	}
	return append(dst, src[start:]...)
}

// SafeText returns s with every unsafe character written as a \uXXXX
// escape, for text that is not JSON: Kafka header values and log fields.
// A backslash is left alone, so the escaping is for display, not
// reversible; an s without unsafe characters is returned as is.
func SafeText(s string) string {
	for _, r := range s {
		if unsafeRune(r) {
			return string(appendSafe(nil, []byte(s), true))
		}
	}
	return s
}

func appendEscape(dst []byte, r rune) []byte {
	if r > 0xffff {
		hi, lo := utf16.EncodeRune(r)
		return appendEscape(appendEscape(dst, hi), lo)
	}
	dst = append(dst, '\\', 'u')
	h := strconv.FormatInt(int64(r), 16)
	for range 4 - len(h) {
		dst = append(dst, '0')
	}
	return append(dst, h...)
}

// SafeJSONWriter returns a writer that makes each Write safe with
// AppendSafeJSON before passing it to w. Each Write must hold whole JSON
// documents, as slog's JSON handler writes one record per call.
func SafeJSONWriter(w io.Writer) io.Writer { return safeJSONWriter{w} }

type safeJSONWriter struct{ w io.Writer }

func (s safeJSONWriter) Write(p []byte) (int, error) {
	if _, err := s.w.Write(AppendSafeJSON(nil, p)); err != nil {
		return 0, err
	}
	return len(p), nil
}
