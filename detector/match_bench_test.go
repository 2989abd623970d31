package detector

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkRuleMatch(b *testing.B) {
	var csv strings.Builder
	csv.WriteString("SearchKey\n")
	for i := range 1000 {
		fmt.Fprintf(&csv, "10.%d.%d.0/24\n", i/256, i%256)
	}
	nets, err := ParseNetworkAllowlist(strings.NewReader(csv.String()))
	if err != nil {
		b.Fatal(err)
	}
	r := SeedRule()
	withUsers := *r
	for i := range 100 {
		withUsers.LegitUsers = append(withUsers.LegitUsers, fmt.Sprintf("svc-%d@contoso.com", i))
	}
	cases := []struct {
		name string
		rule *Rule
		in   SignIn
		nets *NetworkAllowlist
		want Verdict
	}{
		{"not ropc", r, SignIn{AuthenticationProtocol: "none", ResultType: "0"}, nets, NotROPC},
		{"match with 1000 prefixes", r, SignIn{AuthenticationProtocol: "ROPC", ResultType: "0", AppDisplayName: "Azure CLI", UserPrincipalName: "Alice@Contoso.com", IPAddress: "198.51.100.7"}, nets, Match},
		{"match with 100 users and a non-ASCII UPN", &withUsers, SignIn{AuthenticationProtocol: "ropc", ResultType: "0", AppDisplayName: "Azure CLI", UserPrincipalName: "\u0130SMAIL@Contoso.com", IPAddress: "2001:db8::1%eth0"}, nets, Match},
		{"ip allowlisted v4-mapped", r, SignIn{AuthenticationProtocol: "ropc", ResultType: "0", AppDisplayName: "Azure CLI", UserPrincipalName: "a@b", IPAddress: "::ffff:10.3.200.9"}, nets, IPAllowlisted},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got := c.rule.Match(&c.in, c.nets); got != c.want {
					b.Fatalf("Match = %v, want %v", got, c.want)
				}
			}
		})
	}
}
