package loadreport

import "github.com/montanaflynn/stats"

// percentiles summarises latencies in milliseconds by nearest rank; no
// values give zeros.
func percentiles(values []float64, missing int) Percentiles {
	p := Percentiles{Count: len(values), Missing: missing}
	if len(values) == 0 {
		return p
	}
	at := func(percent float64) float64 {
		// Errors are for empty input or a percent outside 0..100: neither here.
		v, _ := stats.PercentileNearestRank(values, percent)
		return v
	}
	p.P50, p.P90, p.P99, p.Max = at(50), at(90), at(99), at(100)
	return p
}
