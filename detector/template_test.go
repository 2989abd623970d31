package detector

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTemplates(t *testing.T) {
	r := testRule()
	tests := []struct {
		name     string
		row      func(*Row)
		wantName string
		wantDesc string
	}{
		{
			name:     "counts are decimal and sets are compact JSON",
			row:      func(*Row) {},
			wantName: "ROPC Authentication Detected for alice@contoso.com - MFA Bypass Risk",
			wantDesc: `Successful ROPC authentication for alice@contoso.com (3 sign-ins from ["US","DE"]). ROPC bypasses`,
		},
		{
			name:     "an empty UPN falls back to the rule's name and description",
			row:      func(r *Row) { r.UserPrincipalName = "" },
			wantName: r.Name,
			wantDesc: r.Description,
		},
		{
			name:     "an empty set falls back only where it is referenced",
			row:      func(r *Row) { r.Countries = nil },
			wantName: "ROPC Authentication Detected for alice@contoso.com - MFA Bypass Risk",
			wantDesc: r.Description,
		},
		{
			name:     "a set holding the empty string is not empty",
			row:      func(r *Row) { r.Countries = []string{""} },
			wantName: "ROPC Authentication Detected for alice@contoso.com - MFA Bypass Risk",
			wantDesc: `(3 sign-ins from [""])`,
		},
		{
			name: "a hostile UPN shows its control and bidi characters as escapes",
			row: func(r *Row) {
				r.UserPrincipalName = "evil\u202egnp.exe\n<script>alert(1)</script>\u200b\u0085@contoso.com"
			},
			wantName: `ROPC Authentication Detected for evil\u202egnp.exe\u000a<script>alert(1)</script>\u200b\u0085@contoso.com - MFA Bypass Risk`,
		},
		{
			name:     "invalid UTF-8 becomes the replacement character",
			row:      func(r *Row) { r.UserPrincipalName = "bad\xffname" },
			wantName: "ROPC Authentication Detected for bad\uFFFDname - MFA Bypass Risk",
		},
		{
			name:     "a long value is capped at 256 runes",
			row:      func(r *Row) { r.UserPrincipalName = strings.Repeat("é", 300) },
			wantName: "ROPC Authentication Detected for " + strings.Repeat("é", 256) + "… - MFA Bypass Risk",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			row := aliceRow()
			tc.row(&row)
			if got := r.alertName(&row); got != tc.wantName {
				t.Errorf("AlertName =\n%q\nwant\n%q", got, tc.wantName)
			}
			if got := r.alertDescription(&row); !strings.Contains(got, tc.wantDesc) {
				t.Errorf("Description =\n%q\nwant it to contain\n%q", got, tc.wantDesc)
			}
		})
	}
}

func TestHostileUPNInJSON(t *testing.T) {
	row := aliceRow()
	row.UserPrincipalName = "x\u202e<script>\n@contoso.com"
	a := testRule().Alerts([]Row{row}, finalContext())[0]
	b := mustMarshal(t, &a, FormatSentinel)
	s := string(b)
	checks := []struct {
		name, want string
		present    bool
	}{
		{"the name shows the bidi override as text", `for x\\u202e\u003cscript\u003e\\u000a@contoso.com`, true},
		{"no raw < reaches the JSON", "<", false},
		{"no raw newline reaches the JSON", "\n", false},
		{"no raw bidi override reaches the name", "for x\u202e", false},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if strings.Contains(s, c.want) != c.present {
				t.Errorf("contains %q = %v, want %v in\n%s", c.want, !c.present, c.present, s)
			}
		})
	}
	t.Run("the Result keeps the exact raw UPN", func(t *testing.T) {
		var got struct{ Result Row }
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.Result.UserPrincipalName != row.UserPrincipalName {
			t.Errorf("Result UPN = %q, want %q", got.Result.UserPrincipalName, row.UserPrincipalName)
		}
	})
}

// FuzzDisplayValue checks that whatever an attacker puts in a sign-in, the
// displayed text is valid UTF-8, holds no hidden character and stays short.
func FuzzDisplayValue(f *testing.F) {
	for _, s := range []string{"alice@contoso.com", "x\u202e\n<script>", "bad\xff", strings.Repeat("\u2066", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := displayValue(s)
		if !utf8.ValidString(got) {
			t.Fatalf("displayValue(%q) = %q is not valid UTF-8", s, got)
		}
		for _, r := range got {
			if hiddenRune(r) {
				t.Fatalf("displayValue(%q) = %q keeps hidden rune %U", s, got, r)
			}
		}
		if n := utf8.RuneCountInString(got); n > 10*(maxTemplateValueRunes+1) {
			t.Fatalf("displayValue of %d bytes gave %d runes", len(s), n)
		}
	})
}
