package synth

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"
)

// Diff is the difference between expected and observed result rows, matched
// by (WindowEnd, UserPrincipalName).
type Diff struct {
	Matched int
	Missing []TruthRow    // expected, not observed
	Extra   []TruthRow    // observed, not expected
	Wrong   [][2]TruthRow // same key, other content: {want, got}
}

// Empty reports whether the observed rows are exactly the expected ones.
func (d *Diff) Empty() bool { return len(d.Missing)+len(d.Extra)+len(d.Wrong) == 0 }

type rowKey struct {
	end time.Time
	upn string
}

func keyOf(r TruthRow) rowKey { return rowKey{r.WindowEnd.UTC(), r.UserPrincipalName} }

// Compare matches got against want. Order does not matter; a key observed
// twice counts the second as Extra.
func Compare(want, got []TruthRow) Diff {
	var d Diff
	expected := make(map[rowKey]TruthRow, len(want))
	for _, r := range want {
		expected[keyOf(r)] = r
	}
	for _, r := range got {
		w, ok := expected[keyOf(r)]
		switch {
		case !ok:
			d.Extra = append(d.Extra, r)
		case rowsEqual(w, r):
			d.Matched++
		default:
			d.Wrong = append(d.Wrong, [2]TruthRow{w, r})
		}
		delete(expected, keyOf(r))
	}
	for _, r := range want {
		if _, ok := expected[keyOf(r)]; ok {
			d.Missing = append(d.Missing, r)
		}
	}
	byKey := func(a, b TruthRow) int {
		return cmp.Or(a.WindowEnd.Compare(b.WindowEnd), cmp.Compare(a.UserPrincipalName, b.UserPrincipalName))
	}
	slices.SortFunc(d.Extra, byKey)
	return d
}

func rowsEqual(a, b TruthRow) bool {
	return a.UserPrincipalName == b.UserPrincipalName && a.Count == b.Count && a.IPAddress == b.IPAddress &&
		a.WindowEnd.Equal(b.WindowEnd) && a.FirstSeen.Equal(b.FirstSeen) && a.LastSeen.Equal(b.LastSeen) &&
		slices.Equal(a.IPs, b.IPs) && slices.Equal(a.Countries, b.Countries) && slices.Equal(a.Apps, b.Apps)
}

// WriteReport writes the counts and up to limit rows of each kind.
func (d *Diff) WriteReport(w io.Writer, limit int) {
	fmt.Fprintf(w, "matched %d, missing %d, extra %d, wrong %d\n", d.Matched, len(d.Missing), len(d.Extra), len(d.Wrong))
	show := func(kind string, r TruthRow) {
		fmt.Fprintf(w, "  %s window %s user %q count %d ips %q\n", kind, r.WindowEnd.UTC().Format(timeLayout), r.UserPrincipalName, r.Count, r.IPs)
	}
	for _, r := range d.Missing[:min(limit, len(d.Missing))] {
		show("missing", r)
	}
	for _, r := range d.Extra[:min(limit, len(d.Extra))] {
		show("extra  ", r)
	}
	for _, p := range d.Wrong[:min(limit, len(d.Wrong))] {
		show("want   ", p[0])
		show("got    ", p[1])
	}
}
