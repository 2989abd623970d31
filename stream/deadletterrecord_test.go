package stream_test

import (
	"testing"

	"github.com/ropcwatch/ropcwatch/stream"
)

func TestDeadLetterRecord(t *testing.T) {
	tests := []struct {
		name        string
		dl          stream.DeadLetter
		wantHeaders map[string]string
	}{
		{
			"carries reason, detail and source position",
			stream.DeadLetter{Reason: "invalid-json", Detail: "unexpected end of input", Source: "signins", Partition: 7, Position: 12345, Raw: []byte(`{"records":[`), Size: 12},
			map[string]string{"dlq-reason": "invalid-json", "dlq-detail": "unexpected end of input", "dlq-topic": "signins", "dlq-partition": "7", "dlq-offset": "12345"},
		},
		{
			"a truncated message says so",
			stream.DeadLetter{Reason: "too-large", Source: "signins", Partition: 0, Position: 0, Raw: []byte("head"), Size: 10 << 20, Truncated: true},
			map[string]string{"dlq-reason": "too-large", "dlq-detail": "", "dlq-topic": "signins", "dlq-partition": "0", "dlq-offset": "0", "dlq-size": "10485760", "dlq-truncated": "true"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := stream.DeadLetterRecord("ropcwatch-dlq", tt.dl)
			if r.Topic != "ropcwatch-dlq" || r.Key != nil || string(r.Value) != string(tt.dl.Raw) {
				t.Errorf("record topic %q key %q value %q, want ropcwatch-dlq, nil, the original bytes", r.Topic, r.Key, r.Value)
			}
			got := map[string]string{}
			for _, h := range r.Headers {
				if _, dup := got[h.Key]; dup {
					t.Errorf("header %s repeated", h.Key)
				}
				got[h.Key] = string(h.Value)
			}
			if len(got) != len(tt.wantHeaders) {
				t.Errorf("headers %v, want %v", got, tt.wantHeaders)
			}
			for k, v := range tt.wantHeaders {
				if got[k] != v {
					t.Errorf("header %s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
