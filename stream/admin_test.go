package stream_test

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

func TestEnsureTopicsIsIdempotent(t *testing.T) {
	ctx := testContext(t)
	tgt := target(t)
	existing := kafkatest.NewTopic(t, tgt, 2)
	fresh := kafkatest.TopicName(t, tgt)
	topics := map[string]int32{existing: 2, fresh: 3}
	for range 2 {
		if err := stream.EnsureTopics(ctx, tgt.Config, topics); err != nil {
			t.Fatalf("EnsureTopics: %v", err)
		}
	}
	p := newProducer(t, tgt.Config)
	if err := p.ProduceSync(ctx, stream.Record{Topic: fresh, Value: []byte("x")}); err != nil {
		t.Fatalf("produce to the created topic: %v", err)
	}
}

func TestEnsureTopicsRefusedNamesTheTopics(t *testing.T) {
	ctx := testContext(t)
	// A user with no ACLs may not create topics.
	tgt := kafkatest.Fake(t, kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin"),
		kfake.User("PLAIN", "reader", "reader-pw"),
	)
	cfg := tgt.Config
	cfg.SASL = stream.SASLConfig{Mechanism: "PLAIN", User: "reader", Password: secret("reader-pw")}
	err := stream.EnsureTopics(ctx, cfg, map[string]int32{"alerts": 3, "dead-letters": 1})
	if err == nil {
		t.Fatal("EnsureTopics succeeded without permission")
	}
	for _, want := range []string{"alerts", "dead-letters", "grant"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestValidTopicName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"ropcwatch-repartition", true},
		{"a.b_c-1", true},
		{"", false},
		{".", false},
		{"..", false},
		{"group=one-state", false},
		{"grüße", false},
		{strings.Repeat("x", 249), true},
		{strings.Repeat("x", 250), false},
	} {
		if err := stream.ValidTopicName(tt.name); (err == nil) != tt.ok {
			t.Errorf("ValidTopicName(%.20q) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
