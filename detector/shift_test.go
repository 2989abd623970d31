package detector

import (
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

func TestShiftTimes(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"a diagnostic record keeps its columns consistent",
			`{"time":"2022-01-24T05:10:14.1875602Z","properties":{"createdDateTime":"2022-01-24T05:10:14.1875602+00:00","appDisplayName":"time"}}`,
			`{"time":"2022-01-25T06:10:14.1875602Z","properties":{"createdDateTime":"2022-01-25T06:10:14.1875602+00:00","appDisplayName":"time"}}`},
		{"an export row", `{"TimeGenerated":"2026-05-01T10:00:00Z","Id":"x"}`, `{"TimeGenerated":"2026-05-02T11:00:00.0000000Z","Id":"x"}`},
		{"an unparsable value stays", `{"time":"soon","TimeGenerated":"2026-05-01T10:00:00Z"}`, `{"time":"soon","TimeGenerated":"2026-05-02T11:00:00.0000000Z"}`},
		{"no times", `{"a":1}`, `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(ShiftTimes([]byte(tt.in), 25*time.Hour))
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if !gjson.Valid(got) {
				t.Fatal("the shifted message is not JSON")
			}
		})
	}
}

func FuzzShiftTimes(f *testing.F) {
	f.Add([]byte(`{"time":"2022-01-24T05:10:14.1875602Z","properties":{"createdDateTime":"2022-01-24T05:10:14+00:00"}}`), int64(3600e9))
	f.Fuzz(func(t *testing.T, msg []byte, d int64) {
		out := ShiftTimes(msg, time.Duration(d))
		if gjson.ValidBytes(msg) && !gjson.ValidBytes(out) {
			t.Fatalf("shifting broke the JSON: %q -> %q", msg, out)
		}
	})
}
