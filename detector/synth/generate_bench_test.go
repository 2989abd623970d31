package synth

import (
	"context"
	"io"
	"testing"
)

// countingDiscard counts bytes and drops them.
type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func BenchmarkGenerate(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"records=10000", Config{Records: 10000, Seed: 1}},
		{"records=10000/ropc=5%", Config{Records: 10000, Seed: 1, ROPCRate: 0.05}},
		// Building the population (5000 users) dominates small runs; this
		// one shows the steady state.
		{"records=100000", Config{Records: 100000, Seed: 1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var w countingDiscard
			if _, err := Generate(context.Background(), bc.cfg, &w); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(w.n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := Generate(context.Background(), bc.cfg, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
