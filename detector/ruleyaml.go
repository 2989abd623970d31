package detector

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkKeys walks n alongside the Go type t that it decodes into and reports
// the first key t has no field for, or a value of the wrong shape, naming its
// path (such as incidentConfiguration.groupingConfiguration.enabled) and
// line. A yaml.Node field accepts anything.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if t == reflect.TypeFor[yaml.Node]() || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: want a mapping (line %d)", pathOrTop(path), n.Line)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			f, ok := yamlField(t, key)
			if !ok {
				return fmt.Errorf("%s: unknown key (line %d)", joinPath(path, key), n.Content[i].Line)
			}
			if err := checkKeys(n.Content[i+1], f.Type, joinPath(path, key)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("%s: want a list (line %d)", pathOrTop(path), n.Line)
		}
		for i, c := range n.Content {
			if err := checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return fmt.Errorf("%s: %q: want a whole number (line %d)", pathOrTop(path), n.Value, n.Line)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return fmt.Errorf("%s: %q: want true or false (line %d)", pathOrTop(path), n.Value, n.Line)
		}
	default:
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: want a single value (line %d)", pathOrTop(path), n.Line)
		}
	}
	return nil
}

// yamlField returns the field of struct type t whose yaml tag is key.
func yamlField(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func pathOrTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}
