package stream

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendSafeJSON(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"ASCII is left alone", "alice@contoso.com", `"alice@contoso.com"`},
		{"letters beyond ASCII are left alone", "Zoë 北京 😀", `"Zoë 北京 😀"`},
		{"NEL, a C1 control that splits lines", "a\u0085b", `"a\u0085b"`},
		{"CSI, the C1 terminal escape", "a\u009b31mb", `"a\u009b31mb"`},
		{"DEL", "a\u007fb", `"a\u007fb"`},
		{"a right-to-left override", "gpj.\u202eexe", `"gpj.\u202eexe"`},
		{"bidirectional isolates", "\u2066x\u2069", `"\u2066x\u2069"`},
		{"zero-width space, joiner and the byte order mark", "a\u200bb\u200dc\ufeff", `"a\u200bb\u200dc\ufeff"`},
		{"a tag character beyond the BMP", "x\U000e0041", `"x\udb40\udc41"`},
		{"line and paragraph separators", "a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"C0 controls, as encoding/json escapes them", "a\nb\x1b", `"a\nb\u001b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := json.Marshal(tt.in)
			got := string(AppendSafeJSON(nil, doc))
			if got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			var back string
			if err := json.Unmarshal([]byte(got), &back); err != nil || back != tt.in {
				t.Fatalf("decodes to %q (%v), want %q", back, err, tt.in)
			}
		})
	}
}

func TestSafeText(t *testing.T) {
	if got := SafeText("plain text"); got != "plain text" {
		t.Fatalf("got %q", got)
	}
	if got := SafeText("a\nb\u0085c\u202e\x00"); got != `a\u000ab\u0085c\u202e\u0000` {
		t.Fatalf("got %q", got)
	}
}

// pythonLineBreaks are the characters at which Python's str.splitlines
// splits, the Unicode-aware line splitting a consumer may use.
const pythonLineBreaks = "\n\r\v\f\x1c\x1d\x1e\u0085\u2028\u2029"

// FuzzAppendSafeJSON checks that any string, encoded and made safe, is
// still valid JSON with the same value, holds no unsafe character raw, and
// so is one line for any line splitter.
func FuzzAppendSafeJSON(f *testing.F) {
	for _, s := range []string{"", "a\u0085b", "\u202e", "\U000e0001", "\xff", `\u0085`, "\u00ad", "x\u061cy"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		doc, err := json.Marshal(map[string]string{s: s})
		if err != nil {
			t.Fatal(err)
		}
		safe := AppendSafeJSON(nil, doc)
		var want, got map[string]string
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(safe, &got); err != nil {
			t.Fatalf("made invalid: %s (%v)", safe, err)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("value changed: %q became %q", v, got[k])
			}
		}
		for _, r := range string(safe) {
			if unsafeRune(r) {
				t.Fatalf("%U left raw in %s", r, safe)
			}
		}
		if strings.ContainsAny(string(safe), pythonLineBreaks) || !utf8.Valid(safe) {
			t.Fatalf("not one line: %q", safe)
		}
		if text := SafeText(s); strings.ContainsAny(text, pythonLineBreaks) {
			t.Fatalf("SafeText left a line break: %q", text)
		}
	})
}
