package detector

import (
	"cmp"
	"slices"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/window"
)

// lifecycle holds the windows of a set of users and takes each (user,
// window) through the alert lifecycle of SPEC section 4: early, update,
// final, amended. Engine and Shard feed it sign-ins and a watermark. Its
// output is a function of what it is fed, in order.
type lifecycle struct {
	sh        *shared
	win       *window.Tumbling[string, *liveWindow]
	watermark time.Time // windows ending at or before it are closed
	cause     time.Time // Kafka timestamp of the record being absorbed
	// version of the configuration that evaluated the sign-in being
	// absorbed, when not the current one.
	version string
	budget  *budget
	// empty is a summary with nothing in it: what a new window's first
	// sign-in would add is its Growth.
	empty *Summary
	// incidents gives a window's first revision its incident: in place for
	// an engine, through the group's owner for a shard. It returns whether
	// the incident is known (the revision can go out).
	incidents func(w *liveWindow, a *Alert, out *Output) bool
}

// liveWindow is one user's window and its alert lifecycle.
type liveWindow struct {
	sum        *Summary
	revision   int       // of the latest revision built; 0 before the early alert
	lastUpdate time.Time // event time of the latest early or update revision
	pending    bool      // a set grew since the latest revision
	// pins holds, per partition, the lowest offset that contributed: the
	// partition's commit (or a shard's rebuild) may not pass it while the
	// state lives in memory.
	pins map[stream.TopicPartition]int64
	// incident is the window's alert's incident, once known (assigned says
	// so; "" when the rule creates none); waiting holds the revisions
	// built before it was known, to go out in order when it is.
	incident string
	assigned bool
	waiting  []Alert
	charged  int64 // bytes charged to the budget
	// routed holds, scaled out, the input positions of the sign-ins
	// applied: a sign-in routed again (its router restarted behind what
	// it had sent) is not counted twice, Id or no Id.
	routed map[inputPosition]struct{}
}

// inputPosition names one record of one input message.
type inputPosition struct {
	stream.TopicPartition
	offset int64
	index  int
}

// inputPositionBytes is the estimated memory of one remembered position.
const inputPositionBytes = 64

func newLifecycle(sh *shared, b *budget) lifecycle {
	align := window.Aligner{Size: sh.cfg.Rule.QueryPeriod, Offset: sh.cfg.WindowOffset}
	limits := sh.cfg.Limits
	l := lifecycle{sh: sh, budget: b, empty: NewSummary("", limits), win: window.New(align, sh.cfg.Retention, func(upn string, _ window.Bounds) *liveWindow {
		return &liveWindow{sum: NewSummary(upn, limits), pins: make(map[stream.TopicPartition]int64, 1)}
	})}
	// A window whose revisions wait for their incident outlives its
	// retention until they go out: dropping it would lose them.
	l.win.Hold(func(_ string, _ window.Bounds, w *liveWindow) bool { return len(w.waiting) > 0 })
	l.win.OnDrop(func(_ string, _ window.Bounds, w *liveWindow) {
		l.budget.charge(-w.charged)
		w.charged = 0
	})
	return l
}

// apply adds one qualifying sign-in to its window and emits the revision it
// causes. It returns a reject reason when the sign-in cannot be held: its
// window is gone (too-late), or it needs state past the budget. from, when
// not nil, is the sign-in's input position, remembered against a second
// routing of it.
func (l *lifecycle) apply(s *SignIn, tp stream.TopicPartition, offset int64, from *inputPosition, out *Output) string {
	sh := l.sh
	w, ok := l.win.Lookup(s.UserPrincipalName, s.TimeGenerated)
	if ok && from != nil {
		if _, dup := w.routed[*from]; dup {
			sh.stats.Duplicates++
			return ""
		}
	}
	var need int64
	if from != nil {
		need = inputPositionBytes
	}
	switch {
	case ok:
		need += w.sum.Growth(s)
	case l.win.Lateness(s.TimeGenerated) == window.Expired:
		sh.stats.reject(ReasonTooLate, 1)
		return ReasonTooLate
	default:
		need += summaryBytes + int64(len(s.UserPrincipalName)) + l.empty.Growth(s)
	}
	if !l.budget.fits(need) {
		sh.stats.reject(ReasonStateFull, 1)
		return ReasonStateFull
	}
	w, b, late, _ := l.win.Get(s.UserPrincipalName, s.TimeGenerated)
	if cur, ok := w.pins[tp]; !ok || offset < cur {
		w.pins[tp] = offset
	}
	if from != nil {
		if w.routed == nil {
			w.routed = make(map[inputPosition]struct{}, 1)
		}
		w.routed[*from] = struct{}{}
	}
	sets, ids := w.sum.truncatedSets, w.sum.truncatedIDs
	change := w.sum.Add(s)
	sh.stats.TruncatedSets += int64(w.sum.truncatedSets - sets)
	sh.stats.TruncatedIDs += int64(w.sum.truncatedIDs - ids)
	l.recharge(w)
	switch {
	case change == Duplicate:
		sh.stats.Duplicates++
	case late == window.Late:
		sh.stats.Late++
		l.publish(w, b, StatusAmended, s.TimeGenerated, out)
	case w.revision == 0:
		l.publish(w, b, StatusEarly, s.TimeGenerated, out)
		w.lastUpdate = s.TimeGenerated
	default:
		w.pending = w.pending || change == Grew
		if w.pending && !s.TimeGenerated.Before(w.lastUpdate.Add(sh.cfg.UpdateInterval)) {
			l.publish(w, b, StatusUpdate, s.TimeGenerated, out)
			w.lastUpdate = s.TimeGenerated
		}
	}
	return ""
}

