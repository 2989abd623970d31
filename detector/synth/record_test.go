package synth

import (
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"testing"
	"time"
)

func TestAppendStringIsValidJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // what encoding/json decodes; "" means in itself
	}{
		{"plain ASCII passes through", "alice@contoso.com", ""},
		{"quotes are escaped", `Robert "Bobby" Tables`, ""},
		{"a backslash is escaped", `HR\Payroll Sync`, ""},
		{"a literal \\u0026 stays literal", `CA – iOS \u0026 Android`, ""},
		{"control characters are escaped", "tab\there\nnew\x00nul\x1f", ""},
		{"non-ASCII passes through", "Zoë Müller – Kelvin \u212A", ""},
		{"HTML characters are not escaped", "<a&b>", ""},
		{"invalid UTF-8 becomes U+FFFD", "bad\xffbyte", "bad\ufffdbyte"},
		{"the empty string", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := appendString(nil, tt.in)
			var got string
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("appendString(%q) = %s: %v", tt.in, b, err)
			}
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if got != want {
				t.Fatalf("round trip of %q gave %q, want %q", tt.in, got, want)
			}
		})
	}
}

func TestFormatTime(t *testing.T) {
	w := recordWriter{}
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"a window boundary has seven zeros", time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), "2026-05-01T10:00:00.0000000"},
		{"100ns ticks are kept", time.Date(2026, 12, 31, 23, 59, 59, 999999900, time.UTC), "2026-12-31T23:59:59.9999999"},
		{"an offset is rendered in UTC", time.Date(2026, 5, 1, 12, 0, 0, 1234500, time.FixedZone("CEST", 7200)), "2026-05-01T10:00:00.0012345"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(w.formatTime(tt.in.UnixNano())); got != tt.want {
				t.Fatalf("formatTime = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAppendUUIDIsVersion4(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		u := string(appendUUID(nil, r))
		if !re.MatchString(u) || seen[u] {
			t.Fatalf("uuid %q malformed or repeated", u)
		}
		seen[u] = true
	}
}

func TestWindowEnd(t *testing.T) {
	b := newTruthBuilder(time.Hour)
	ten := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"an event exactly on the hour belongs to the window ending then", ten, ten},
		{"100ns later belongs to the next window", ten.Add(100), ten.Add(time.Hour)},
		{"100ns earlier belongs to the same window", ten.Add(-100), ten},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := time.Unix(0, b.windowEnd(tt.at.UnixNano())).UTC(); !got.Equal(tt.want) {
				t.Fatalf("windowEnd = %v, want %v", got, tt.want)
			}
		})
	}
}
