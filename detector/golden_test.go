package detector

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// update rewrites golden files under testdata instead of comparing with them:
// go test ./detector/ -update
var update = flag.Bool("update", false, "rewrite golden files in testdata")

// checkGolden compares compact JSON got with testdata/name, stored indented
// for review. With -update it writes the file instead.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	var indented bytes.Buffer
	if err := json.Indent(&indented, got, "", "  "); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	indented.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, indented.Bytes(), 0o644); err != nil {
			t.Fatalf("update golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if !bytes.Equal(indented.Bytes(), want) {
		t.Errorf("%s differs from golden file (run with -update if intended)\ngot:\n%s\nwant:\n%s", name, indented.Bytes(), want)
	}
}
