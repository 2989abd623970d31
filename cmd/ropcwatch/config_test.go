package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigPrecedenceAndCheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ropcwatch.yaml")
	if err := os.WriteFile(file, []byte("brokers: file-broker:9092\ntopic: from-file\nalerts-topic: alerts-from-file\nlateness: 7m\ngroup: file-group\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ROPCWATCH_TOPIC": "from-env", "ROPCWATCH_GROUP": "env-group", "KAFKA_SASL_PASSWORD": "hunter2"}
	r := runWithEnv(t, env, "config", "check", "--config", file, "--group", "flag-group", "--sasl-mechanism", "PLAIN", "--sasl-user", "u")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"brokers                      file-broker:9092", // file only
		"topic                        from-env",         // env over file
		"group                        flag-group",       // flag over env and file
		"lateness                     7m0s",
		"sasl-password                env KAFKA_SASL_PASSWORD ([redacted])",
		"configuration is valid",
	} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "hunter2") {
		t.Fatal("a secret was printed")
	}
}

func TestConfigCheckPrintsASecretAsItsReference(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	conn := filepath.Join(dir, "conn")
	for path, content := range map[string]string{pw: leakPassword, conn: leakConn} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	plain := []string{"--brokers", "k:9092", "--sasl-mechanism", "PLAIN", "--sasl-user", "u"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"the default password variable", map[string]string{"KAFKA_SASL_PASSWORD": leakPassword}, plain,
			[]string{"sasl-password                env KAFKA_SASL_PASSWORD ([redacted])"}},
		{"a password file", nil, append(plain, "--sasl-password", "file:"+pw),
			[]string{"sasl-password                file " + pw + " ([redacted])"}},
		{"a password reference in ROPCWATCH_*", map[string]string{"ROPCWATCH_SASL_PASSWORD": "env:PW", "PW": leakPassword}, plain,
			[]string{"sasl-password                env PW ([redacted])"}},
		{"no password", nil, []string{"--brokers", "k:9092", "--sasl-password", ""},
			[]string{"sasl-password                \n"}},
		{"the default connection string variable", map[string]string{"EVENTHUBS_CONNECTION_STRING": leakConn}, nil,
			[]string{"eventhubs-connection-string  env EVENTHUBS_CONNECTION_STRING ([redacted])", "effective brokers            (from the Event Hubs connection string)"}},
		{"a connection string file", nil, []string{"--eventhubs-connection-string", "file:" + conn},
			[]string{"eventhubs-connection-string  file " + conn + " ([redacted])"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runWithEnv(t, tt.env, append([]string{"config", "check", "--topic", "s", "--alerts-topic", "a"}, tt.args...)...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, r.stdout)
				}
			}
			if got := leaked(r.stdout+r.stderr, []string{leakPassword, leakEHKey, leakEHHost}); got != "" {
				t.Fatalf("%q of a secret was printed:\n%s", got, r.stdout)
			}
		})
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, file, want string }{
		{"an unknown key", "brokers: k:9092\nlatenes: 5m\n", "latenes"},
		{"a bad duration", "brokers: k:9092\ntopic: t\nalerts-topic: a\nlateness: 5x\n", "lateness"},
		{"a bad format", "brokers: k:9092\ntopic: t\nalerts-topic: a\nformat: xml\n", "--format"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.Repeat("c", i+1)+".yaml")
			if err := os.WriteFile(file, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runWithEnv(t, nil, "config", "check", "--config", file)
			if r.code != exitFailure || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 naming %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

func runWithEnv(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return runWith(t.Context(), t, func(k string) string { return env[k] }, "", args...)
}
