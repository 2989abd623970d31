package detector

import "time"

// progressOf is the event time through which input has progressed (SPEC
// section 3): the least event time of the partitions that are not idle
// (caught up with the brokers and silent for idle), or, when every one is
// idle, event time going on with the wall clock: the latest event time
// plus the silence beyond idle. It is not known while a partition that is
// not idle has shown no event time, or when no partition has.
func progressOf(srcs []sourceProgress, idle time.Duration) (time.Time, bool) {
	var least, latest time.Time
	active := false
	silent := time.Duration(-1)
	for _, src := range srcs {
		if src.Event.After(latest) {
			latest = src.Event
		}
		if silent < 0 || src.silent() < silent {
			silent = src.silent()
		}
		if src.CaughtUp && src.silent() >= idle {
			continue
		}
		if src.Event.IsZero() {
			return time.Time{}, false
		}
		if !active || src.Event.Before(least) {
			least, active = src.Event, true
		}
	}
	if active {
		return least, true
	}
	beyond := silent - idle
	if latest.IsZero() || beyond <= 0 {
		return time.Time{}, false
	}
	return latest.Add(beyond), true
}
