package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickStart is the README's quick start through the command: generate,
// detect, compare with the truth; then a rule change shows up as a diff.
func TestQuickStart(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	gen := runCmd(t, "", "generate", "--records", "20000", "--seed", "7", "--truth", p("truth.jsonl"), "--allowlist-out", p("allow.csv"))
	if gen.code != exitOK {
		t.Fatalf("generate: exit %d\n%s", gen.code, gen.stderr)
	}
	if err := os.WriteFile(p("signins.jsonl"), []byte(gen.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	det := runCmd(t, "", "detect", "--input", p("signins.jsonl"), "--allowlist", p("allow.csv"), "--output", p("alerts.jsonl"))
	if det.code != exitOK {
		t.Fatalf("detect: exit %d\n%s", det.code, det.stderr)
	}
	cmp := runCmd(t, "", "compare", "--alerts", p("alerts.jsonl"), "--truth", p("truth.jsonl"))
	if cmp.code != exitOK || !strings.HasPrefix(cmp.stdout, "matched ") || !strings.Contains(cmp.stdout, "missing 0, extra 0, wrong 0") {
		t.Fatalf("compare: exit %d\n%s%s", cmp.code, cmp.stdout, cmp.stderr)
	}

	// Backtest: the same history without the network allowlist alerts more.
	det = runCmd(t, "", "detect", "--input", p("signins.jsonl"), "--output", p("alerts-noallow.jsonl"))
	if det.code != exitOK {
		t.Fatalf("detect: exit %d\n%s", det.code, det.stderr)
	}
	cmp = runCmd(t, "", "compare", "--alerts", p("alerts-noallow.jsonl"), "--baseline", p("alerts.jsonl"))
	if cmp.code != exitRejected || strings.Contains(cmp.stdout, "extra 0,") {
		t.Fatalf("compare of two rule versions: exit %d\n%s", cmp.code, cmp.stdout)
	}
}

func TestCompareUsage(t *testing.T) {
	for _, args := range [][]string{
		{"compare"},
		{"compare", "--alerts", "a", "--truth", "t", "--baseline", "b"},
		{"compare", "--alerts", "testdata/none.jsonl", "--truth", "t"},
	} {
		if r := runCmd(t, "", args...); r.code != exitFailure {
			t.Fatalf("%v: exit %d, want 1", args, r.code)
		}
	}
}
