// Package ocsftest checks OCSF output in tests. An event passes when it is a
// valid OCSF 1.8.0 Detection Finding by the class's JSON Schema
// (testdata/detection_finding-1.8.0.schema.json; see PROVENANCE.md beside
// it), profiles included, and when every observable names an attribute of the
// event that holds the observable's value.
package ocsftest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

//go:embed testdata/detection_finding-1.8.0.schema.json
var schemaJSON []byte

// schemaURL names the schema to the compiler; nothing is fetched from it.
const schemaURL = "urn:ocsf:1.8.0:detection_finding"

// compiled is the schema, decoded and compiled.
type compiled struct {
	doc    any
	schema *jsonschema.Schema
}

// schema compiles the schema once for every test of a binary.
var schema = sync.OnceValues(func() (compiled, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return compiled{}, fmt.Errorf("decode the OCSF schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return compiled{}, fmt.Errorf("add the OCSF schema: %w", err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return compiled{}, fmt.Errorf("compile the OCSF schema: %w", err)
	}
	return compiled{doc, s}, nil
})

// Validate returns every way event, one JSON object, is not a valid OCSF
// 1.8.0 Detection Finding, joined, or nil when it is one.
func Validate(event []byte) error {
	c, err := schema()
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(event))
	if err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	var errs []error
	if err := c.schema.Validate(doc); err != nil {
		errs = append(append(errs, err), c.profileHints(err)...)
	}
	return errors.Join(append(errs, observables(doc)...)...)
}

// profileHints returns, for each attribute refused because metadata.profiles
// does not name the profile that adds it, which profile that is: the
// validator says only "not failed" there.
func (c compiled) profileHints(err error) []error {
	var hints []error
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if _, ok := e.ErrorKind.(*kind.Not); ok {
			if p := c.missingProfile(e.SchemaURL); p != "" {
				hints = append(hints, fmt.Errorf("/%s is added by the %q profile, which metadata.profiles does not name",
					strings.Join(e.InstanceLocation, "/"), p))
			}
		}
		for _, cause := range e.Causes {
			walk(cause)
		}
	}
	if ve, ok := errors.AsType[*jsonschema.ValidationError](err); ok {
		walk(ve)
	}
	return hints
}

// missingProfile returns the profile the schema at url (this schema's URL and
// a JSON pointer) marks as missing, or "".
func (c compiled) missingProfile(url string) string {
	_, ptr, _ := strings.Cut(url, "#")
	node := c.doc
	for tok := range strings.SplitSeq(strings.TrimPrefix(ptr, "/"), "/") {
		m, _ := node.(map[string]any)
		node = m[tok] // the schema's $defs names need no ~ escapes
	}
	m, _ := node.(map[string]any)
	p, _ := m["x-ocsf-missing-profile"].(string)
	return p
}

// Check fails t unless event is a valid OCSF 1.8.0 Detection Finding.
func Check(t testing.TB, event []byte) {
	t.Helper()
	if err := Validate(event); err != nil {
		t.Errorf("not a valid OCSF 1.8.0 Detection Finding: %v\nevent: %s", err, event)
	}
}

// CheckLines checks every line of jsonl, one event a line, with Check. It
// fails t when there is no line: a test that checks OCSF output expects some.
func CheckLines(t testing.TB, jsonl []byte) {
	t.Helper()
	if len(jsonl) == 0 {
		t.Fatal("no OCSF events to check")
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(jsonl, []byte("\n")), []byte("\n")) {
		if err := Validate(line); err != nil {
			t.Errorf("line %d is not a valid OCSF 1.8.0 Detection Finding: %v\nevent: %s", i+1, err, line)
		}
	}
}

// observables returns an error for each observable whose name does not lead,
// through the event's objects and arrays, to its value. The schema cannot
// say this: a name is only a string to it.
func observables(doc any) []error {
	event, _ := doc.(map[string]any)
	list, _ := event["observables"].([]any)
	var errs []error
	for i, o := range list {
		obs, _ := o.(map[string]any)
		name, _ := obs["name"].(string)
		value, _ := obs["value"].(string)
		if !holds(event, strings.Split(name, "."), value) {
			errs = append(errs, fmt.Errorf("observables[%d]: %q holds no value %q", i, name, value))
		}
	}
	return errs
}

// holds reports whether the attribute at path under v has value. An array
// on the way holds it when one of its elements does.
func holds(v any, path []string, value string) bool {
	switch v := v.(type) {
	case []any:
		return slices.ContainsFunc(v, func(e any) bool { return holds(e, path, value) })
	case map[string]any:
		if len(path) == 0 {
			return false
		}
		child, ok := v[path[0]]
		return ok && holds(child, path[1:], value)
	case string:
		return len(path) == 0 && v == value
	case json.Number:
		return len(path) == 0 && v.String() == value
	}
	return false
}
