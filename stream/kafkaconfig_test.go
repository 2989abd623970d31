package stream_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ropcwatch/ropcwatch/stream"
)

func TestKafkaConfigValidateNamesTheSetting(t *testing.T) {
	brokers := []string{"kafka-0:9092"}
	unset := stream.SecretFromEnv(func(string) string { return "" }, "KAFKA_PASSWORD")
	tests := []struct {
		name    string
		cfg     stream.KafkaConfig
		wantErr string // "" means valid
	}{
		{"plaintext brokers are enough", stream.KafkaConfig{Brokers: brokers}, ""},
		{"no brokers", stream.KafkaConfig{}, "Brokers is empty"},
		{"broker without port", stream.KafkaConfig{Brokers: []string{"kafka-0"}}, "Brokers[0]"},
		{"scram needs a user", stream.KafkaConfig{Brokers: brokers, SASL: stream.SASLConfig{Mechanism: "SCRAM-SHA-512", Password: secret("x")}}, "SASL.User"},
		{"scram needs a password, and says which variable to set", stream.KafkaConfig{Brokers: brokers, SASL: stream.SASLConfig{Mechanism: "SCRAM-SHA-256", User: "u", Password: unset}}, "SASL.Password (from env KAFKA_PASSWORD) is empty"},
		{"mechanism is case-insensitive", stream.KafkaConfig{Brokers: brokers, SASL: stream.SASLConfig{Mechanism: "plain", User: "u", Password: secret("x")}}, ""},
		{"unknown mechanism", stream.KafkaConfig{Brokers: brokers, SASL: stream.SASLConfig{Mechanism: "GSSAPI"}}, "SASL.Mechanism"},
		{"oauthbearer needs a token source", stream.KafkaConfig{Brokers: brokers, SASL: stream.SASLConfig{Mechanism: "OAUTHBEARER"}}, "SASL.Token"},
		{"credentials without a mechanism", stream.KafkaConfig{Brokers: brokers, SASL: stream.SASLConfig{User: "u"}}, "SASL.Mechanism is empty"},
		{"TLS files need TLS enabled", stream.KafkaConfig{Brokers: brokers, TLS: stream.TLSConfig{CAFile: "ca.pem"}}, "TLS.Enabled"},
		{"client cert needs its key", stream.KafkaConfig{Brokers: brokers, TLS: stream.TLSConfig{Enabled: true, CertFile: "c.pem"}}, "TLS.KeyFile"},
		{"event hubs needs no brokers", stream.KafkaConfig{EventHubsConnectionString: secret("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v")}, ""},
		{"event hubs implies PLAIN", stream.KafkaConfig{EventHubsConnectionString: secret("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v"), SASL: stream.SASLConfig{Mechanism: "PLAIN", User: "u", Password: secret("p")}}, "SASL.Mechanism must be empty"},
		{"bad connection string", stream.KafkaConfig{EventHubsConnectionString: secret("Endpoint=sb://ns/")}, "EventHubsConnectionString (from env TEST_SECRET)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestFileTokenSourceRereadsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	src := stream.FileTokenSource(path)
	ctx := context.Background()
	if _, err := src.Token(ctx); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("missing file: err = %v, want it to name %s", err, path)
	}
	for _, tok := range []string{"first-token", "rotated-token"} {
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := src.Token(ctx)
		if err != nil || got != tok {
			t.Fatalf("Token() = %q, %v; want %q", got, err, tok)
		}
	}
	if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(ctx); err == nil {
		t.Fatal("empty token file: want an error")
	}
}

func TestAzureTokenSourceRejectsANonHost(t *testing.T) {
	if _, err := stream.AzureTokenSource("sb://contoso.servicebus.windows.net/"); err == nil {
		t.Fatal("want an error for a URL instead of a host")
	}
}
