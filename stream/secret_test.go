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

func TestParseSecretRefTakesOnlyAReference(t *testing.T) {
	tests := []struct {
		name, ref  string
		wantOrigin string // empty: refused
	}{
		{"an environment variable", "env:KAFKA_SASL_PASSWORD", "env KAFKA_SASL_PASSWORD"},
		{"a lower-case name with digits", "env:_pw2", "env _pw2"},
		{"a file", "file:/run/secrets/kafka", "file /run/secrets/kafka"},
		{"a relative file with a colon", "file:secrets/a:b", "file secrets/a:b"},
		{"the secret itself", testSecret, ""},
		{"a connection string", "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKey=" + testSecret, ""},
		{"the secret after env:", "env:" + testSecret, ""},
		{"a connection string after env:", "env:Endpoint=sb://x/;SharedAccessKey=" + testSecret, ""},
		{"a name starting with a digit", "env:2PW", ""},
		{"no name", "env:", ""},
		{"no path", "file:", ""},
		{"an upper-case kind", "ENV:KAFKA_SASL_PASSWORD", ""},
		{"a leading space", " env:KAFKA_SASL_PASSWORD", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := stream.ParseSecretRef(tt.ref)
			if tt.wantOrigin == "" {
				if err == nil || !strings.Contains(err.Error(), "want env:NAME or file:PATH") {
					t.Fatalf("err = %v, want it refused saying what form is expected", err)
				}
				if strings.Contains(err.Error(), testSecret) {
					t.Fatalf("the error quotes the secret: %v", err)
				}
				return
			}
			if err != nil || r.String() != tt.wantOrigin {
				t.Fatalf("ParseSecretRef = %q, %v; want %q", r, err, tt.wantOrigin)
			}
		})
	}
}

func TestSecretRefRead(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	empty := filepath.Join(dir, "empty")
	for path, content := range map[string]string{full: testSecret + "\n", empty: ""} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	getenv := func(k string) string { return map[string]string{"PW": testSecret}[k] }
	tests := []struct {
		name, ref string
		wantErr   string // empty: the secret is read
	}{
		{"a set variable", "env:PW", ""},
		{"a file", "file:" + full, ""},
		{"an unset variable is named", "env:UNSET", "environment variable UNSET is empty or unset"},
		{"an empty file is named", "file:" + empty, "file " + empty + " is empty"},
		{"a missing file is named", "file:" + filepath.Join(dir, "absent"), filepath.Join(dir, "absent")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := stream.ParseSecretRef(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			s, err := r.Read(getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || s.Reveal() != testSecret || s.Origin() != r.String() {
				t.Fatalf("Read = %q from %q, %v; want the secret from %q", s.Reveal(), s.Origin(), err, r)
			}
		})
	}
	if _, err := (stream.SecretRef{}).Read(getenv); err == nil {
		t.Fatal("the zero SecretRef was read")
	}
}
