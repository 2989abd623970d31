package detector

import (
	"slices"
	"strings"
	"time"
)

// Limits bounds the state of one (user, window) summary, so that a flood of
// distinct values degrades to a Truncated flag instead of unbounded memory.
type Limits struct {
	// MaxSetSize caps each of IPs, Countries and Apps; zero means 1000.
	// A full set keeps the values seen earliest (by TimeGenerated, ties by
	// value), so IPs[0] is right whatever the arrival order.
	MaxSetSize int
	// MaxIDs caps the Ids remembered for de-duplication; zero means 100000.
	// Past it, records are counted without de-duplication and the summary
	// is marked Truncated.
	MaxIDs int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSetSize <= 0 {
		l.MaxSetSize = 1000
	}
	if l.MaxIDs <= 0 {
		l.MaxIDs = 100000
	}
	return l
}

// Estimated bytes of summary state, for the memory budget: a summary with
// its window, and each Id and set value beyond its characters.
const (
	summaryBytes  = 512
	idBytes       = 48
	setValueBytes = 64
)

// Summary aggregates the qualifying sign-ins of one user in one window: the
// KQL summarize of the rule.
type Summary struct {
	upn       string
	limits    Limits
	count     int
	ids       idSet
	ips       firstSeenSet
	countries firstSeenSet
	apps      firstSeenSet
	first     time.Time
	last      time.Time
	// truncatedSets and truncatedIDs count the sign-ins that a bound
	// changed: a set value dropped, an Id not remembered.
	truncatedSets, truncatedIDs int
	bytes                       int64
}

// NewSummary returns an empty summary for upn.
func NewSummary(upn string, limits Limits) *Summary {
	return &Summary{upn: upn, limits: limits.withDefaults(), bytes: summaryBytes + int64(len(upn))}
}

// Change says what adding a sign-in changed in a summary.
type Change uint8

const (
	// Duplicate: the sign-in's Id was already counted; nothing changed.
	Duplicate Change = iota
	// Counted: the count and times changed, no set gained a value.
	Counted
	// Grew: a new IP, country or app joined.
	Grew
)

// Add counts s unless its Id was already counted in this summary (Kafka
// redelivers). An empty Id is never a duplicate.
func (m *Summary) Add(s *SignIn) Change {
	if s.Id != "" {
		if m.ids.contains(s.Id) {
			return Duplicate
		}
		if m.ids.len() < m.limits.MaxIDs {
			m.ids.add(s.Id)
			m.bytes += idBytes + int64(len(s.Id))
		} else {
			m.truncatedIDs++
		}
	}
	m.count++
	t := s.TimeGenerated
	if m.count == 1 || t.Before(m.first) {
		m.first = t
	}
	if m.count == 1 || t.After(m.last) {
		m.last = t
	}
	grew := false
	dropped := false
	for _, set := range []struct {
		s *firstSeenSet
		v string
	}{{&m.ips, s.IPAddress}, {&m.countries, s.Location}, {&m.apps, s.AppDisplayName}} {
		changed, lost, delta := set.s.add(set.v, t, m.limits.MaxSetSize)
		grew = grew || changed
		dropped = dropped || lost
		m.bytes += delta
	}
	if dropped {
		m.truncatedSets++
	}
	if grew {
		return Grew
	}
	return Counted
}

// Growth is at most the bytes that adding s would add to the summary.
func (m *Summary) Growth(s *SignIn) int64 {
	var n int64
	if s.Id != "" {
		if m.ids.contains(s.Id) {
			return 0
		}
		if m.ids.len() < m.limits.MaxIDs {
			n += idBytes + int64(len(s.Id))
		}
	}
	for _, set := range []struct {
		s *firstSeenSet
		v string
	}{{&m.ips, s.IPAddress}, {&m.countries, s.Location}, {&m.apps, s.AppDisplayName}} {
		if set.s.find(set.v) < 0 {
			n += setValueBytes + int64(len(set.v))
		}
	}
	return n
}

// Bytes is the estimated memory the summary holds.
func (m *Summary) Bytes() int64 { return m.bytes }

// Count is the number of distinct sign-ins counted.
func (m *Summary) Count() int { return m.count }

// Truncated reports whether a limit dropped values or de-duplication.
func (m *Summary) Truncated() bool { return m.truncatedSets > 0 || m.truncatedIDs > 0 }

