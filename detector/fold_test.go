package detector

import (
	"strings"
	"testing"
)

func TestEqualFoldASCII(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"equal strings are equal", "ropc", "ropc", true},
		{"ASCII letters fold", "ROPC", "ropc", true},
		{"kelvin sign is not k", "\u212A", "k", false},
		{"non-ASCII letters do not fold", "Ä", "ä", false},
		{"lengths must match", "ropc ", "ropc", false},
		{"punctuation does not fold", "@", "`", false},
		{"empty strings are equal", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := equalFoldASCII(tt.a, tt.b); got != tt.want {
				t.Errorf("equalFoldASCII(%q, %q) = %v", tt.a, tt.b, got)
			}
		})
	}
}

func FuzzLowerEqualFoldASCII(f *testing.F) {
	f.Add("SVC-SYNC@CONTOSO.COM", "svc-sync@contoso.com")
	f.Add("\u0130SMAIL", "ismail")
	f.Add("\u212Aim", "kim")
	f.Add("a\xffb", "a\uFFFDb")
	f.Add("ẞ", "ß")
	f.Fuzz(func(t *testing.T, s, entry string) {
		want := equalFoldASCII(strings.ToLower(s), entry)
		if got := lowerEqualFoldASCII(s, entry); got != want {
			t.Fatalf("lowerEqualFoldASCII(%q, %q) = %v, want %v", s, entry, got, want)
		}
		if !lowerEqualFoldASCII(s, strings.ToLower(s)) {
			t.Fatalf("lowerEqualFoldASCII(%q, ToLower) = false", s)
		}
	})
}
