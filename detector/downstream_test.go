package detector

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// TestDownstreamReadsAlertsWithKafkaGo reads the alerts topic with
// segmentio/kafka-go, a client independent of franz-go, as a SIEM connector
// would: the key is the UPN, the routing headers match the JSON, and the
// value is one JSON alert.
func TestDownstreamReadsAlertsWithKafkaGo(t *testing.T) {
	st := newServiceTopics(t, 1)
	start(t, st.config(LiveConfig{}))
	upn := "ünïcode.user+tag@contoso.com"
	produce(t, st, 0, ropcAt(time.Now().UTC(), upn, "k1", "2001:db8::7"))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: st.target.Brokers, Topic: st.alerts, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("kafka-go: %v", err)
	}
	if string(m.Key) != upn {
		t.Fatalf("key = %q, want the UPN %q", m.Key, upn)
	}
	var a struct {
		AlertId    string
		Revision   int
		Status     string
		Severity   string
		RuleId     string
		IncidentId string
		Result     struct{ UserPrincipalName string }
	}
	if err := json.Unmarshal(m.Value, &a); err != nil {
		t.Fatalf("value is not a JSON alert: %v\n%s", err, m.Value)
	}
	headers := map[string]string{}
	for _, h := range m.Headers {
		headers[h.Key] = string(h.Value)
	}
	want := map[string]string{
		"content-type": "application/json", "alert-id": a.AlertId, "alert-revision": "1", "alert-status": "early",
		"severity": "High", "rule-id": SeedRule().ID, "incident-id": a.IncidentId,
	}
	for k, v := range want {
		if headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, headers[k], v)
		}
	}
	if a.Result.UserPrincipalName != upn || a.Status != "early" || a.IncidentId == "" {
		t.Fatalf("alert = %+v", a)
	}
}
