package detector

import (
	"time"

	"github.com/ropcwatch/ropcwatch/window"
)

// Emitter turns closed windows into alerts: it orders the rows, builds the
// alerts of the rule's aggregation mode and assigns incidents. One goroutine
// owns it.
type Emitter struct {
	rule      *Rule
	incidents *Incidents
	now       func() time.Time
}

// NewEmitter returns an Emitter for rule. now stamps ProcessedAt; nil means
// time.Now.
func NewEmitter(rule *Rule, now func() time.Time) *Emitter {
	if now == nil {
		now = time.Now
	}
	return &Emitter{rule: rule, incidents: NewIncidents(rule.Incident, rule.ID), now: now}
}

// Incidents returns the incident grouping state.
func (e *Emitter) Incidents() *Incidents { return e.incidents }

// Final returns the final alerts of closed windows, given oldest window
// first as window.Tumbling.Advance returns them.
func (e *Emitter) Final(closed []window.Result[string, *Summary]) []Alert {
	var alerts []Alert
	for group := range window.Windows(closed) {
		b := group[0].Bounds
		alerts = append(alerts, e.window(b, group, AlertContext{
			Status: StatusFinal, Revision: 1,
			WindowStart: b.Start, WindowEnd: b.End, TimeGenerated: b.End,
		})...)
	}
	return alerts
}

// Revision builds one revision of the alert of one user's window (the rule
// must raise one alert per result), without its incident.
func (e *Emitter) Revision(b window.Bounds, m *Summary, status Status, revision int, timeGenerated time.Time) Alert {
	alerts := e.rule.Alerts([]Row{m.Row()}, AlertContext{
		Status: status, Revision: revision, WindowStart: b.Start, WindowEnd: b.End,
		TimeGenerated: timeGenerated, ProcessedAt: e.now().UTC(),
	})
	a := alerts[0]
	a.Truncated = m.Truncated()
	return a
}

// window builds the alerts of one window from its summaries.
func (e *Emitter) window(b window.Bounds, results []window.Result[string, *Summary], c AlertContext) []Alert {
	rows := make([]Row, len(results))
	truncated := make(map[string]bool)
	for i, r := range results {
		rows[i] = r.Acc.Row()
		if r.Acc.Truncated() {
			truncated[r.Key] = true
		}
	}
	SortRows(rows)
	c.ProcessedAt = e.now().UTC()
	alerts := e.rule.Alerts(rows, c)
	for i := range alerts {
		a := &alerts[i]
		for _, row := range append([]Row{a.Result}, a.Results...) {
			a.Truncated = a.Truncated || truncated[row.UserPrincipalName]
		}
		e.incidents.Assign(a)
	}
	return alerts
}

// routed rebuilds an alert's revision from its routed record, as the shard
// of its window built it.
func (e *Emitter) routed(r routedAlert) Alert {
	a := e.rule.Alerts([]Row{r.Row}, AlertContext{
		Status: r.Status, Revision: r.Revision, WindowStart: r.WindowStart, WindowEnd: r.WindowEnd,
		TimeGenerated: r.TimeGenerated, ProcessedAt: e.now().UTC(),
	})[0]
	a.Truncated, a.ConfigVersion = r.Truncated, r.Version
	return a
}
