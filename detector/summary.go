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

// Summary aggregates the qualifying sign-ins of one user in one window: the
// KQL summarize of the rule.
type Summary struct {
	upn       string
	limits    Limits
	count     int
	ids       map[string]struct{}
	ips       firstSeenSet
	countries firstSeenSet
	apps      firstSeenSet
	first     time.Time
	last      time.Time
	truncated bool
}

// NewSummary returns an empty summary for upn.
func NewSummary(upn string, limits Limits) *Summary {
	return &Summary{upn: upn, limits: limits.withDefaults()}
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
		if _, dup := m.ids[s.Id]; dup {
			return Duplicate
		}
		if len(m.ids) < m.limits.MaxIDs {
			if m.ids == nil {
				m.ids = make(map[string]struct{})
			}
			m.ids[s.Id] = struct{}{}
		} else {
			m.truncated = true
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
	grew := m.ips.add(s.IPAddress, t, m.limits.MaxSetSize, &m.truncated)
	grew = m.countries.add(s.Location, t, m.limits.MaxSetSize, &m.truncated) || grew
	grew = m.apps.add(s.AppDisplayName, t, m.limits.MaxSetSize, &m.truncated) || grew
	if grew {
		return Grew
	}
	return Counted
}

// Count is the number of distinct sign-ins counted.
func (m *Summary) Count() int { return m.count }

// Truncated reports whether a limit dropped values or de-duplication.
func (m *Summary) Truncated() bool { return m.truncated }

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

// firstSeenSet is a make_set that orders its distinct values by the earliest
// TimeGenerated of each, ties by ordinal value. "" is a value like any other.
type firstSeenSet struct {
	first map[string]time.Time
}

func (s *firstSeenSet) add(v string, t time.Time, max int, truncated *bool) (added bool) {
	if s.first == nil {
		s.first = make(map[string]time.Time, 1)
	}
	seen, ok := s.first[v]
	switch {
	case ok:
		if t.Before(seen) {
			s.first[v] = t
		}
		return false
	case len(s.first) >= max:
		*truncated = true
		return false
	}
	s.first[v] = t
	return true
}

func (s *firstSeenSet) values() []string {
	out := make([]string, 0, len(s.first))
	for v := range s.first {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b string) int {
		if c := s.first[a].Compare(s.first[b]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
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
