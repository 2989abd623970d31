package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The secrets the tests hand over: random-looking, so that any echo of
// them shows, and with '-' and '=' so that "env:" before one is not a
// variable name.
const (
	leakPassword = "Zq8vW2kP-s3cr3t-7Jx=Tn4q"
	leakEHKey    = "Rk3m9XwQ2vLp8Hs5Zt1Yb6Nc4Jd0Fg7A="
	leakEHHost   = "q7leakns4x.servicebus.windows.net"
	leakConn     = "Endpoint=sb://" + leakEHHost + "/;SharedAccessKeyName=listen;SharedAccessKey=" + leakEHKey
)

// secretSetting is a setting that holds a reference to a secret.
type secretSetting struct {
	flag, env string
	value     string   // the secret
	marks     []string // the parts of value that must never be printed
}

var secretSettings = []secretSetting{
	{"sasl-password", "ROPCWATCH_SASL_PASSWORD", leakPassword, []string{leakPassword}},
	{"eventhubs-connection-string", "ROPCWATCH_EVENTHUBS_CONNECTION_STRING", leakConn, []string{leakEHKey, leakEHHost}},
}

// leaked returns the first eight or more characters of a mark that out
// holds, or "": a secret cut short still counts.
func leaked(out string, marks []string) string {
	const least = 8
	for _, m := range marks {
		for i := 0; i+least <= len(m); i++ {
			if strings.Contains(out, m[i:i+least]) {
				return m[i : i+least]
			}
		}
	}
	return ""
}

// settingSource is where a command reads settings from.
type settingSource int

const (
	fromFlags settingSource = iota
	fromEnvironment
	fromConfigFile
)

// secretCommand is a command run with a secret; base makes it fail fast
// (an unreachable broker) or finish quickly, and within timeout at most.
type secretCommand struct {
	name    string
	base    []string
	kafka   bool // it has the Kafka flags
	env     bool // it reads ROPCWATCH_* and --config
	timeout time.Duration
}

func secretCommands() []secretCommand {
	const broker = "127.0.0.1:1"
	return []secretCommand{
		{"run", []string{"run", "--brokers", broker, "--topic", "s", "--alerts-topic", "a", "--metrics-addr", "", "--shutdown-timeout", "200ms"}, true, true, 2 * time.Second},
		{"config check", []string{"config", "check", "--brokers", broker, "--topic", "s", "--alerts-topic", "a"}, true, true, 2 * time.Second},
		{"loadtest", []string{"loadtest", "--brokers", broker, "--topic", "s", "--alerts-topic", "a", "--generate", "1", "--wait", "1s", "--progress", "0", "--shutdown-timeout", "200ms"}, true, true, 2 * time.Second},
		// replay waits for the unreachable broker until it is stopped.
		{"replay", []string{"replay", "--brokers", broker, "--topic", "s", "--generate", "1", "--progress", "0"}, true, false, 200 * time.Millisecond},
		{"detect", []string{"detect", "--input", "testdata/mixed.jsonl"}, false, false, 2 * time.Second},
		{"generate", []string{"generate", "--records", "1"}, false, false, 2 * time.Second},
		{"compare", []string{"compare", "--alerts", "testdata/mixed.sentinel.golden.jsonl", "--baseline", "testdata/mixed.sentinel.golden.jsonl"}, false, false, 2 * time.Second},
		{"demo", []string{"demo", "--records", "10", "--duration", "500ms"}, false, false, 2 * time.Second},
	}
}

// secretWay is one way of giving a secret setting to a command.
type secretWay struct {
	name    string
	literal bool // the value itself, which must be refused
	source  settingSource
	give    func(t *testing.T, s secretSetting) (args []string, env map[string]string)
}

