package detector

import (
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"
)

// DefaultMaxRecordBytes is the size every record the detector writes (key,
// value and headers) is kept under when no limit is configured: Event Hubs'
// 1 MB, which is also within franz-go's default batch limit of 1,000,012
// bytes.
const DefaultMaxRecordBytes = 1_000_000

// MinMaxRecordBytes is the smallest limit accepted: room for an alert with
// every value cut to minValueBytes.
const MinMaxRecordBytes = 64 << 10

// recordOverhead is what a Kafka record batch adds around one record: the
// batch header (61 bytes), the record's own framing and the varints of its
// headers, with room to spare.
const recordOverhead = 512

// minValueBytes is the shortest a capped string is cut to.
const minValueBytes = 256

// ellipsis ends every string the size cap cut, so a reader sees it.
const ellipsis = "…"

// Render returns the alert's Kafka key and value in format f, their size
// with the headers within maxBytes (zero means DefaultMaxRecordBytes). An
// alert that fits is rendered exactly. One that does not, which only
// attacker-sized values make, is cut in steps until it fits: first the
// longest strings (UPN, apps, locations, rendered names), to at least
// minValueBytes each and ending in "…"; then the sets, keeping their
// earliest values so that IPs[0] stays the IPAddress; then, for SingleAlert,
// the later rows. Truncated is then set. Values shorter than the cut are
// kept exactly, and the cut depends on the alert alone, so every emission
// of one revision renders the same bytes.
func (a *Alert) Render(f Format, maxBytes int) (key, value []byte, err error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxRecordBytes
	}
	key = a.Key()
	budget := maxBytes - recordOverhead - len(key)
	for _, h := range a.Headers(f) {
		budget -= len(h[0]) + len(h[1])
	}
	a = a.unfit(f, budget)
	value, err = a.Marshal(f)
	if err != nil || len(value) <= budget {
		return key, value, err
	}
	c := alertCut{strings: min(budget/4, a.longestString()), sets: a.largestSet(), rows: max(len(a.Results), 1)}
	value, ok, err := c.search(budget, func(c alertCut) ([]byte, error) {
		capped := a.cut(c)
		return capped.Marshal(f)
	})
	if err == nil && !ok {
		err = fmt.Errorf("alert %s revision %d does not fit in %d bytes even cut to %d-byte values", a.AlertId, a.Revision, maxBytes, minValueBytes)
	}
	if err != nil {
		return nil, nil, err
	}
	return key, value, nil
}

// unfit returns a, or a copy with Truncated set whose UPNs are cut where
// they cannot fit in budget whatever else is cut: OCSF repeats a row's user
// in the evidence of each of its IPs, so a hostile UPN times a full IP set
// would take gigabytes to render before the first cut. A UPN that fits
// is never changed here.
func (a *Alert) unfit(f Format, budget int) *Alert {
	var out *Alert
	for i, r := range a.rows() {
		n := 1
		if f == FormatOCSF {
			for _, ip := range r.IPs {
				if ocsfIP(ip) {
					n++
				}
			}
		}
		if len(r.UserPrincipalName)*n <= budget {
			continue
		}
		if out == nil {
			c := *a
			c.Results = slices.Clone(a.Results)
			c.Truncated = true
			out = &c
		}
		upn := capString(r.UserPrincipalName, max(budget/n, minValueBytes))
		if len(a.Results) > 0 {
			out.Results[i].UserPrincipalName = upn
		}
		if r.UserPrincipalName == a.Result.UserPrincipalName {
			out.Result.UserPrincipalName = upn
		}
	}
	if out == nil {
		return a
	}
	return out
}

// alertCut is how far Render cuts an alert: the longest string, set and
// row list it keeps.
type alertCut struct{ strings, sets, rows int }

// next cuts one step further: strings first, then sets, then rows. It
// reports false when nothing is left to cut.
func (c *alertCut) next() bool {
	switch {
	case c.strings > minValueBytes:
		c.strings = max(c.strings/2, minValueBytes)
	case c.sets > 1:
		c.sets /= 2
	case c.rows > 1:
		c.rows /= 2
	default:
		return false
	}
	return true
}

