package detector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
)

// Format is the shape an alert is published in.
type Format string

const (
	// FormatSentinel is the Sentinel alert shape (SPEC section 4), the default.
	FormatSentinel Format = "sentinel"
	// FormatOCSF is an OCSF 1.8.0 Detection Finding (class_uid 2004).
	FormatOCSF Format = "ocsf"
)

// outputTimeLayout is how every timestamp in output JSON is written: UTC with
// exactly seven fractional digits, as Log Analytics writes TimeGenerated.
const outputTimeLayout = "2006-01-02T15:04:05.0000000Z"

// ParseFormat returns the Format named by s, ignoring ASCII case. The empty
// string means FormatSentinel.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case "":
		return FormatSentinel, nil
	case FormatSentinel, FormatOCSF:
		return f, nil
	}
	return "", fmt.Errorf("unknown alert format %q (want %q or %q)", s, FormatSentinel, FormatOCSF)
}

// Marshal returns the alert as one compact JSON object in format f, without a
// trailing newline. <, > and & are escaped so HTML-rendering consumers are
// safe, and so is every character that could split a line or hide text
// (stream.AppendSafeJSON), whatever the sign-ins held.
func (a *Alert) Marshal(f Format) ([]byte, error) {
	return a.AppendJSON(nil, f)
}

// AppendJSON appends the alert as one compact JSON object in format f to dst.
// The empty format means FormatSentinel.
func (a *Alert) AppendJSON(dst []byte, f Format) ([]byte, error) {
	var v any
	switch f {
	case FormatSentinel, "":
		v = a
	case FormatOCSF:
		v = a.ocsf()
	default:
		return dst, fmt.Errorf("marshal alert %s revision %d: unknown format %q", a.AlertId, a.Revision, f)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("marshal alert %s revision %d as %s: %w", a.AlertId, a.Revision, f, err)
	}
	return stream.AppendSafeJSON(dst, b), nil
}

// outputTime is a time.Time that marshals in outputTimeLayout.
type outputTime time.Time

// MarshalJSON writes t in UTC with seven fractional digits.
func (t outputTime) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(outputTimeLayout)+2)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, outputTimeLayout)
	return append(b, '"'), nil
}

// jsonMember is one key and value of a jsonObject.
type jsonMember struct {
	key   string
	value any
}

// jsonObject is a JSON object that keeps its members in order, for the
// shapes whose key order carries meaning (entities, custom details).
type jsonObject []jsonMember

// MarshalJSON writes the members in order.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.key)
		if err != nil {
			return nil, fmt.Errorf("marshal key %q: %w", m.key, err)
		}
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, fmt.Errorf("marshal value of %q: %w", m.key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// nonNil returns s, or an empty slice when s is nil, so it marshals as [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
