package detector

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func signIn(min int, id, ip, country, app string) SignIn {
	return SignIn{
		TimeGenerated: time.Date(2026, 5, 1, 9, min, 0, 0, time.UTC), AuthenticationProtocol: "ropc", ResultType: "0",
		UserPrincipalName: "alice@contoso.com", Id: id, IPAddress: ip, Location: country, AppDisplayName: app,
	}
}

func TestSummaryRow(t *testing.T) {
	tests := []struct {
		name    string
		in      []SignIn
		changes []Change
		want    Row
	}{
		{
			name:    "sets are ordered by each value's earliest time, not arrival",
			in:      []SignIn{signIn(30, "a", "2.2.2.2", "DE", "curl"), signIn(10, "b", "1.1.1.1", "US", "curl"), signIn(50, "c", "2.2.2.2", "US", "python")},
			changes: []Change{Grew, Grew, Grew},
			want: Row{UserPrincipalName: "alice@contoso.com", Count: 3, IPs: []string{"1.1.1.1", "2.2.2.2"}, Countries: []string{"US", "DE"},
				Apps: []string{"curl", "python"}, IPAddress: "1.1.1.1"},
		},
		{
			name:    "ties in time are broken by ordinal value",
			in:      []SignIn{signIn(10, "a", "b", "DE", "x"), signIn(10, "b", "B", "AT", "x"), signIn(10, "c", "a", "CH", "x")},
			changes: []Change{Grew, Grew, Grew},
			want: Row{UserPrincipalName: "alice@contoso.com", Count: 3, IPs: []string{"B", "a", "b"}, Countries: []string{"AT", "CH", "DE"},
				Apps: []string{"x"}, IPAddress: "B"},
		},
		{
			name:    "a redelivered Id is counted once",
			in:      []SignIn{signIn(10, "a", "1.1.1.1", "US", "x"), signIn(10, "a", "1.1.1.1", "US", "x"), signIn(20, "b", "1.1.1.1", "US", "x")},
			changes: []Change{Grew, Duplicate, Counted},
			want: Row{UserPrincipalName: "alice@contoso.com", Count: 2, IPs: []string{"1.1.1.1"}, Countries: []string{"US"},
				Apps: []string{"x"}, IPAddress: "1.1.1.1"},
		},
		{
			name:    "empty Ids are never duplicates",
			in:      []SignIn{signIn(10, "", "1.1.1.1", "US", "x"), signIn(10, "", "1.1.1.1", "US", "x")},
			changes: []Change{Grew, Counted},
			want: Row{UserPrincipalName: "alice@contoso.com", Count: 2, IPs: []string{"1.1.1.1"}, Countries: []string{"US"},
				Apps: []string{"x"}, IPAddress: "1.1.1.1"},
		},
		{
			name:    "empty values are kept as values",
			in:      []SignIn{signIn(10, "a", "", "", ""), signIn(20, "b", "1.1.1.1", "US", "x")},
			changes: []Change{Grew, Grew},
			want: Row{UserPrincipalName: "alice@contoso.com", Count: 2, IPs: []string{"", "1.1.1.1"}, Countries: []string{"", "US"},
				Apps: []string{"", "x"}, IPAddress: ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewSummary("alice@contoso.com", Limits{})
			for i := range tt.in {
				if got := m.Add(&tt.in[i]); got != tt.changes[i] {
					t.Fatalf("add %d: change %v, want %v", i, got, tt.changes[i])
				}
			}
			got := m.Row()
			first, last := tt.in[0].TimeGenerated, tt.in[0].TimeGenerated
			for _, s := range tt.in {
				if s.TimeGenerated.Before(first) {
					first = s.TimeGenerated
				}
				if s.TimeGenerated.After(last) {
					last = s.TimeGenerated
				}
			}
			tt.want.FirstSeen, tt.want.LastSeen = first, last
			if !rowsEqual(got, tt.want) {
				t.Fatalf("row\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSummaryLimits(t *testing.T) {
	m := NewSummary("u", Limits{MaxSetSize: 2, MaxIDs: 1})
	for i, ip := range []string{"1", "2", "3"} {
		s := signIn(i, string(rune('a'+i)), ip, "US", "x")
		m.Add(&s)
	}
	if !m.Truncated() || m.Count() != 3 || len(m.Row().IPs) != 2 {
		t.Fatalf("truncated=%v count=%d ips=%v", m.Truncated(), m.Count(), m.Row().IPs)
	}
}

func TestSortRows(t *testing.T) {
	rows := []Row{{UserPrincipalName: "b", Count: 2}, {UserPrincipalName: "a", Count: 1}, {UserPrincipalName: "a", Count: 2}, {UserPrincipalName: "B", Count: 2}}
	SortRows(rows)
	var got []string
	for _, r := range rows {
		got = append(got, r.UserPrincipalName)
	}
	if !slices.Equal(got, []string{"B", "a", "b", "a"}) {
		t.Fatalf("order = %v: want Count desc, then UPN ascending by ordinal", got)
	}
}

func rowsEqual(a, b Row) bool {
	return a.UserPrincipalName == b.UserPrincipalName && a.Count == b.Count && slices.Equal(a.IPs, b.IPs) &&
		slices.Equal(a.Countries, b.Countries) && slices.Equal(a.Apps, b.Apps) && a.FirstSeen.Equal(b.FirstSeen) &&
		a.LastSeen.Equal(b.LastSeen) && a.IPAddress == b.IPAddress
}

// A set at its bound keeps the values seen earliest, whatever order they
// arrive in, so IPs[0] (the IP entity) stays the first IP of the window.
func TestSummaryBoundedSetKeepsTheEarliest(t *testing.T) {
	base := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	const bound = 10
	for _, order := range []string{"earliest first", "latest first"} {
		t.Run(order, func(t *testing.T) {
			m := NewSummary("alice@contoso.com", Limits{MaxSetSize: bound})
			n := bound + 1
			for i := range n {
				k := i
				if order == "latest first" {
					k = n - 1 - i
				}
				m.Add(&SignIn{TimeGenerated: base.Add(time.Duration(k) * time.Minute), IPAddress: fmt.Sprintf("192.0.2.%d", k), Id: fmt.Sprint(k)})
			}
			row := m.Row()
			if len(row.IPs) != bound || row.IPAddress != "192.0.2.0" || row.IPs[bound-1] != fmt.Sprintf("192.0.2.%d", bound-1) {
				t.Fatalf("IPs = %v (IPAddress %s), want the %d earliest, 192.0.2.0 first", row.IPs, row.IPAddress, bound)
			}
			if !m.Truncated() || row.Count != n {
				t.Fatalf("truncated %v, count %d", m.Truncated(), row.Count)
			}
		})
	}
}
