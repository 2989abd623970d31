package detector

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
	"github.com/ropcwatch/ropcwatch/stream"
)

// TestBatchMatchesGeneratorTruth runs the detector over generated streams
// and compares every result row with the generator's truth, which the
// generator computes by construction, never by running this rule.
func TestBatchMatchesGeneratorTruth(t *testing.T) {
	tests := []struct {
		name string
		cfg  synth.Config
		full bool
	}{
		{"the network allowlist in force", synth.Config{Records: 30000, Seed: 1, AllowlistIPs: true}, false},
		{"no network allowlist", synth.Config{Records: 30000, Seed: 2}, false},
		{"a high ROPC share", synth.Config{Records: 20000, Seed: 3, ROPCRate: 0.05, AllowlistIPs: true}, false},
		{"every record decoded", synth.Config{Records: 20000, Seed: 4, AllowlistIPs: true}, true},
		{"single-record messages", synth.Config{Records: 20000, Seed: 5, RecordsPerMessage: synth.IntRange{Min: 1, Max: 1}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if testing.Short() && tt.cfg.Records > 20000 {
				tt.cfg.Records = 20000
			}
			var in bytes.Buffer
			truth, err := synth.Generate(context.Background(), tt.cfg, &in)
			if err != nil {
				t.Fatal(err)
			}
			var nets *NetworkAllowlist
			if tt.cfg.AllowlistIPs {
				var csv bytes.Buffer
				if err := synth.WriteAllowlist(&csv); err != nil {
					t.Fatal(err)
				}
				if nets, err = ParseNetworkAllowlist(&csv); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			cfg := BatchConfig{Rule: SeedRule(), Allowlist: nets, FullDecode: tt.full, ChunkSize: 64 << 10}
			stats, err := RunBatch(context.Background(), cfg, &in, &out, nil)
			if err != nil {
				t.Fatal(err)
			}
			if stats.RejectedTotal() != 0 {
				t.Fatalf("generated input rejected: %v", stats.Rejected)
			}
			if int(stats.Messages) != truth.Stats.Messages {
				t.Fatalf("messages = %d, generator wrote %d", stats.Messages, truth.Stats.Messages)
			}
			d := synth.Compare(truth.Rows, resultRows(t, out.Bytes()))
			if !d.Empty() || d.Matched == 0 {
				var rep bytes.Buffer
				d.WriteReport(&rep, 5)
				t.Fatalf("alerts differ from the truth:\n%s", rep.String())
			}
		})
	}
}

// resultRows reads the Result rows of Sentinel-shape alert lines.
func resultRows(t *testing.T, alerts []byte) []synth.TruthRow {
	t.Helper()
	var rows []synth.TruthRow
	sc := bufio.NewScanner(bytes.NewReader(alerts))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a struct {
			Status    string
			WindowEnd time.Time
			Result    synth.TruthRow
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		if a.Status != string(StatusFinal) {
			t.Fatalf("batch alert with status %q", a.Status)
		}
		a.Result.WindowEnd = a.WindowEnd
		rows = append(rows, a.Result)
	}
	return rows
}

func TestBatchDeadLettersCarryLineNumbers(t *testing.T) {
	in := "\n" + ropc("a") + "\n{oops\n\n" + `{"records":[` + ropc("b") + `,{"TimeGenerated":"2026-05-01T09:00:00Z","AuthenticationProtocol":"ropc","ResultType":true}]}` + "\n"
	var dead deadLetters
	var out bytes.Buffer
	stats, err := RunBatch(context.Background(), BatchConfig{Rule: SeedRule(), Source: "in.jsonl", ChunkSize: 16}, bytes.NewBufferString(in), &out, &dead)
	if err != nil {
		t.Fatal(err)
	}
	want := "in.jsonl:3 invalid-json\nin.jsonl:5 wrong-type:ResultType\n"
	if dead.String() != want {
		t.Fatalf("dead letters:\n%s\nwant\n%s", dead.String(), want)
	}
	if stats.Messages != 3 || stats.RejectedTotal() != 2 || bytes.Count(out.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("stats %+v, alerts:\n%s", stats, out.String())
	}
}

type deadLetters struct{ bytes.Buffer }

func (d *deadLetters) Write(dl stream.DeadLetter) error {
	_, err := fmt.Fprintf(&d.Buffer, "%s:%d %s\n", dl.Source, dl.Position, dl.Reason)
	return err
}
