package stream

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

const redacted = "[redacted]"

// Secret holds a credential read from an environment variable or a file,
// never from a command-line flag (flags show in process listings). Every
// way of printing it — fmt verbs, JSON, slog — yields "[redacted]"; only
// Reveal returns the value. The zero Secret is empty.
type Secret struct {
	value string
	// origin says where the value came from ("env KAFKA_PASSWORD",
	// "file /run/secrets/kafka"), for error messages; it is not secret.
	origin string
}

// SecretFromEnv reads the environment variable name through getenv. An
// unset or empty variable yields an empty Secret that still remembers its
// origin, so Validate can say which variable to set.
func SecretFromEnv(getenv func(string) string, name string) Secret {
	return Secret{value: getenv(name), origin: "env " + name}
}

// SecretFromFile reads the whole file at path and trims one trailing
// newline ("\n" or "\r\n"), as left by `echo` or a Kubernetes secret edited
// by hand.
func SecretFromFile(path string) (Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		// os errors name the path and the cause, never the content.
		return Secret{}, fmt.Errorf("read secret: %w", err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	return Secret{value: v, origin: "file " + path}, nil
}

// Reveal returns the secret value. Call it only where the value is handed
// to the authentication code.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// Origin says where the secret was read from, for error messages; empty for
// the zero Secret.
func (s Secret) Origin() string { return s.origin }

// String returns "[redacted]".
func (s Secret) String() string { return redacted }

// Format writes "[redacted]" for every verb and flag, so no fmt verb (%d,
// %x, %+v, ...) can print the value.
func (s Secret) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// GoString returns "[redacted]", so %#v does not print the value either.
func (s Secret) GoString() string { return redacted }

// MarshalJSON encodes the secret as the JSON string "[redacted]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[redacted]", for encoders that use
// encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer: logging a Secret logs "[redacted]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
