package stream

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestEventHubsTargetsGetEventHubsDefaults(t *testing.T) {
	conn := SecretFromEnv(func(string) string {
		return "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v"
	}, "EH")
	tests := []struct {
		name      string
		cfg       KafkaConfig
		eventHubs bool
	}{
		{"connection string", KafkaConfig{EventHubsConnectionString: conn}, true},
		{"namespace broker with OAUTHBEARER", KafkaConfig{Brokers: []string{"ns.servicebus.windows.net:9093"}}, true},
		{"sovereign cloud namespace", KafkaConfig{Brokers: []string{"NS.servicebus.usgovcloudapi.net:9093"}}, true},
		{"plain Kafka", KafkaConfig{Brokers: []string{"kafka-0.kafka:9092"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.isEventHubs(); got != tt.eventHubs {
				t.Fatalf("isEventHubs() = %v, want %v", got, tt.eventHubs)
			}
			codec, err := ProducerConfig{Kafka: tt.cfg}.codec()
			if err != nil {
				t.Fatal(err)
			}
			// Event Hubs' Kafka endpoint takes only gzip.
			if wantGzip := tt.eventHubs; (codec == kgo.GzipCompression()) != wantGzip {
				t.Errorf("default compression %v, want gzip %v", codec, wantGzip)
			}
			msg := refused(tt.cfg, []string{"alerts"}, errors.New("POLICY_VIOLATION")).Error()
			if strings.Contains(msg, "Event Hubs namespace") != tt.eventHubs || !strings.Contains(msg, "alerts") {
				t.Errorf("refusal message %q: want the topic, and the Event Hubs advice only for Event Hubs", msg)
			}
		})
	}
}
