package detector

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ropcwatch/ropcwatch/stream"
)

// Metrics instruments the streaming detector for Prometheus. Every label is
// bounded: a reject reason code, a verdict, an alert status, a topic and
// partition; never a user, an IP, a category name from the input or raw
// error text.
type Metrics struct {
	messages    prometheus.Counter
	bytes       prometheus.Counter
	prefiltered prometheus.Counter
	records     prometheus.Counter
	skipped     prometheus.Counter
	duplicates  prometheus.Counter
	late        prometheus.Counter
	rejected    *prometheus.CounterVec
	truncated   *prometheus.CounterVec
	verdicts    *prometheus.CounterVec
	alerts      *prometheus.CounterVec
	openWindows prometheus.Gauge
	memoryUsed  prometheus.Gauge
	watermark   prometheus.Gauge
	partitionET *prometheus.GaugeVec
	latency     prometheus.Histogram
	ready       prometheus.Gauge

	last    Stats // what has been counted so far
	isReady atomic.Bool
}

// NewMetrics registers the detector's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := func(c prometheus.Collector) prometheus.Collector { reg.MustRegister(c); return c }
	counter := func(name, help string) prometheus.Counter {
		return f(prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ropcwatch", Name: name, Help: help})).(prometheus.Counter)
	}
	return &Metrics{
		messages:    counter("messages_total", "Messages (Kafka records or lines) read."),
		bytes:       counter("message_bytes_total", "Bytes of messages read."),
		prefiltered: counter("messages_prefiltered_total", "Messages proven not ROPC from their raw bytes, without decoding."),
		records:     counter("records_decoded_total", "Sign-in records decoded (candidates of the prefilter)."),
		skipped:     counter("records_skipped_total", "Decoded records of another category (SignInLogs, AuditLogs, ...), skipped."),
		duplicates:  counter("duplicates_total", "Qualifying records already counted in their user's window (redeliveries)."),
		late:        counter("late_events_total", "Qualifying records for a window already closed but retained: they amend its alert."),
		rejected: f(prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ropcwatch", Name: "rejected_total",
			Help: "Messages or records rejected, by reason code (dead-lettered)."}, []string{"reason"})).(*prometheus.CounterVec),
		verdicts: f(prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ropcwatch", Name: "evaluated_total",
			Help: "Evaluated records by verdict: match, not-ropc, not-success, app-allowlisted, user-allowlisted, ip-allowlisted."}, []string{"verdict"})).(*prometheus.CounterVec),
		alerts: f(prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ropcwatch", Name: "alerts_total",
			Help: "Alert revisions emitted, by status."}, []string{"status"})).(*prometheus.CounterVec),
		openWindows: f(prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "ropcwatch", Name: "open_windows",
			Help: "Open (user, window) states held in memory."})).(prometheus.Gauge),
		memoryUsed: f(prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "ropcwatch", Name: "state_bytes",
			Help: "Estimated bytes of window state held, against the memory budget (state-full rejects mean it is reached)."})).(prometheus.Gauge),
		truncated: f(prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ropcwatch", Name: "truncated_total",
			Help: "Qualifying records a bound changed: a set value dropped (bound=set) or an Id not remembered for de-duplication (bound=ids)."}, []string{"bound"})).(*prometheus.CounterVec),
		watermark: f(prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "ropcwatch", Name: "watermark_seconds",
			Help: "Event time (Unix seconds) through which windows are closed."})).(prometheus.Gauge),
		partitionET: f(prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ropcwatch", Name: "partition_event_time_seconds",
			Help: "Latest event time (Unix seconds) seen per assigned partition; time() minus it is the partition's event-time lag."}, []string{"topic", "partition"})).(*prometheus.GaugeVec),
		latency: f(prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "ropcwatch", Name: "record_to_alert_seconds",
			Help:    "Wall time from a qualifying record's Kafka timestamp to its early alert being handed to the producer.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 60}})).(prometheus.Histogram),
		ready: f(prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "ropcwatch", Name: "ready",
			Help: "1 once partitions are assigned and incidents restored."})).(prometheus.Gauge),
	}
}

