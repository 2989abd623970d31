package detector

import (
	"strings"
	"testing"
)

func TestRuleMatch(t *testing.T) {
	r := &Rule{
		LegitApps:  []string{"Microsoft Authentication Broker", "Azure AD Connect"},
		LegitUsers: []string{"svc-sync@contoso.com", "ismail@contoso.com", "kim@contoso.com"},
	}
	nets := mustAllowlist(t, "SearchKey\n203.0.113.0/24\n2001:db8::/32\n")
	// ropc is a sign-in that matches; each case changes one column.
	ropc := SignIn{
		AuthenticationProtocol: "ropc",
		ResultType:             "0",
		AppDisplayName:         "Azure CLI",
		UserPrincipalName:      "alice@contoso.com",
		IPAddress:              "198.51.100.7",
	}
	with := func(edit func(s *SignIn)) SignIn {
		s := ropc
		edit(&s)
		return s
	}
	tests := []struct {
		name string
		in   SignIn
		want Verdict
	}{
		{"a successful ropc sign-in matches", ropc, Match},
		{"upper-case ROPC matches", with(func(s *SignIn) { s.AuthenticationProtocol = "ROPC" }), Match},
		{"mixed-case Ropc matches", with(func(s *SignIn) { s.AuthenticationProtocol = "Ropc" }), Match},
		{"a leading space is not trimmed", with(func(s *SignIn) { s.AuthenticationProtocol = " ropc" }), NotROPC},
		{"a trailing space is not trimmed", with(func(s *SignIn) { s.AuthenticationProtocol = "ropc " }), NotROPC},
		{"another protocol is not ropc", with(func(s *SignIn) { s.AuthenticationProtocol = "deviceCode" }), NotROPC},
		{"a missing protocol is not ropc", with(func(s *SignIn) { s.AuthenticationProtocol = "" }), NotROPC},
		{"a prefix of ropc is not ropc", with(func(s *SignIn) { s.AuthenticationProtocol = "rop" }), NotROPC},
		{"a failed ropc sign-in belongs to another rule", with(func(s *SignIn) { s.ResultType = "50126" }), NotSuccess},
		{"result 00 is not 0", with(func(s *SignIn) { s.ResultType = "00" }), NotSuccess},
		{"result space-0 is not 0", with(func(s *SignIn) { s.ResultType = " 0" }), NotSuccess},
		{"an empty result is not 0", with(func(s *SignIn) { s.ResultType = "" }), NotSuccess},
		{"an allowlisted app is excluded", with(func(s *SignIn) { s.AppDisplayName = "Azure AD Connect" }), AppAllowlisted},
		{"the app allowlist ignores ASCII case", with(func(s *SignIn) { s.AppDisplayName = "MICROSOFT authentication BROKER" }), AppAllowlisted},
		{"kelvin sign is not k", with(func(s *SignIn) { s.AppDisplayName = "Microsoft Authentication Bro\u212Aer" }), Match},
		{"an app with a trailing space is not the allowlisted app", with(func(s *SignIn) { s.AppDisplayName = "Azure AD Connect " }), Match},
		{"an empty app is never allowlisted", with(func(s *SignIn) { s.AppDisplayName = "" }), Match},
		{"an allowlisted user is excluded", with(func(s *SignIn) { s.UserPrincipalName = "svc-sync@contoso.com" }), UserAllowlisted},
		{"an upper-case UPN is lower-cased before the user allowlist", with(func(s *SignIn) { s.UserPrincipalName = "SVC-SYNC@CONTOSO.COM" }), UserAllowlisted},
		// Go's strings.ToLower (like unicode.ToLower) maps U+0130 to a plain i,
		// so İSMAIL lower-cases to ismail and matches the entry.
		{"a Turkish dotted capital I lower-cases to i", with(func(s *SignIn) { s.UserPrincipalName = "\u0130SMAIL@contoso.com" }), UserAllowlisted},
		// tolower() is Unicode: U+212A lower-cases to k before in~ compares.
		{"a kelvin sign in a UPN lower-cases to k", with(func(s *SignIn) { s.UserPrincipalName = "\u212Aim@contoso.com" }), UserAllowlisted},
		{"a different user is not allowlisted", with(func(s *SignIn) { s.UserPrincipalName = "svc-sync@contoso.co" }), Match},
		{"an empty UPN is not allowlisted", with(func(s *SignIn) { s.UserPrincipalName = "" }), Match},
		{"an allowlisted IPv4 address is excluded", with(func(s *SignIn) { s.IPAddress = "203.0.113.99" }), IPAllowlisted},
		{"an allowlisted IPv6 address is excluded", with(func(s *SignIn) { s.IPAddress = "2001:db8::42" }), IPAllowlisted},
		{"a v4-mapped address matches its IPv4 entry", with(func(s *SignIn) { s.IPAddress = "::ffff:203.0.113.99" }), IPAllowlisted},
		{"an empty address is never excluded", with(func(s *SignIn) { s.IPAddress = "" }), Match},
		{"an unparsable address is never excluded", with(func(s *SignIn) { s.IPAddress = "203.0.113.x" }), Match},
		{"the protocol is checked before the result", with(func(s *SignIn) { s.AuthenticationProtocol = "saml"; s.ResultType = "1" }), NotROPC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Match(&tt.in, nets); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("a nil allowlist excludes no address", func(t *testing.T) {
		s := with(func(s *SignIn) { s.IPAddress = "203.0.113.99" })
		if got := r.Match(&s, nil); got != Match {
			t.Errorf("Match = %v, want match", got)
		}
	})
	t.Run("an empty user list excludes nobody", func(t *testing.T) {
		s := with(func(s *SignIn) { s.UserPrincipalName = "" })
		if got := (&Rule{}).Match(&s, nil); got != Match {
			t.Errorf("Match = %v, want match", got)
		}
	})
}

func TestSeedRuleMatch(t *testing.T) {
	s := SignIn{AuthenticationProtocol: "ropc", ResultType: "0", AppDisplayName: "Microsoft Office", UserPrincipalName: "a@b"}
	if got := SeedRule().Match(&s, nil); got != AppAllowlisted {
		t.Errorf("Match = %v, want app-allowlisted", got)
	}
}

func TestVerdictString(t *testing.T) {
	want := map[Verdict]string{
		Match: "match", NotROPC: "not-ropc", NotSuccess: "not-success",
		AppAllowlisted: "app-allowlisted", UserAllowlisted: "user-allowlisted", IPAllowlisted: "ip-allowlisted",
	}
	for v, s := range want {
		if v.String() != s {
			t.Errorf("%d.String() = %q, want %q", v, v.String(), s)
		}
	}
	if got := Verdict(200).String(); !strings.Contains(got, "200") {
		t.Errorf("Verdict(200).String() = %q", got)
	}
}
