package detector

import (
	"testing"
	"time"
)

func TestRawEventTime(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want string
	}{
		{"a diagnostic envelope", `{"records":[{"time":"2026-05-01T10:00:00.1234567Z","category":"x"}]}`, "2026-05-01T10:00:00.1234567Z"},
		{"an export row", `{"TimeGenerated":"2026-05-01T10:00:00Z"}`, "2026-05-01T10:00:00Z"},
		{"an offset is converted", `{"time":"2026-05-01T12:00:00+02:00"}`, "2026-05-01T10:00:00Z"},
		{"no time", `{"a":1}`, ""},
		{"garbage", `{"time":"soon"}`, ""},
		{"an absurd year", `{"time":"9999-01-01T00:00:00Z"}`, ""},
		{"no closing quote", `{"time":"2026-05-01T10:00:00Z`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := rawEventTime([]byte(tt.msg))
			if tt.want == "" {
				if ok {
					t.Fatalf("got %v, want none", got)
				}
				return
			}
			want, _ := time.Parse(time.RFC3339Nano, tt.want)
			if !ok || !got.Equal(want) {
				t.Fatalf("got %v %v, want %v", got, ok, want)
			}
		})
	}
}
