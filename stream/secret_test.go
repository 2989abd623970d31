package stream_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ropcwatch/ropcwatch/stream"
)

const testSecret = "hunter2-Sup3r-S3cret" //nolint:gosec // a test value

// secret returns a Secret holding v, the way cmd builds one from the
// environment.
func secret(v string) stream.Secret {
	return stream.SecretFromEnv(func(string) string { return v }, "TEST_SECRET")
}

func TestSecretFromFileTrimsOneTrailingNewline(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"no newline", "pw", "pw"},
		{"trailing newline from echo", "pw\n", "pw"},
		{"windows line ending", "pw\r\n", "pw"},
		{"only one newline is trimmed", "pw\n\n", "pw\n"},
		{"inner and leading spaces are kept", " p w", " p w"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := stream.SecretFromFile(path)
			if err != nil {
				t.Fatalf("SecretFromFile: %v", err)
			}
			if s.Reveal() != tt.want {
				t.Errorf("Reveal() = %q, want %q", s.Reveal(), tt.want)
			}
		})
	}
}

func TestSecretFromMissingFileNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent")
	_, err := stream.SecretFromFile(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want it to name %s", err, path)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	cfg := stream.KafkaConfig{
		Brokers:                   []string{"k:9092"},
		SASL:                      stream.SASLConfig{Mechanism: "PLAIN", User: "u", Password: secret(testSecret)},
		EventHubsConnectionString: secret("Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=" + testSecret),
	}
	jsonCfg, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "password", cfg.SASL.Password, "cfg", cfg)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "password", cfg.SASL.Password, "cfg", cfg)

	outputs := map[string]string{
		"%v":          fmt.Sprintf("%v", cfg),
		"%+v":         fmt.Sprintf("%+v", cfg),
		"%#v":         fmt.Sprintf("%#v", cfg),
		"%s":          fmt.Sprintf("%s", cfg.SASL.Password),
		"%d":          fmt.Sprintf("%d", cfg.SASL.Password),
		"%x":          fmt.Sprintf("%x", cfg.SASL.Password),
		"%q":          fmt.Sprintf("%q", cfg.SASL.Password),
		"json":        string(jsonCfg),
		"slog":        logged.String(),
		"Validate":    fmt.Sprint(cfg.Validate()),
		"wrong proto": fmt.Sprint(stream.KafkaConfig{EventHubsConnectionString: secret("Endpoint=https://x/;SharedAccessKey=" + testSecret)}.Validate()),
	}
	for how, out := range outputs {
		if strings.Contains(out, testSecret) {
			t.Errorf("%s output contains the secret: %s", how, out)
		}
	}
	if !strings.Contains(outputs["%+v"], "[redacted]") || !strings.Contains(outputs["json"], `"[redacted]"`) {
		t.Errorf("want [redacted] in %%+v and json, got %s / %s", outputs["%+v"], outputs["json"])
	}
}
