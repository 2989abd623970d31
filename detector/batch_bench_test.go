package detector

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync"
	"testing"

	"github.com/ropcwatch/ropcwatch/detector/synth"
)

// benchInput is generated once: about 256 MB of diagnostic-settings
// envelopes (median record about 4 KB, 0.5% ROPC), as the issue specifies.
var benchInput = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	if _, err := synth.Generate(context.Background(), synth.Config{Records: 48000, Seed: 1}, &buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
})

// BenchmarkDetect measures `ropcwatch detect` minus file I/O: chunking,
// framing, prefilter, decoding of candidates, matching, windows and alerts.
// Run with -cpu 1,2 to see one core and all cores.
func BenchmarkDetect(b *testing.B) {
	in := benchInput()
	cfg := BatchConfig{Rule: SeedRule()}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RunBatch(context.Background(), cfg, bytes.NewReader(in), io.Discard, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDetectFullDecode is --validate full: every record decoded.
func BenchmarkDetectFullDecode(b *testing.B) {
	in := benchInput()
	cfg := BatchConfig{Rule: SeedRule(), FullDecode: true}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RunBatch(context.Background(), cfg, bytes.NewReader(in), io.Discard, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// baselineRecord holds the columns the rule reads, for the baseline below.
type baselineRecord struct {
	Time       string `json:"time"`
	Category   string `json:"category"`
	ResultType string `json:"resultType"`
	Location   string `json:"location"`
	Properties struct {
		ID                     string `json:"id"`
		AuthenticationProtocol string `json:"authenticationProtocol"`
		AppDisplayName         string `json:"appDisplayName"`
		UserPrincipalName      string `json:"userPrincipalName"`
		IPAddress              string `json:"ipAddress"`
	} `json:"properties"`
}

// BenchmarkBaselineEncodingJSON is the reference the issue names: a plain
// encoding/json decode of every record, one goroutine, then the same match.
func BenchmarkBaselineEncodingJSON(b *testing.B) {
	in := benchInput()
	rule := SeedRule()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		matches := 0
		for line := range bytes.Lines(in) {
			var env struct{ Records []baselineRecord }
			if err := json.Unmarshal(line, &env); err != nil {
				b.Fatal(err)
			}
			for _, r := range env.Records {
				s := SignIn{AuthenticationProtocol: r.Properties.AuthenticationProtocol, ResultType: r.ResultType,
					AppDisplayName: r.Properties.AppDisplayName, UserPrincipalName: r.Properties.UserPrincipalName,
					IPAddress: r.Properties.IPAddress, Location: r.Location, Id: r.Properties.ID}
				if r.Category == diagnosticCategory && rule.Match(&s, nil) == Match {
					matches++
				}
			}
		}
		if matches == 0 {
			b.Fatal("baseline found no match")
		}
	}
}
