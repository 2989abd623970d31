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
// final, amended. Engine and Shard feed it sign-ins and a watermark.
type lifecycle struct {
	sh        *shared
	win       *window.Tumbling[string, *liveWindow]
	watermark time.Time // windows ending at or before it are closed
	cause     time.Time // Kafka timestamp of the record being absorbed
	// version of the configuration that evaluated the sign-in being
	// absorbed, when not the current one.
	version string
}

// liveWindow is one user's window and its alert lifecycle.
type liveWindow struct {
	sum        *Summary
	revision   int       // of the latest emitted revision; 0 before the early alert
	lastUpdate time.Time // event time of the latest early or update revision
	pending    bool      // a set grew since the latest revision
	// pins holds, per partition, the first offset that contributed: the
	// partition's commit may not pass it while the state lives in memory.
	pins map[stream.TopicPartition]int64
}

func newLifecycle(sh *shared) lifecycle {
	align := window.Aligner{Size: sh.cfg.Rule.QueryPeriod, Offset: sh.cfg.WindowOffset}
	limits := sh.cfg.Limits
	return lifecycle{sh: sh, win: window.New(align, sh.cfg.Retention, func(upn string, _ window.Bounds) *liveWindow {
		return &liveWindow{sum: NewSummary(upn, limits), pins: make(map[stream.TopicPartition]int64, 1)}
	})}
}

// apply adds one qualifying sign-in to its window and emits the revision it
// causes. It returns a reject reason when the sign-in cannot be held.
func (l *lifecycle) apply(s *SignIn, tp stream.TopicPartition, offset int64, out *Output) string {
	sh := l.sh
	if l.win.OpenWindows() >= sh.cfg.MaxWindows {
		if _, ok := l.win.Lookup(s.UserPrincipalName, s.TimeGenerated); !ok {
			sh.stats.reject(ReasonStateFull, 1)
			return ReasonStateFull
		}
	}
	w, b, late, _ := l.win.Get(s.UserPrincipalName, s.TimeGenerated)
	if late == window.Expired {
		sh.stats.reject(ReasonTooLate, 1)
		return ReasonTooLate
	}
	if _, ok := w.pins[tp]; !ok {
		w.pins[tp] = offset
	}
	change := w.sum.Add(s)
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

func (l *lifecycle) publish(w *liveWindow, b window.Bounds, status Status, tg time.Time, out *Output) {
	w.revision++
	w.pending = false
	a := l.sh.emit.Revision(b, w.sum, status, w.revision, tg)
	a.ConfigVersion = cmp.Or(l.version, l.sh.version)
	out.Alerts = append(out.Alerts, a)
	out.Causes = append(out.Causes, l.cause)
	if w.revision == 1 && a.IncidentId != "" {
		if inc, ok := l.sh.emit.Incidents().Snapshot(a.IncidentId); ok {
			out.Incidents = append(out.Incidents, inc)
		}
	}
}

// close moves the watermark to wm, if that is later, and emits the final
// alerts of the windows it closes, oldest window first, rows by Count desc
// then UPN.
func (l *lifecycle) close(wm time.Time, out *Output) {
	if !wm.After(l.watermark) {
		return
	}
	l.watermark = wm
	closed := l.win.Advance(wm)
	for group := range window.Windows(closed) {
		slices.SortFunc(group, func(a, b window.Result[string, *liveWindow]) int {
			return compareRows(a.Acc.sum.Count(), a.Key, b.Acc.sum.Count(), b.Key)
		})
		for _, r := range group {
			l.publish(r.Acc, r.Bounds, StatusFinal, r.Bounds.End, out)
		}
	}
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
