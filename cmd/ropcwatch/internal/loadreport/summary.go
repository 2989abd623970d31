package loadreport

import (
	"fmt"
	"io"
)

// WriteSummary writes the report's figures in a few lines for a terminal.
func (r *Report) WriteSummary(w io.Writer) {
	where := "in another process"
	if r.Settings.InProcess {
		where = "in process"
	}
	fmt.Fprintf(w, "loadtest  %s sign-ins in %s messages to %s (%d partitions), detector group %s %s\n",
		count(r.Settings.SignIns), count(r.Produced.Messages), r.Settings.Topic, r.Settings.Partitions, r.Settings.Group, where)
	for _, t := range []Throughput{r.Produced, r.Consumed} {
		name := "consumed"
		switch t.Source {
		case sourceReplayer:
			name = "produced"
		case sourceCommits:
			// Bytes are unknown, and the detector commits only past what
			// no open or retained window holds: a lower bound.
			fmt.Fprintf(w, "%-9s %s messages in %.2f s: %s messages/s (%s)\n",
				"committed", count(t.Messages), t.Seconds, count(t.MessagesPerSecond), t.Source)
			continue
		}
		fmt.Fprintf(w, "%-9s %s messages, %.1f MB in %.2f s: %s messages/s, %s sign-ins/s, %.1f MB/s (%s)\n",
			name, count(t.Messages), float64(t.Bytes)/1e6, t.Seconds, count(t.MessagesPerSecond), count(t.SignInsPerSecond), t.MBPerSecond, t.Source)
	}
	fmt.Fprintf(w, "lag       committed: max %s messages at %.0f s, %s at the end", count(r.Lag.MaxCommitted), r.Lag.MaxCommittedAtSeconds, count(r.Lag.LastCommitted))
	if r.Settings.InProcess {
		fmt.Fprintf(w, "; processing: max %s messages", count(r.Lag.MaxProcessing))
	}
	fmt.Fprintln(w)
	for _, l := range []struct {
		name string
		p    Percentiles
	}{{"early", r.Latency.Early}, {"final", r.Latency.Final}} {
		fmt.Fprintf(w, "%-9s p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms over %d windows (%d never received)\n",
			l.name, l.p.P50, l.p.P90, l.p.P99, l.p.Max, l.p.Count, l.p.Missing)
	}
	c := r.Correctness
	fmt.Fprintf(w, "truth     %d expected rows: %d matched, %d missing, %d extra, %d wrong\n", c.Expected, c.Matched, c.Missing, c.Extra, c.Wrong)
}
