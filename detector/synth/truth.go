package synth

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// Truth is what the rule must report on a generated stream.
type Truth struct {
	// Rows are the rule's result rows, by WindowEnd ascending, then Count
	// descending, then UserPrincipalName ascending (byte order).
	Rows []TruthRow
	// Stats counts what was written.
	Stats Stats
}

// Stats counts the records of a generated stream.
type Stats struct {
	Messages int   // lines, one envelope each
	Records  int   // records in all categories, duplicates included
	Bytes    int64 // bytes written
	// ROPC counts non-interactive records whose protocol is "ropc" in any
	// ASCII case, qualifying or not, redeliveries included.
	ROPC int
	// Redelivered counts records written a second time, id and all.
	Redelivered int
	// Qualifying counts the records the rule keeps, before removing
	// redelivered duplicates (which never qualify a second time).
	Qualifying int
}

// TruthRow is one result row of the rule: the summary of one user's
// qualifying sign-ins in the window (WindowEnd-Window, WindowEnd].
type TruthRow struct {
	WindowEnd time.Time
	// UserPrincipalName is the exact UPN (case-sensitive).
	UserPrincipalName string
	// Count is the number of distinct properties.id values.
	Count int
	// IPs, Countries and Apps are distinct values, ordered by the earliest
	// event time of each value, then by byte value.
	IPs, Countries, Apps []string
	FirstSeen, LastSeen  time.Time
	// IPAddress is IPs[0].
	IPAddress string
}

// timeLayout renders times as KQL datetimes are exported: UTC, seven
// fractional digits.
const timeLayout = "2006-01-02T15:04:05.0000000Z"

// truthLine is TruthRow as one JSON line: WindowEnd, then exactly the KQL
// columns in their order.
type truthLine struct {
	WindowEnd         string
	UserPrincipalName string
	Count             int
	IPs               []string
	Countries         []string
	Apps              []string
	FirstSeen         string
	LastSeen          string
	IPAddress         string
}

// WriteJSONLines writes one JSON object per row with the fields WindowEnd,
// UserPrincipalName, Count, IPs, Countries, Apps, FirstSeen, LastSeen and
// IPAddress; times are UTC with seven fractional digits.
func (t *Truth) WriteJSONLines(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, r := range t.Rows {
		l := truthLine{
			WindowEnd: r.WindowEnd.UTC().Format(timeLayout), UserPrincipalName: r.UserPrincipalName, Count: r.Count,
			IPs: r.IPs, Countries: r.Countries, Apps: r.Apps,
			FirstSeen: r.FirstSeen.UTC().Format(timeLayout), LastSeen: r.LastSeen.UTC().Format(timeLayout), IPAddress: r.IPAddress,
		}
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("write truth row: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write truth: %w", err)
	}
	return nil
}

// ReadTruth reads rows that WriteJSONLines wrote. Stats stay zero.
func ReadTruth(r io.Reader) (*Truth, error) {
	dec := json.NewDecoder(r)
	t := &Truth{}
	for n := 1; ; n++ {
		var l truthLine
		if err := dec.Decode(&l); err == io.EOF {
			return t, nil
		} else if err != nil {
			return nil, fmt.Errorf("read truth row %d: %w", n, err)
		}
		row := TruthRow{UserPrincipalName: l.UserPrincipalName, Count: l.Count, IPs: l.IPs, Countries: l.Countries, Apps: l.Apps, IPAddress: l.IPAddress}
		for _, f := range []struct {
			dst  *time.Time
			name string
			s    string
		}{{&row.WindowEnd, "WindowEnd", l.WindowEnd}, {&row.FirstSeen, "FirstSeen", l.FirstSeen}, {&row.LastSeen, "LastSeen", l.LastSeen}} {
			v, err := time.Parse(time.RFC3339Nano, f.s)
			if err != nil {
				return nil, fmt.Errorf("read truth row %d: %s: %w", n, f.name, err)
			}
			*f.dst = v
		}
		t.Rows = append(t.Rows, row)
	}
}

// truthBuilder accumulates qualifying sign-ins per (window end, UPN).
type truthBuilder struct {
	window int64
	groups map[groupKey]*group
}

type groupKey struct {
	end int64
	upn string
}

type group struct {
	ids                  map[string]struct{}
	first, last          int64
	ips, countries, apps map[string]int64 // value -> earliest event time
}

func newTruthBuilder(window time.Duration) *truthBuilder {
	return &truthBuilder{window: int64(window), groups: map[groupKey]*group{}}
}

// windowEnd returns the end of the window (end-window, end] holding ns.
func (b *truthBuilder) windowEnd(ns int64) int64 {
	return -floorDiv(-ns, b.window) * b.window
}

// add records one qualifying sign-in; a repeated id within the same user and
// window is a redelivery and changes nothing.
func (b *truthBuilder) add(ns int64, upn, id, ip, country, app string) {
	k := groupKey{b.windowEnd(ns), upn}
	g := b.groups[k]
	if g == nil {
		g = &group{ids: map[string]struct{}{}, first: ns, last: ns, ips: map[string]int64{}, countries: map[string]int64{}, apps: map[string]int64{}}
		b.groups[k] = g
	}
	if _, dup := g.ids[id]; dup {
		return
	}
	g.ids[id] = struct{}{}
	g.first, g.last = min(g.first, ns), max(g.last, ns)
	for _, kv := range []struct {
		m map[string]int64
		v string
	}{{g.ips, ip}, {g.countries, country}, {g.apps, app}} {
		if t, ok := kv.m[kv.v]; !ok || ns < t {
			kv.m[kv.v] = ns
		}
	}
}

func (b *truthBuilder) finish(stats Stats) *Truth {
	t := &Truth{Stats: stats, Rows: make([]TruthRow, 0, len(b.groups))}
	for k, g := range b.groups {
		ips := orderedSet(g.ips)
		t.Rows = append(t.Rows, TruthRow{
			WindowEnd: time.Unix(0, k.end).UTC(), UserPrincipalName: k.upn, Count: len(g.ids),
			IPs: ips, Countries: orderedSet(g.countries), Apps: orderedSet(g.apps),
			FirstSeen: time.Unix(0, g.first).UTC(), LastSeen: time.Unix(0, g.last).UTC(), IPAddress: ips[0],
		})
	}
	slices.SortFunc(t.Rows, func(a, b TruthRow) int {
		return cmp.Or(a.WindowEnd.Compare(b.WindowEnd), cmp.Compare(b.Count, a.Count), cmp.Compare(a.UserPrincipalName, b.UserPrincipalName))
	})
	return t
}

// orderedSet returns the keys of m by earliest time, then by byte value.
func orderedSet(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(cmp.Compare(m[a], m[b]), cmp.Compare(a, b)) })
	return out
}
