package detector

import "bytes"

// The prefilter proves, from raw bytes alone, that a message holds no record
// whose AuthenticationProtocol can equal "ropc" under ASCII case folding, so
// that about 98% of the input is never parsed. It must stay exact: it may
// pass a message that turns out not to match, never reject one that would.
//
// A decoded JSON string equals "ropc" (any ASCII case) only if its raw text
// is four letters [rR][oO][pP][cC], or if it escapes a letter as \u00XX: the
// other JSON escapes decode to '"', '\\', '/' or control characters. Key names
// are matched exactly by the decoder ("authenticationProtocol" inside
// "properties", or "AuthenticationProtocol"), so an unescaped key always
// ends in the bytes `Protocol"`; an escaped one escapes a letter too. Escapes
// of other characters (\u2013, or the text `\\u0026` where the backslash
// itself is escaped, as real Entra policy names have) cannot spell either.
var (
	protocolKey = []byte(`Protocol"`)
	unicodeEsc  = []byte(`\u`)
)

// mayMatch reports whether msg may hold a record with AuthenticationProtocol
// =~ "ropc". It reads msg without allocating.
func mayMatch(msg []byte) bool {
	if escapesLetter(msg) {
		return true
	}
	for rest := msg; ; {
		i := bytes.Index(rest, protocolKey)
		if i < 0 {
			return false
		}
		rest = rest[i+len(protocolKey):]
		if ropcValue(rest) {
			return true
		}
	}
}

// ropcValue reports whether b starts with `: "ropc"` (JSON whitespace allowed
// around the colon, ropc in any ASCII case).
func ropcValue(b []byte) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != ':' {
		return false
	}
	i = skipSpace(b, i+1)
	if len(b)-i < 6 || b[i] != '"' || b[i+5] != '"' {
		return false
	}
	// OR 0x20 lower-cases ASCII letters; only 'R'/'r' become 'r', and so on,
	// so the comparison is exact for these four letters.
	v := b[i+1 : i+5]
	return v[0]|0x20 == 'r' && v[1]|0x20 == 'o' && v[2]|0x20 == 'p' && v[3]|0x20 == 'c'
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// escapesLetter reports whether msg holds a JSON escape \u0041-\u007F (a
// superset of the ASCII letters). A backslash preceded by an odd number of
// backslashes is itself escaped and starts nothing.
func escapesLetter(msg []byte) bool {
	for off := 0; ; {
		i := bytes.Index(msg[off:], unicodeEsc)
		if i < 0 {
			return false
		}
		i += off
		off = i + len(unicodeEsc)
		run := 1
		for j := i - 1; j >= 0 && msg[j] == '\\'; j-- {
			run++
		}
		if run%2 == 0 || len(msg)-off < 4 {
			continue
		}
		h := msg[off:]
		if h[0] == '0' && h[1] == '0' && '4' <= h[2] && h[2] <= '7' {
			return true
		}
	}
}
