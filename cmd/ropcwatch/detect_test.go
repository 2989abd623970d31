package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/ropcwatch/ropcwatch/detector/ocsftest"
)

var update = flag.Bool("update", false, "rewrite golden files from the current output")

// processedAt is the one field of an alert that is wall-clock time (SPEC
// section 4); golden files hold a placeholder instead.
var processedAt = regexp.MustCompile(`"(ProcessedAt|processed_time)":("[^"]*"|\d+)`)

func normalise(b []byte) []byte {
	return processedAt.ReplaceAll(b, []byte(`"$1":"<wall clock>"`))
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/ropcwatch -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the output:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runCmdContext(context.Background(), t, stdin, args...)
}

func runCmdContext(ctx context.Context, t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runWith(ctx, t, func(string) string { return "" }, stdin, args...)
}

func runWith(ctx context.Context, t *testing.T, getenv func(string) string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, args, getenv, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func gzipFile(t *testing.T, src string) string {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "input.jsonl.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDetectGolden(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		golden string
		code   int
	}{
		{"alerts in the Sentinel shape with the network allowlist", []string{"--input", "testdata/mixed.jsonl", "--allowlist", "testdata/allow.csv"}, "mixed.sentinel.golden.jsonl", exitOK},
		{"gzip input gives the same alerts", []string{"--input", "GZIP:testdata/mixed.jsonl", "--allowlist", "testdata/allow.csv"}, "mixed.sentinel.golden.jsonl", exitOK},
		{"full decoding gives the same alerts", []string{"--input", "testdata/mixed.jsonl", "--allowlist", "testdata/allow.csv", "--validate", "full"}, "mixed.sentinel.golden.jsonl", exitOK},
		{"one worker gives the same alerts", []string{"--input", "testdata/mixed.jsonl", "--allowlist", "testdata/allow.csv", "--workers", "1"}, "mixed.sentinel.golden.jsonl", exitOK},
		{"without the allowlist the allowlisted ranges alert", []string{"--input", "testdata/mixed.jsonl"}, "mixed.noallowlist.golden.jsonl", exitOK},
		{"alerts in the OCSF shape", []string{"--input", "testdata/mixed.jsonl", "--allowlist", "testdata/allow.csv", "--format", "ocsf"}, "mixed.ocsf.golden.jsonl", exitOK},
		{"one alert per window with SingleAlert", []string{"--input", "testdata/mixed.jsonl", "--allowlist", "testdata/allow.csv", "--rule", "testdata/single-alert.yaml"}, "mixed.single.golden.jsonl", exitOK},
		{"windows shifted by an offset", []string{"--input", "testdata/mixed.jsonl", "--allowlist", "testdata/allow.csv", "--window-offset", "30m"}, "mixed.offset.golden.jsonl", exitOK},
		{"bad input is rejected, good input still alerts", []string{"--input", "testdata/bad.jsonl"}, "bad.sentinel.golden.jsonl", exitRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, a := range tt.args {
				if p, ok := strings.CutPrefix(a, "GZIP:"); ok {
					tt.args[i] = gzipFile(t, p)
				}
			}
			r := runCmd(t, "", append([]string{"detect"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, tt.code, r.stderr)
			}
			if strings.Contains(tt.golden, ".ocsf.") {
				// The golden file as emitted: its placeholders hold the wall clock.
				ocsftest.CheckLines(t, []byte(r.stdout))
			}
			golden(t, tt.golden, normalise([]byte(r.stdout)))
		})
	}
}

func TestDetectDeadLetters(t *testing.T) {
	dead := filepath.Join(t.TempDir(), "dead.jsonl")
	r := runCmd(t, "", "detect", "--input", "testdata/bad.jsonl", "--dead-letter", dead, "--output", filepath.Join(t.TempDir(), "alerts.jsonl"))
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, exitRejected, r.stderr)
	}
	got, err := os.ReadFile(dead)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "bad.deadletter.golden.jsonl", bytes.ReplaceAll(got, []byte(dead), nil))
	golden(t, "bad.report.golden.txt", []byte(strings.ReplaceAll(r.stderr, dead, "DEAD")))
}

func TestDetectStdinAndHugeLine(t *testing.T) {
	good, err := os.ReadFile("testdata/mixed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	huge := `{"records":[{"properties":{"authenticationProtocol":"ropc","pad":"` + strings.Repeat("x", 10<<20) + `"}}]}`
	r := runCmd(t, huge+"\n"+string(good), "detect", "--input", "-", "--allowlist", "testdata/allow.csv")
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, exitRejected, r.stderr)
	}
	if !strings.Contains(r.stderr, "rejected too-large: 1") {
		t.Fatalf("the 10 MB line is not reported:\n%s", r.stderr)
	}
	golden(t, "mixed.sentinel.golden.jsonl", normalise([]byte(r.stdout)))
}

func TestDetectUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no input", []string{"detect"}, "--input is required"},
		{"an unknown format", []string{"detect", "--input", "-", "--format", "xml"}, "--format"},
		{"an unknown validation", []string{"detect", "--input", "-", "--validate", "some"}, "--validate"},
		{"a missing rule file", []string{"detect", "--input", "-", "--rule", "testdata/none.yaml"}, "--rule"},
		{"a missing allowlist", []string{"detect", "--input", "-", "--allowlist", "testdata/none.csv"}, "--allowlist"},
		{"a missing input file", []string{"detect", "--input", "testdata/none.jsonl"}, "none.jsonl"},
		{"an unknown command", []string{"detekt"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", tt.args...)
			if r.code != exitFailure || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 naming %q", r.code, r.stderr, tt.want)
			}
		})
	}
}
