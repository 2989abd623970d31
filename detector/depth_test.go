package detector

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// jsonDepth is the nesting depth of valid JSON as encoding/json's streaming
// decoder, which does not recurse, sees it.
func jsonDepth(t *testing.T, msg []byte) int {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(msg))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return deepest
		}
		if err != nil {
			t.Fatalf("valid JSON failed to tokenize: %v", err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// FuzzTooDeep checks the depth bound against encoding/json on valid JSON:
// too-deep exactly when objects and arrays nest past maxDepth, whatever the
// strings and escapes around the brackets.
func FuzzTooDeep(f *testing.F) {
	f.Add([]byte(`{"a":[{"b":"[[[\"{{"}]}`), uint8(0))
	f.Add([]byte(`{"k":"\\"}`), uint8(70))
	f.Add([]byte(`[]`), uint8(63))
	f.Fuzz(func(t *testing.T, inner []byte, wrap uint8) {
		// Wrap the input in as many arrays as the fuzzer asks, so depths
		// around the bound are reached from small inputs.
		n := int(wrap % 80)
		msg := []byte(strings.Repeat("[", n) + string(inner) + strings.Repeat("]", n))
		if !json.Valid(msg) {
			return
		}
		want := jsonDepth(t, msg) > maxDepth
		if got := tooDeep(msg); got != want {
			t.Fatalf("tooDeep = %v, want %v (depth %d) for %q", got, want, jsonDepth(t, msg), msg)
		}
	})
}

// TestTooDeepCostsNoStack feeds a nesting bomb of a mebibyte: it is rejected
// without recursion, in a single pass.
func TestTooDeepCostsNoStack(t *testing.T) {
	bomb := []byte(`{"AuthenticationProtocol":"ropc","x":` + strings.Repeat("[", 1<<20) + `}`)
	f := scan(&Scanner{Rule: SeedRule()}, string(bomb))
	if f.Stats.Rejected[ReasonTooDeep] != 1 {
		t.Fatalf("rejected = %v, want too-deep", f.Stats.Rejected)
	}
	if allocs := testing.AllocsPerRun(10, func() { tooDeep(bomb) }); allocs != 0 {
		t.Fatalf("tooDeep allocates %v times", allocs)
	}
}