func secretWays() []secretWay {
	return []secretWay{
		{"a literal flag", true, fromFlags, func(_ *testing.T, s secretSetting) ([]string, map[string]string) {
			return []string{"--" + s.flag, s.value}, nil
		}},
		{"a literal flag after =", true, fromFlags, func(_ *testing.T, s secretSetting) ([]string, map[string]string) {
			return []string{"--" + s.flag + "=" + s.value}, nil
		}},
		{"an env: reference", false, fromFlags, func(_ *testing.T, s secretSetting) ([]string, map[string]string) {
			return []string{"--" + s.flag, "env:TEST_SECRET"}, map[string]string{"TEST_SECRET": s.value}
		}},
		{"a file: reference", false, fromFlags, func(t *testing.T, s secretSetting) ([]string, map[string]string) {
			path := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(path, []byte(s.value+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"--" + s.flag, "file:" + path}, nil
		}},
		{"the literal in ROPCWATCH_*", true, fromEnvironment, func(_ *testing.T, s secretSetting) ([]string, map[string]string) {
			return nil, map[string]string{s.env: s.value}
		}},
		{"the literal in the --config file", true, fromConfigFile, func(t *testing.T, s secretSetting) ([]string, map[string]string) {
			return []string{"--config", writeConfig(t, s.flag, s.value)}, nil
		}},
		{"an env: reference in the --config file", false, fromConfigFile, func(t *testing.T, s secretSetting) ([]string, map[string]string) {
			return []string{"--config", writeConfig(t, s.flag, "env:TEST_SECRET")}, map[string]string{"TEST_SECRET": s.value}
		}},
		{"the literal in a malformed env: reference", true, fromFlags, func(_ *testing.T, s secretSetting) ([]string, map[string]string) {
			return []string{"--" + s.flag, "env:" + s.value}, nil
		}},
		{"the literal in a malformed env: reference in ROPCWATCH_*", true, fromEnvironment, func(_ *testing.T, s secretSetting) ([]string, map[string]string) {
			return nil, map[string]string{s.env: "env:" + s.value}
		}},
	}
}

// writeConfig writes a --config file setting key to value.
func writeConfig(t *testing.T, key, value string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ropcwatch.yaml")
	if err := os.WriteFile(path, []byte(key+": '"+value+"'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// saslMechanisms returns the arguments that select each SASL mechanism
// with what it needs besides the password.
func saslMechanisms(t *testing.T) []struct {
	name string
	args []string
} {
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("a-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []struct {
		name string
		args []string
	}{
		{"no mechanism", nil},
		{"PLAIN", []string{"--sasl-mechanism", "PLAIN", "--sasl-user", "u"}},
		{"SCRAM-SHA-256", []string{"--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "u"}},
		{"SCRAM-SHA-512", []string{"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "u"}},
		{"OAUTHBEARER", []string{"--sasl-mechanism", "OAUTHBEARER", "--oauth-token-file", token}},
	}
}

func TestSecretsAreNeverPrintedAndLiteralsRefused(t *testing.T) {
	for _, c := range secretCommands() {
		for _, s := range secretSettings {
			for _, m := range saslMechanisms(t) {
				for _, w := range secretWays() {
					if w.source == fromEnvironment && !c.env {
						continue // a source the command does not read cannot reach it
					}
					t.Run(c.name+"/"+s.flag+"/"+m.name+"/"+w.name, func(t *testing.T) {
						t.Parallel()
						given, env := w.give(t, s)
						args := slices.Concat(c.base, m.args, given)
						ctx, cancel := context.WithTimeout(t.Context(), c.timeout)
						defer cancel()
						r := runWith(ctx, t, func(k string) string { return env[k] }, "", args...)
						if got := leaked(r.stdout+r.stderr, s.marks); got != "" {
							t.Fatalf("exit %d; %q of the secret was printed:\nstdout:\n%s\nstderr:\n%s", r.code, got, r.stdout, r.stderr)
						}
						if !w.literal {
							return
						}
						want := "--" + s.flag + ": want env:NAME or file:PATH"
						switch {
						case !c.kafka:
							want = "flag provided but not defined"
						case w.source == fromConfigFile && !c.env:
							want = "flag provided but not defined: -config"
						}
						if r.code != exitFailure || !strings.Contains(r.stderr, want) {
							t.Fatalf("exit %d, stderr %q; want the literal refused, exit 1 with %q", r.code, r.stderr, want)
						}
					})
				}
			}
		}
	}
}

func TestHelpNeverPrintsASecret(t *testing.T) {
	for _, c := range secretCommands() {
		if !c.kafka {
			continue
		}
		for _, s := range secretSettings {
			t.Run(c.name+"/"+s.flag, func(t *testing.T) {
				env := map[string]string{s.env: s.value}
				r := runWith(t.Context(), t, func(k string) string { return env[k] }, "", slices.Concat(c.base, []string{"--" + s.flag, s.value, "-h"})...)
				if r.code != exitOK {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				if got := leaked(r.stdout+r.stderr, s.marks); got != "" {
					t.Fatalf("%q of the secret was printed:\n%s%s", got, r.stdout, r.stderr)
				}
			})
		}
	}
}