// observe brings the metrics up to date with the engine after a batch. It
// runs on the goroutine that owns the engine.
// observe updates the metrics from an Engine.
func (m *Metrics) observe(e *Engine) {
	if m == nil {
		return
	}
	m.update(e.Stats(), e.OpenWindows(), e.memoryUsed(), e.Watermark(), e.parts.eventTimes())
}

// update sets the metrics from counts, open windows, the watermark and the
// event-time progress of input partitions.
func (m *Metrics) update(st *Stats, open int, used int64, watermark time.Time, progress map[stream.TopicPartition]time.Time) {
	m.messages.Add(float64(st.Messages - m.last.Messages))
	m.bytes.Add(float64(st.Bytes - m.last.Bytes))
	m.prefiltered.Add(float64(st.Prefiltered - m.last.Prefiltered))
	m.records.Add(float64(st.Records - m.last.Records))
	m.skipped.Add(float64(sum(st.Skipped) - sum(m.last.Skipped)))
	m.duplicates.Add(float64(st.Duplicates - m.last.Duplicates))
	m.late.Add(float64(st.Late - m.last.Late))
	m.truncated.WithLabelValues("set").Add(float64(st.TruncatedSets - m.last.TruncatedSets))
	m.truncated.WithLabelValues("ids").Add(float64(st.TruncatedIDs - m.last.TruncatedIDs))
	for v, n := range st.Verdicts {
		if d := n - m.last.Verdicts[v]; d > 0 {
			m.verdicts.WithLabelValues(Verdict(v).String()).Add(float64(d))
		}
	}
	for reason, n := range st.Rejected {
		if d := n - m.last.Rejected[reason]; d > 0 {
			m.rejected.WithLabelValues(reason).Add(float64(d))
		}
	}
	m.last = *st
	m.last.Skipped = map[string]int64{"": sum(st.Skipped)}
	m.last.Rejected = make(map[string]int64, len(st.Rejected))
	for k, v := range st.Rejected {
		m.last.Rejected[k] = v
	}
	m.openWindows.Set(float64(open))
	m.memoryUsed.Set(float64(used))
	if !watermark.IsZero() {
		m.watermark.Set(float64(watermark.UnixNano()) / 1e9)
	}
	for tp, t := range progress {
		if !t.IsZero() {
			m.partitionET.WithLabelValues(tp.Topic, strconv.Itoa(int(tp.Partition))).Set(float64(t.UnixNano()) / 1e9)
		}
	}
}

// alert counts one emitted revision; cause is the Kafka timestamp of the
// record that caused it, zero when none did.
func (m *Metrics) alert(a *Alert, cause, now time.Time) {
	if m == nil {
		return
	}
	m.alerts.WithLabelValues(string(a.Status)).Inc()
	if a.Status == StatusEarly && !cause.IsZero() {
		m.latency.Observe(now.Sub(cause).Seconds())
	}
}

// forget drops the per-partition series of partitions no longer assigned.
func (m *Metrics) forget(tps []stream.TopicPartition) {
	if m == nil {
		return
	}
	for _, tp := range tps {
		m.partitionET.DeleteLabelValues(tp.Topic, strconv.Itoa(int(tp.Partition)))
	}
}

// SetReady records readiness for /readyz and the ropcwatch_ready gauge.
func (m *Metrics) SetReady(ready bool) {
	if m == nil {
		return
	}
	m.isReady.Store(ready)
	if ready {
		m.ready.Set(1)
	} else {
		m.ready.Set(0)
	}
}

// Ready reports whether the detector has partitions and restored state.
func (m *Metrics) Ready() bool { return m != nil && m.isReady.Load() }
