package detector

import (
	"unicode"
	"unicode/utf8"
)

// equalFoldASCII reports whether a and b are equal when the ASCII letters A-Z
// are folded to a-z, which is how KQL's =~ and in~ compare strings. Every other
// byte must match exactly: unlike strings.EqualFold it never folds U+212A
// KELVIN SIGN to k, and it neither trims nor normalises.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// lowerEqualFoldASCII reports whether equalFoldASCII(strings.ToLower(s), t)
// holds, without allocating the lower-cased copy of s. It lower-cases rune by
// rune with unicode.ToLower, and turns each invalid UTF-8 byte into U+FFFD, as
// strings.ToLower does.
func lowerEqualFoldASCII(s, t string) bool {
	j := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if j >= len(t) || lowerASCII(c) != lowerASCII(t[j]) {
				return false
			}
			i++
			j++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		var buf [utf8.UTFMax]byte
		m := utf8.EncodeRune(buf[:], unicode.ToLower(r))
		if len(t)-j < m {
			return false
		}
		for k := range m {
			if lowerASCII(buf[k]) != lowerASCII(t[j+k]) {
				return false
			}
		}
		j += m
	}
	return j == len(t)
}

// lowerASCII maps A-Z to a-z and leaves every other byte alone.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}
