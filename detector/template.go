package detector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxTemplateValueRunes caps each value substituted into an alert name or
// description; longer values end in "…".
const maxTemplateValueRunes = 256

// alertName renders the rule's alertDisplayNameFormat from row, or returns
// the rule's name when the format is empty or references an empty value.
func (r *Rule) alertName(row *Row) string {
	if s, ok := renderTemplate(r.DisplayNameFormat, row); ok {
		return s
	}
	return r.Name
}

// alertDescription renders the rule's alertDescriptionFormat from row, or
// returns the rule's description when the format is empty or references an
// empty value.
func (r *Rule) alertDescription(row *Row) string {
	if s, ok := renderTemplate(r.DescriptionFormat, row); ok {
		return s
	}
	return r.Description
}

// renderTemplate replaces each {{Column}} in format (spaces inside the braces
// are ignored) with the row's value, made safe for display by displayValue.
// It reports false when format is empty or a referenced value is empty ("",
// an empty set, a zero time), so the caller falls back as Sentinel does. A
// placeholder naming no column is left as written; the loader rejects such
// rules, so this only keeps rendering total.
func renderTemplate(format string, row *Row) (string, bool) {
	if format == "" {
		return "", false
	}
	var b strings.Builder
	rest := format
	for {
		open := strings.Index(rest, "{{")
		if open < 0 {
			break
		}
		end := strings.Index(rest[open+2:], "}}")
		if end < 0 {
			break
		}
		end += open + 2
		b.WriteString(rest[:open])
		v, ok := row.lookup(strings.TrimSpace(rest[open+2 : end]))
		switch {
		case !ok:
			b.WriteString(rest[open : end+2])
		case isEmptyValue(v):
			return "", false
		default:
			b.WriteString(displayValue(templateText(v)))
		}
		rest = rest[end+2:]
	}
	b.WriteString(rest)
	return b.String(), true
}

// templateText writes a column value as text: numbers in decimal, sets as
// compact JSON (["US","DE"]) and times in the output layout.
func templateText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case time.Time:
		return v.UTC().Format(outputTimeLayout)
	case []string:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		// The alert's own JSON encoding escapes <, > and & later; escaping
		// here as well would show \u003c to people reading the name.
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return fmt.Sprint(v) // unreachable: []string always encodes
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
	return fmt.Sprint(v)
}

// displayValue makes an attacker-controlled value safe to show in an alert
// name or description: invalid UTF-8 becomes U+FFFD, the value is capped at
// maxTemplateValueRunes runes with "…", and control, format, bidi and
// line-separator characters are replaced by their visible escape text, so
// "\u202e" reads as the six characters \u202e instead of reversing the text.
func displayValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) > maxTemplateValueRunes {
		n := 0
		for i := range s {
			if n == maxTemplateValueRunes {
				s = s[:i] + "…"
				break
			}
			n++
		}
	}
	var b strings.Builder
	for _, r := range s {
		if !hiddenRune(r) {
			b.WriteRune(r)
			continue
		}
		if r > 0xFFFF {
			fmt.Fprintf(&b, `\U%08x`, r)
		} else {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// hiddenRune reports whether r would be invisible or would change how the
// text around it reads: C0 and C1 controls (Cc), format characters (Cf: the
// zero-width and bidi controls U+200B-U+200F, U+202A-U+202E, U+2066-U+2069,
// U+FEFF and friends) and the line and paragraph separators.
func hiddenRune(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}
