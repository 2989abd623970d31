package detector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ropcwatch/ropcwatch/detector/ocsftest"
)

// hugeRow is a row of attacker-sized values: the UPN, an app and a location
// of n bytes each, and many IPs.
func hugeRow(n, ips int) Row {
	r := aliceRow()
	r.UserPrincipalName = strings.Repeat("u", n) + "@contoso.com"
	r.Apps = []string{strings.Repeat("a", n), "curl"}
	r.Countries = []string{strings.Repeat("c", n)}
	r.IPs = nil
	for i := range ips {
		r.IPs = append(r.IPs, fmt.Sprintf("2001:db8::%x", i+1))
	}
	r.IPAddress = r.IPs[0]
	return r
}

func TestRenderKeepsAFittingAlertExact(t *testing.T) {
	rule := testRule()
	for _, f := range []Format{FormatSentinel, FormatOCSF} {
		a := rule.Alerts([]Row{aliceRow()}, finalContext())[0]
		key, value, err := a.Render(f, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := mustMarshal(t, &a, f); !bytes.Equal(value, want) || string(key) != "alice@contoso.com" {
			t.Fatalf("%s: a fitting alert was changed:\n%s\nwant\n%s", f, value, want)
		}
	}
}

func TestRenderCutsAnAlertToTheLimit(t *testing.T) {
	rule := testRule()
	tests := []struct {
		name  string
		row   Row
		limit int
	}{
		{"300 KB values over the default 1 MB", hugeRow(300_000, 3), 0},
		{"100 KB values over a 256 KiB topic", hugeRow(100_000, 3), 256 << 10},
		{"100,000 IPs", hugeRow(10, 100_000), 0},
		{"everything at the least limit", hugeRow(200_000, 20_000), MinMaxRecordBytes},
	}
	for _, tt := range tests {
		for _, f := range []Format{FormatSentinel, FormatOCSF} {
			t.Run(tt.name+"/"+string(f), func(t *testing.T) {
				a := rule.Alerts([]Row{tt.row}, finalContext())[0]
				key, value, err := a.Render(f, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				limit := tt.limit
				if limit == 0 {
					limit = DefaultMaxRecordBytes
				}
				size := len(key) + len(value)
				for _, h := range a.Headers(f) {
					size += len(h[0]) + len(h[1])
				}
				if size+recordOverhead > limit {
					t.Fatalf("record of %d bytes over the limit of %d", size+recordOverhead, limit)
				}
				if !json.Valid(value) || !bytes.Contains(value, []byte(`"Truncated":true`)) && !bytes.Contains(value, []byte(`"truncated":true`)) {
					t.Fatalf("cut alert is not marked Truncated: %.300s", value)
				}
				// The earliest IP is kept, so IPAddress stays IPs[0].
				if !bytes.Contains(value, []byte(`"`+tt.row.IPs[0]+`"`)) {
					t.Fatalf("the first IP was dropped: %.300s", value)
				}
				// Short values are kept exactly; long ones end in the marker.
				if !bytes.Contains(value, []byte(`"curl"`)) || !bytes.Contains(value, []byte(ellipsis)) && tt.row.Apps[0] != "curl" && len(tt.row.Apps[0]) > minValueBytes {
					t.Fatalf("values not cut as promised: %.300s", value)
				}
				if f == FormatOCSF {
					ocsftest.Check(t, value)
				}
				_, again, _ := a.Render(f, tt.limit)
				if !bytes.Equal(value, again) {
					t.Fatal("two renders of one revision differ")
				}
			})
		}
	}
}

func TestCapString(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"0123456789abc", 10, "0123456…"},
		{"ééééééé", 8, "éé…"}, // never half a character
	}
	for _, tt := range tests {
		if got := capString(tt.in, tt.n); got != tt.want || len(got) > tt.n {
			t.Errorf("capString(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestFitRowKeepsInternalAlertsWithinTheLimit(t *testing.T) {
	row, cut := fitRow(hugeRow(400_000, 10), 100_000)
	b, _ := json.Marshal(row)
	if !cut || len(b) > 100_000 || row.IPs[0] != "2001:db8::1" {
		t.Fatalf("cut=%v, %d bytes, IPs %v", cut, len(b), row.IPs[:1])
	}
	if r, cut := fitRow(aliceRow(), 100_000); cut || r.UserPrincipalName != "alice@contoso.com" {
		t.Fatal("a fitting row was cut")
	}
}