// search renders with c, and with one step deeper cut after another,
// until the rendering takes at most budget bytes; it reports false when
// nothing is left to cut and it still does not fit.
func (c alertCut) search(budget int, render func(alertCut) ([]byte, error)) ([]byte, bool, error) {
	for {
		b, err := render(c)
		if err != nil || len(b) <= budget {
			return b, err == nil, err
		}
		if !c.next() {
			return b, false, nil
		}
	}
}

// longestString is the length of the longest value the cut may shorten:
// cutting to more than it changes nothing, so the cut starts there.
func (a *Alert) longestString() int {
	n := max(len(a.AlertName), len(a.Description))
	for _, r := range a.rows() {
		n = max(n, r.longestString())
	}
	for _, e := range a.Entities {
		for _, id := range e.Identifiers {
			n = max(n, len(id.Value))
		}
	}
	return n
}

func (r *Row) longestString() int {
	n := max(len(r.UserPrincipalName), len(r.IPAddress))
	for _, set := range [][]string{r.IPs, r.Countries, r.Apps} {
		for _, v := range set {
			n = max(n, len(v))
		}
	}
	return n
}

// largestSet is the size of the largest set the cut may shorten.
func (a *Alert) largestSet() int {
	n := 1
	for _, r := range a.rows() {
		n = max(n, r.largestSet())
	}
	return n
}

func (r *Row) largestSet() int { return max(len(r.IPs), len(r.Countries), len(r.Apps), 1) }

// cut returns a copy of a with its strings, sets and rows cut to c, and
// Truncated set.
func (a *Alert) cut(c alertCut) Alert {
	out := *a
	out.Truncated = true
	out.AlertName = capString(a.AlertName, c.strings)
	out.Description = capString(a.Description, c.strings)
	out.Result = a.Result.cut(c)
	if a.Results != nil {
		out.Results = make([]Row, min(len(a.Results), c.rows))
		for i := range out.Results {
			out.Results[i] = a.Results[i].cut(c)
		}
	}
	entities := a.Entities
	if a.Results != nil {
		// SingleAlert lists the entities of every row: keep as many as rows.
		entities = entities[:min(len(entities), 2*c.rows)]
	}
	out.Entities = make([]Entity, len(entities))
	for i, e := range entities {
		ids := make([]EntityIdentifier, len(e.Identifiers))
		for j, id := range e.Identifiers {
			ids[j] = EntityIdentifier{id.Name, capString(id.Value, c.strings)}
		}
		out.Entities[i] = Entity{ID: e.ID, Type: e.Type, Identifiers: ids}
	}
	out.CustomDetails = make(CustomDetailValues, len(a.CustomDetails))
	for i, d := range a.CustomDetails {
		switch v := d.Value.(type) {
		case string:
			d.Value = capString(v, c.strings)
		case []string:
			d.Value = capSet(v, c)
		}
		out.CustomDetails[i] = d
	}
	return out
}

// fitRow returns row cut, strings first and sets next as Render does, until
// its JSON takes at most budget bytes, and whether it was cut: what keeps an
// internal alert record within the record limit.
func fitRow(row Row, budget int) (Row, bool) {
	if b, _ := json.Marshal(row); len(b) <= budget {
		return row, false
	}
	c := alertCut{strings: min(budget/4, row.longestString()), sets: row.largestSet(), rows: 1}
	var cut Row
	c.search(budget, func(c alertCut) ([]byte, error) {
		cut = row.cut(c)
		return json.Marshal(cut)
	})
	return cut, true
}

// cut returns r with its strings and sets cut to c.
func (r Row) cut(c alertCut) Row {
	r.UserPrincipalName = capString(r.UserPrincipalName, c.strings)
	r.IPAddress = capString(r.IPAddress, c.strings)
	r.IPs = capSet(r.IPs, c)
	r.Countries = capSet(r.Countries, c)
	r.Apps = capSet(r.Apps, c)
	return r
}

// capSet keeps the first c.sets values of set, each cut to c.strings.
func capSet(set []string, c alertCut) []string {
	out := make([]string, min(len(set), c.sets))
	for i := range out {
		out[i] = capString(set[i], c.strings)
	}
	return out
}

// capString cuts s to at most n bytes, ending in "…", at a character
// boundary; a shorter s is returned as is.
func capString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	end := max(n-len(ellipsis), 0)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + ellipsis
}
