package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
)

func runArgs(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestGenerateCommandRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		flag string
	}{
		{"records are required", []string{"generate"}, "--records"},
		{"records must be positive", []string{"generate", "--records", "-5"}, "--records"},
		{"the rate is a share", []string{"generate", "--records", "5", "--ropc-rate", "2"}, "--ropc-rate"},
		{"start is RFC 3339", []string{"generate", "--records", "5", "--start", "2026-05-01 10:00"}, "--start"},
		{"users must be positive", []string{"generate", "--records", "5", "--users", "0"}, "--users"},
		{"an unwritable truth file fails before generating", []string{"generate", "--records", "5", "--truth", "/nonexistent/dir/truth.jsonl"}, "--truth"},
		{"an unknown flag is named", []string{"generate", "--records", "5", "--bogus"}, "-bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runArgs(tt.args...)
			if code != exitFailure || !strings.Contains(stderr, tt.flag) || stdout != "" {
				t.Fatalf("exit %d, stderr %q, %d bytes out; want exit %d naming %s and no output", code, stderr, len(stdout), exitFailure, tt.flag)
			}
		})
	}
}

func TestGenerateCommandWritesStreamTruthAndAllowlist(t *testing.T) {
	dir := t.TempDir()
	truthPath, alPath := filepath.Join(dir, "truth.jsonl"), filepath.Join(dir, "allowlist.csv")
	args := []string{"generate", "--records", "3000", "--seed", "9", "--ropc-rate", "0.03", "--start", "2026-06-01T08:30:00Z", "--truth", truthPath, "--allowlist-out", alPath}
	code, stdout, stderr := runArgs(args...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	t.Run("stdout is the library's stream with the allowlist in force", func(t *testing.T) {
		var want bytes.Buffer
		truth, err := synth.Generate(context.Background(), synth.Config{Records: 3000, Seed: 9, ROPCRate: 0.03,
			Start: synthStart(t, "2026-06-01T08:30:00Z"), AllowlistIPs: true}, &want)
		if err != nil {
			t.Fatal(err)
		}
		if stdout != want.String() {
			t.Fatal("stdout differs from synth.Generate with the same config")
		}
		var rows bytes.Buffer
		truth.WriteJSONLines(&rows)
		got, err := os.ReadFile(truthPath)
		if err != nil || !bytes.Equal(got, rows.Bytes()) || len(got) == 0 {
			t.Fatalf("truth file (%v) differs from the library's truth", err)
		}
	})
	t.Run("the first record starts at --start", func(t *testing.T) {
		var e struct{ Records []struct{ Time string } }
		first, _, _ := strings.Cut(stdout, "\n")
		if err := json.Unmarshal([]byte(first), &e); err != nil || !strings.HasPrefix(e.Records[0].Time, "2026-06-01T08:3") {
			t.Fatalf("first line %.100s (%v)", first, err)
		}
	})
	t.Run("the allowlist file is written", func(t *testing.T) {
		b, err := os.ReadFile(alPath)
		if err != nil || !strings.HasPrefix(string(b), "SearchKey") {
			t.Fatalf("allowlist %q (%v)", b, err)
		}
	})
	t.Run("a summary goes to stderr", func(t *testing.T) {
		if !strings.Contains(stderr, "3000 records") {
			t.Fatalf("stderr %q", stderr)
		}
	})
}

func synthStart(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
