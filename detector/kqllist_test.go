package detector

import (
	"slices"
	"strings"
	"testing"
)

func TestParseKQLStringList(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"an empty list has no entries", `[]`, []string{}},
		{"an empty list may hold whitespace and comments", "[ // nobody yet\n ]", []string{}},
		{"double-quoted strings take backslash escapes", `["a\"b", "c\\d", "tab\there", "nl\n", "sq\'"]`, []string{`a"b`, `c\d`, "tab\there", "nl\n", "sq'"}},
		{"single-quoted strings take backslash escapes", `['it\'s', 'say "hi"']`, []string{"it's", `say "hi"`}},
		{"verbatim strings keep backslashes and double the quote", `[@"C:\temp\", @"say ""hi""", @'it''s']`, []string{`C:\temp\`, `say "hi"`, "it's"}},
		{"obfuscated strings are plain strings", `[h"secret", H'x', h@"C:\"]`, []string{"secret", "x", `C:\`}},
		{"multi-line strings may span lines", "[```a\nb```]", []string{"a\nb"}},
		{"entries may sit on their own lines with comments", "[\n  \"a\", // first\n  // \"not an entry\"\n  'b'\n]", []string{"a", "b"}},
		{"a comment marker inside a string is text", `["http://x"]`, []string{"http://x"}},
		{"non-ASCII text is kept as written", "[\"Bro\u212Aer\", 'Ünïcødé']", []string{"Bro\u212Aer", "Ünïcødé"}},
		{"an empty string is an entry", `[""]`, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseKQLStringList(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseKQLStringListErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"a trailing comma is refused as KQL refuses it", `["a",]`, "trailing comma"},
		{"a leading comma is refused", `[,"a"]`, "want a string literal"},
		{"two literals need a comma between them", `["a" "b"]`, "want , or ]"},
		{"a number is not a string", `[1]`, "want a string literal"},
		{"an unterminated string is refused", `["a]`, "unterminated string literal"},
		{"a raw newline ends no string", "[\"a\nb\"]", "newline in string literal"},
		{"a raw newline ends no verbatim string", "[@'a\nb']", "newline in string literal"},
		{"an unknown escape is refused", `["\q"]`, `unknown escape \q`},
		{"a \\u escape is not KQL", `["\u212A"]`, `unknown escape \u`},
		{"a backslash at the very end is refused", `["\`, "unterminated string literal"},
		{"an unterminated multi-line string is refused", "[```a", "unterminated ```"},
		{"a missing bracket is refused", `"a"`, "want ["},
		{"an unclosed list is refused", `["a"`, "want , or ]"},
		{"text after the list is refused", `["a"] x`, "after the list"},
		{"errors give the line", "[\n\n 'a' 'b']", "line 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseKQLStringList(tt.in)
			if err == nil {
				t.Fatalf("parsed as %q", got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestParseLetLists(t *testing.T) {
	lets, rest, err := parseLetLists("// header\nlet A = dynamic(['x']);\nlet B=dynamic([]);T | take 1")
	if err != nil {
		t.Fatal(err)
	}
	if len(lets) != 2 || lets[0].name != "A" || !slices.Equal(lets[0].values, []string{"x"}) || lets[1].name != "B" || lets[1].line != 3 {
		t.Errorf("lets = %+v", lets)
	}
	if len(rest) != 4 || rest[0].text != "T" {
		t.Errorf("rest = %v", rest)
	}
	for _, bad := range []string{"let A = pack_array('x');", "let A = dynamic(['x'])", "let = dynamic([]);", "let A = dynamic(['x'];"} {
		if _, _, err := parseLetLists(bad); err == nil {
			t.Errorf("parseLetLists(%q) succeeded", bad)
		}
	}
}

// writeKQLString quotes s as a KQL string literal, choosing the form from
// form: 0 double quotes, 1 single quotes, 2 verbatim double, 3 verbatim
// single, 4 obfuscated double, 5 multi-line. Verbatim forms fall back to
// double quotes when s holds a newline, multi-line when s holds ```.
func writeKQLString(s string, form int) string {
	hasNewline := strings.ContainsAny(s, "\r\n")
	switch form % 6 {
	case 1:
		return "'" + escapeKQL(s, '\'') + "'"
	case 2:
		if !hasNewline {
			return `@"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		}
	case 3:
		if !hasNewline {
			return `@'` + strings.ReplaceAll(s, `'`, `''`) + `'`
		}
	case 4:
		return `h"` + escapeKQL(s, '"') + `"`
	case 5:
		if !strings.Contains(s, "```") && !strings.HasSuffix(s, "``") && !strings.HasSuffix(s, "`") {
			return "```" + s + "```"
		}
	}
	return `"` + escapeKQL(s, '"') + `"`
}

// escapeKQL escapes backslashes, quote, newlines and carriage returns.
func escapeKQL(s string, quote byte) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', quote:
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func FuzzKQLList(f *testing.F) {
	f.Add("Microsoft Authentication Broker", "svc-sync@contoso.com", 0, `["a", 'b',]`)
	f.Add(`C:\temp\`, `say "hi"`, 2, `[@"x""y"]`)
	f.Add("it's", "tab\there", 3, "[h'x' // c\n]")
	f.Add("a\nb", "", 5, "[```a```]")
	f.Add("```", "``", 5, `["\`)
	f.Add("Bro\u212Aer", "\xff", 4, "[")
	f.Fuzz(func(t *testing.T, a, b string, form int, raw string) {
		// Arbitrary text never panics.
		parseKQLStringList(raw)
		parseLetLists(raw)

		// Strings written as literals parse back equal.
		if form < 0 {
			form = -form
		}
		text := "[" + writeKQLString(a, form) + ",\n // comment\n" + writeKQLString(b, form+1) + "]"
		got, err := parseKQLStringList(text)
		if err != nil {
			t.Fatalf("parse %q: %v", text, err)
		}
		if !slices.Equal(got, []string{a, b}) {
			t.Fatalf("parse %q = %q, want %q", text, got, []string{a, b})
		}
	})
}