// Row returns the summary as the rule's result row.
func (m *Summary) Row() Row {
	ips := m.ips.values()
	return Row{
		UserPrincipalName: m.upn,
		Count:             m.count,
		IPs:               ips,
		Countries:         m.countries.values(),
		Apps:              m.apps.values(),
		FirstSeen:         m.first,
		LastSeen:          m.last,
		IPAddress:         ips[0],
	}
}

// idSet holds the Ids counted: a slice while small, a map beyond.
type idSet struct {
	small []string
	large map[string]struct{}
}

const smallSet = 16

func (s *idSet) len() int { return len(s.small) + len(s.large) }

func (s *idSet) contains(id string) bool {
	if s.large != nil {
		_, ok := s.large[id]
		return ok
	}
	return slices.Contains(s.small, id)
}

func (s *idSet) add(id string) {
	if s.large == nil && len(s.small) < smallSet {
		s.small = append(s.small, id)
		return
	}
	if s.large == nil {
		s.large = make(map[string]struct{}, 2*smallSet)
		for _, v := range s.small {
			s.large[v] = struct{}{}
		}
		s.small = nil
	}
	s.large[id] = struct{}{}
}

// firstSeenSet is a make_set that orders its distinct values by the earliest
// TimeGenerated of each, ties by ordinal value. "" is a value like any
// other. It is a slice (an index map beyond a few values), since most
// windows see one or two values.
type firstSeenSet struct {
	vals []seenValue
	pos  map[string]int // value → position in vals, once vals is large
}

type seenValue struct {
	v string
	t time.Time
}

// before orders values as the set outputs them.
func (a seenValue) before(b seenValue) bool {
	if c := a.t.Compare(b.t); c != 0 {
		return c < 0
	}
	return a.v < b.v
}

func (s *firstSeenSet) find(v string) int {
	if s.pos != nil {
		if i, ok := s.pos[v]; ok {
			return i
		}
		return -1
	}
	return slices.IndexFunc(s.vals, func(x seenValue) bool { return x.v == v })
}

// add records v seen at t in a set of at most max values. A full set keeps
// the earliest values: v replaces the latest one if it is earlier. It
// reports whether the set's content changed, whether a value was dropped,
// and the change in bytes.
func (s *firstSeenSet) add(v string, t time.Time, max int) (changed, dropped bool, delta int64) {
	if i := s.find(v); i >= 0 {
		if t.Before(s.vals[i].t) {
			s.vals[i].t = t
		}
		return false, false, 0
	}
	nv := seenValue{v, t}
	if len(s.vals) < max {
		s.vals = append(s.vals, nv)
		if s.pos != nil {
			s.pos[v] = len(s.vals) - 1
		} else if len(s.vals) > smallSet {
			s.pos = make(map[string]int, 2*len(s.vals))
			for i, x := range s.vals {
				s.pos[x.v] = i
			}
		}
		return true, false, setValueBytes + int64(len(v))
	}
	latest := 0
	for i := range s.vals {
		if s.vals[latest].before(s.vals[i]) {
			latest = i
		}
	}
	old := s.vals[latest]
	if !nv.before(old) {
		return false, true, 0
	}
	s.vals[latest] = nv
	if s.pos != nil {
		delete(s.pos, old.v)
		s.pos[v] = latest
	}
	return true, true, int64(len(v)) - int64(len(old.v))
}

func (s *firstSeenSet) values() []string {
	sorted := slices.Clone(s.vals)
	slices.SortFunc(sorted, func(a, b seenValue) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	out := make([]string, len(sorted))
	for i, x := range sorted {
		out[i] = x.v
	}
	return out
}

// SortRows puts the rows of one window in output order: Count descending,
// then UserPrincipalName ascending (ordinal).
func SortRows(rows []Row) {
	slices.SortFunc(rows, func(a, b Row) int { return compareRows(a.Count, a.UserPrincipalName, b.Count, b.UserPrincipalName) })
}

// compareRows orders result rows as the rule's `order by Count desc` does,
// ties by UPN ascending so that the order is total.
func compareRows(countA int, upnA string, countB int, upnB string) int {
	if countA != countB {
		return countB - countA
	}
	return strings.Compare(upnA, upnB)
}
