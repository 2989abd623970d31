package stream

import (
	"errors"
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
	return Secret{value: getenv(name), origin: SecretRef{kind: envRef, where: name}.String()}
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
	return Secret{value: v, origin: SecretRef{kind: fileRef, where: path}.String()}, nil
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

// The kinds of SecretRef.
const (
	envRef  = "env"
	fileRef = "file"
)

// SecretRef says where a secret is kept: in an environment variable
// ("env:NAME") or in a file ("file:PATH"). A setting holds a SecretRef,
// never the secret itself. Neither the name nor the path is secret. The
// zero SecretRef names nothing.
type SecretRef struct {
	kind  string // envRef or fileRef
	where string // the variable name or the path
}

// ParseSecretRef parses "env:NAME", where NAME is an environment variable
// name (ASCII letters, digits and underscores, not starting with a digit),
// or "file:PATH", where PATH is not empty. Anything else is refused,
// whatever it looks like: a secret written as itself is never taken. The
// errors never quote ref, which may be the secret.
func ParseSecretRef(ref string) (SecretRef, error) {
	kind, where, _ := strings.Cut(ref, ":")
	switch {
	case kind == envRef && isEnvName(where):
		return SecretRef{kind: envRef, where: where}, nil
	case kind == envRef:
		return SecretRef{}, errors.New("want env:NAME or file:PATH; what follows env: is not a variable name (letters, digits and _, not starting with a digit)")
	case kind == fileRef && where != "":
		return SecretRef{kind: fileRef, where: where}, nil
	case kind == fileRef:
		return SecretRef{}, errors.New("want env:NAME or file:PATH; file: names no path")
	}
	return SecretRef{}, errors.New("want env:NAME or file:PATH, never the secret itself")
}

// isEnvName reports whether s is a portable environment variable name.
func isEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		if c != '_' && (c < '0' || c > '9') && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// IsZero reports whether r names nothing.
func (r SecretRef) IsZero() bool { return r.kind == "" }

// String returns where r points, "env NAME" or "file PATH", as the Origin
// of the Secret it reads; empty for the zero SecretRef.
func (r SecretRef) String() string {
	if r.IsZero() {
		return ""
	}
	return r.kind + " " + r.where
}

// Read reads the secret r names: the environment variable through getenv
// (SecretFromEnv) or the file (SecretFromFile). An unset or empty variable,
// an empty file and the zero SecretRef are errors.
func (r SecretRef) Read(getenv func(string) string) (Secret, error) {
	var s Secret
	switch r.kind {
	case envRef:
		if s = SecretFromEnv(getenv, r.where); s.IsZero() {
			return s, fmt.Errorf("environment variable %s is empty or unset", r.where)
		}
	case fileRef:
		var err error
		if s, err = SecretFromFile(r.where); err != nil {
			return s, err
		}
		if s.IsZero() {
			return s, fmt.Errorf("read secret: file %s is empty", r.where)
		}
	default:
		return s, errors.New("not set: want env:NAME or file:PATH")
	}
	return s, nil
}