// recharge brings the budget up to date with w's size.
func (l *lifecycle) recharge(w *liveWindow) {
	n := w.sum.Bytes() + int64(len(w.routed))*inputPositionBytes
	for i := range w.waiting {
		n += summaryBytes + int64(len(w.waiting[i].Result.UserPrincipalName))
	}
	l.budget.charge(n - w.charged)
	w.charged = n
}

// publish builds the next revision of w's alert and sends it, or, while
// the window's incident is not known yet, keeps it to send once it is.
func (l *lifecycle) publish(w *liveWindow, b window.Bounds, status Status, tg time.Time, out *Output) {
	w.revision++
	w.pending = false
	a := l.sh.emit.Revision(b, w.sum, status, w.revision, tg)
	a.ConfigVersion = cmp.Or(l.version, l.sh.version)
	switch {
	case w.assigned:
		a.IncidentId = w.incident
		out.add(a, l.cause)
	case w.revision == 1:
		if l.incidents(w, &a, out) {
			w.incident, w.assigned = a.IncidentId, true
			out.add(a, l.cause)
		}
	default:
		w.waiting = append(w.waiting, a)
		l.recharge(w)
	}
}

// incidentKnown records the incident of w's alert, learnt from its owner,
// and sends the revisions that waited for it.
func (l *lifecycle) incidentKnown(w *liveWindow, incidentID string, out *Output) {
	if w.assigned {
		return
	}
	w.incident, w.assigned = incidentID, true
	for _, a := range w.waiting {
		a.IncidentId = incidentID
		out.add(a, time.Time{})
	}
	w.waiting = nil
	l.recharge(w)
	l.win.Expire() // a window held for its incident past its retention goes
}

// assignHere is the incidents strategy of an owner that groups its own
// alerts (an engine, a batch run).
func (l *lifecycle) assignHere(_ *liveWindow, a *Alert, out *Output) bool {
	incidents := l.sh.emit.Incidents()
	switch incidents.Assign(a) {
	case Joined, Created:
		if inc, ok := incidents.Snapshot(a.IncidentId); ok {
			out.Incidents = append(out.Incidents, inc)
		}
	}
	return true
}

// close moves the watermark to wm, if that is later, and emits the final
// alerts of the windows it closes, oldest window first, rows by Count desc
// then UPN.
func (l *lifecycle) close(wm time.Time, out *Output) {
	if !wm.After(l.watermark) {
		return
	}
	l.watermark = wm
	closed := l.win.Close(wm)
	for group := range window.Windows(closed) {
		slices.SortFunc(group, func(a, b window.Result[string, *liveWindow]) int {
			return compareRows(a.Acc.sum.Count(), a.Key, b.Acc.sum.Count(), b.Key)
		})
		for _, r := range group {
			l.publish(r.Acc, r.Bounds, StatusFinal, r.Bounds.End, out)
		}
	}
	// After the finals: one that waits for its incident holds its window.
	l.win.Expire()
}

// pinned lowers the offsets in commit to the first record of each window
// still held, per partition.
func (l *lifecycle) pinned(commit map[stream.TopicPartition]int64) {
	l.win.Each(func(_ string, _ window.Bounds, w *liveWindow, _ bool) {
		for tp, off := range w.pins {
			if cur, ok := commit[tp]; ok && off < cur {
				commit[tp] = off
			}
		}
	})
}
