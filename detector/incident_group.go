package detector

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ropcwatch/ropcwatch/stream"
)

// Incidents groups one rule's alerts into incidents as Sentinel's
// incidentConfiguration does (SPEC section 5). Its decisions are a function
// of the alerts given to Assign, in the order given: time is the alerts'
// TimeGenerated, never the wall clock. So the incidents are the same
// wherever the grouping runs, as long as one owner sees every alert of a
// group in one order: scaled out, the shard of the group's partition of the
// repartition topic (Owner), which hands each alert's incident back to the
// shard that holds the alert's window. Each alert is assigned once, on its
// first revision; later revisions carry the incident their window keeps.
// It is not safe for concurrent use: one goroutine owns it.
type Incidents struct {
	cfg    IncidentConfig
	ruleID string
	// open holds the incidents still within lookback of the latest alert,
	// order their ids by creation (for expiry), current the newest
	// incident of each grouping key.
	open    map[string]*Incident
	order   []string
	current map[string]string
	// members maps alerts to their incident, so that an alert assigned
	// again (sent again after a restart) keeps it and is not counted
	// twice. A membership lasts while its window may still be sent
	// (Forget), however long its incident stays open.
	members map[uuid.UUID]membership
	// latest is the greatest TimeGenerated seen.
	latest time.Time
	// maxOpen bounds the open incidents (0: no bound) and, fifty times
	// over, the memberships; past either the oldest are forgotten early,
	// which Evicted counts.
	maxOpen int
	Evicted int64
}

// membership is an alert's incident and the end of the alert's window.
type membership struct {
	incident  string
	windowEnd time.Time
}

// membersPerIncident bounds the memberships to that many per open
// incident the limit allows.
const membersPerIncident = 50

// IncidentJoin says what Assign did with an alert.
type IncidentJoin uint8

const (
	// NoIncident: the rule creates no incidents.
	NoIncident IncidentJoin = iota
	// KnownMember: the alert was already in its incident.
	KnownMember
	// Joined: the alert joined an open incident.
	Joined
	// Created: the alert opened a new incident.
	Created
)

// NewIncidents returns an empty grouping for the rule with id ruleID.
func NewIncidents(cfg IncidentConfig, ruleID string) *Incidents {
	return &Incidents{
		cfg: cfg, ruleID: ruleID,
		open: make(map[string]*Incident), current: make(map[string]string), members: make(map[uuid.UUID]membership),
	}
}

// SetLimit bounds the open incidents held; zero means no bound.
func (g *Incidents) SetLimit(maxOpen int) { g.maxOpen = maxOpen }

// Len is the number of open incidents held.
func (g *Incidents) Len() int { return len(g.open) }

// Owner returns the partition, of a topic with n partitions, whose shard
// groups a's incident: every alert of one grouping key meets there. It is
// -1 when the rule creates no incidents.
func (g *Incidents) Owner(a *Alert, n int32) int32 {
	if !g.cfg.CreateIncident {
		return -1
	}
	key := g.groupKey(a)
	if !g.cfg.GroupingEnabled {
		key = a.AlertId // an incident of its own
	}
	return stream.KeyPartition([]byte(g.ruleID+"\x00"+key), int(n))
}

// Assign sets a.IncidentId and says what it did. With createIncident false
// the id stays empty; with grouping disabled every alert opens its own
// incident. Otherwise the alert joins its group's newest incident when that
// incident's first alert is within LookbackDuration of the alert's
// TimeGenerated (inclusive, either side, so an alert exactly 5h after the
// first joins), holds fewer than 150 alerts, and is not closed (unless
// ReopenClosedIncident, which reopens it); else it opens a new one. Groups:
// AnyAlert is one group for the rule; Selected groups by the entities of
// the GroupByEntities types; AllEntities by all entities. An alert already
// in an open incident keeps it and is not counted again.
func (g *Incidents) Assign(a *Alert) IncidentJoin {
	a.IncidentId = ""
	if !g.cfg.CreateIncident {
		return NoIncident
	}
	member := alertUUID(a.AlertId)
	if m, ok := g.members[member]; ok {
		a.IncidentId = m.incident
		return KnownMember
	}
	g.advance(a.TimeGenerated)
	join := Joined
	inc := g.joinable(a)
	if inc == nil {
		inc, join = g.create(a), Created
	}
	g.count(inc, a)
	g.members[member] = membership{inc.IncidentId, a.WindowEnd}
	a.IncidentId = inc.IncidentId
	g.bound()
	return join
}

// Forget drops the memberships of alerts whose window ended before
// before: their windows are gone, so they are not sent again.
func (g *Incidents) Forget(before time.Time) {
	for k, m := range g.members {
		if m.windowEnd.Before(before) {
			delete(g.members, k)
		}
	}
}

// Close marks an incident closed, as fed back on the incident-status topic.
// An unknown or expired id is ignored.
func (g *Incidents) Close(incidentID string) {
	if inc, ok := g.open[incidentID]; ok {
		inc.Status = IncidentClosed
	}
}

// Snapshot returns a copy of a retained incident.
func (g *Incidents) Snapshot(id string) (Incident, bool) {
	inc, ok := g.open[id]
	if !ok {
		return Incident{}, false
	}
	c := *inc
	c.AlertIds = slices.Clone(inc.AlertIds)
	c.Accounts = slices.Clone(inc.Accounts)
	return c, true
}

// joinable returns the incident a new alert joins, or nil when it must open one.
func (g *Incidents) joinable(a *Alert) *Incident {
	if !g.cfg.GroupingEnabled {
		return nil
	}
	inc, ok := g.open[g.current[g.groupKey(a)]]
	switch {
	case !ok:
		return nil
	case !g.withinLookback(inc.FirstAlertTime, a.TimeGenerated):
		return nil
	case inc.AlertCount >= maxAlertsPerIncident:
		return nil
	case inc.Status == IncidentClosed && !g.cfg.ReopenClosedIncident:
		return nil
	case inc.Status == IncidentClosed:
		inc.Status = IncidentActive
	}
	return inc
}

// create opens the incident whose first alert is a and makes it its group's
// newest unless the group's current incident started later.
func (g *Incidents) create(a *Alert) *Incident {
	id := g.incidentID(a.AlertId)
	inc := &Incident{
		IncidentId:     id,
		RuleId:         g.ruleID,
		Title:          a.AlertName,
		Severity:       a.Severity,
		Status:         IncidentNew,
		FirstAlertTime: a.TimeGenerated,
		LastAlertTime:  a.TimeGenerated,
	}
	g.open[id] = inc
	g.order = append(g.order, id)
	if g.cfg.GroupingEnabled {
		key := g.groupKey(a)
		inc.Grouping = key
		// A late alert far behind the group's newest incident must not
		// displace it, or the alerts after it would all open new incidents.
		if cur, ok := g.open[g.current[key]]; !ok || !cur.FirstAlertTime.After(a.TimeGenerated) {
			g.current[key] = id
		}
	}
	return inc
}

// count adds alert a to incident inc.
func (g *Incidents) count(inc *Incident, a *Alert) {
	inc.AlertCount++
	if a.TimeGenerated.After(inc.LastAlertTime) {
		inc.LastAlertTime = a.TimeGenerated
	}
	if len(inc.AlertIds) < maxAlertsPerIncident {
		inc.AlertIds = append(inc.AlertIds, a.AlertId)
	}
	for _, r := range a.rows() {
		upn := r.UserPrincipalName
		if upn != "" && len(inc.Accounts) < maxIncidentAccounts && !slices.Contains(inc.Accounts, upn) {
			inc.Accounts = append(inc.Accounts, upn)
		}
	}
}

// advance moves the latest alert time to t when t is later, and drops the
// incidents no alert can join any more: those whose first alert is more than
// LookbackDuration before it. Incidents leave in creation order, so one
// created out of time order may stay a little longer; memory stays bounded.
func (g *Incidents) advance(t time.Time) {
	if t.After(g.latest) {
		g.latest = t
	}
	for len(g.order) > 0 {
		if inc, ok := g.open[g.order[0]]; ok && !inc.FirstAlertTime.Add(g.cfg.LookbackDuration).Before(g.latest) {
			return
		}
		g.drop()
	}
}

// bound forgets the oldest incidents and memberships past the limit.
func (g *Incidents) bound() {
	for g.maxOpen > 0 && len(g.open) > g.maxOpen {
		g.drop()
		g.Evicted++
	}
	if limit := g.maxOpen * membersPerIncident; g.maxOpen > 0 && len(g.members) > limit {
		// The earliest windows go first, a tenth at a time.
		ms := g.memberList()
		for _, m := range ms[:len(ms)-limit*9/10] {
			delete(g.members, m.alert)
			g.Evicted++
		}
	}
}

// memberList returns the memberships by window end, then alert.
func (g *Incidents) memberList() []memberState {
	ms := make([]memberState, 0, len(g.members))
	for k, m := range g.members {
		ms = append(ms, memberState{alert: k, Incident: m.incident, WindowEnd: m.windowEnd})
	}
	slices.SortFunc(ms, func(a, b memberState) int {
		if c := a.WindowEnd.Compare(b.WindowEnd); c != 0 {
			return c
		}
		return strings.Compare(a.alert.String(), b.alert.String())
	})
	for i := range ms {
		ms[i].Alert = ms[i].alert.String()
	}
	return ms
}

// drop forgets the oldest incident.
func (g *Incidents) drop() {
	id := g.order[0]
	g.order = g.order[1:]
	inc, ok := g.open[id]
	if !ok {
		return
	}
	delete(g.open, id)
	if g.current[inc.Grouping] == id {
		delete(g.current, inc.Grouping)
	}
}

// withinLookback reports whether t is within LookbackDuration of first,
// inclusive, on either side: alerts from different partitions arrive a
// little out of event-time order.
func (g *Incidents) withinLookback(first, t time.Time) bool {
	d := t.Sub(first)
	if d < 0 {
		d = -d
	}
	return d <= g.cfg.LookbackDuration
}

// groupKey returns the key of a's group: "" for AnyAlert (all alerts of the
// rule), the sorted entities of the selected types for Selected, all sorted
// entities for AllEntities.
func (g *Incidents) groupKey(a *Alert) string {
	var selected func(Entity) bool
	switch g.cfg.MatchingMethod {
	case "Selected":
		types := make([]string, len(g.cfg.GroupByEntities))
		for i, t := range g.cfg.GroupByEntities {
			types[i] = entityTypeName(t)
		}
		selected = func(e Entity) bool { return slices.Contains(types, e.Type) }
	case "AllEntities":
		selected = func(Entity) bool { return true }
	default:
		return ""
	}
	var keys []string
	for _, e := range a.Entities {
		if selected(e) {
			keys = append(keys, e.key())
		}
	}
	slices.Sort(keys)
	return strings.Join(slices.Compact(keys), "\n")
}

// incidentID is the id of the incident whose first alert is alertID: a
// UUIDv5 of the rule id and that alert id, so a replay regenerates it.
func (g *Incidents) incidentID(alertID string) string {
	return uuid.NewSHA1(idNamespace, idName("incident", g.ruleID, alertID)).String()
}

// alertUUID returns an alert id as a UUID for compact membership keys; an id
// that is not a UUID is hashed into one.
func alertUUID(alertID string) uuid.UUID {
	if u, err := uuid.Parse(alertID); err == nil {
		return u
	}
	return uuid.NewSHA1(idNamespace, idName("alert-key", alertID))
}

// Restore puts back an incident read from the incidents topic after a
// restart of a single engine, so that alerts replayed from the last commit
// keep their incident and new ones join as they would have without the
// restart. Of several snapshots of one incident the one with the most
// alerts wins.
func (g *Incidents) Restore(inc Incident) {
	if _, err := uuid.Parse(inc.IncidentId); err != nil {
		return
	}
	old, known := g.open[inc.IncidentId]
	if known && old.AlertCount >= inc.AlertCount {
		return
	}
	c := inc
	c.AlertIds = slices.Clone(inc.AlertIds)
	c.Accounts = slices.Clone(inc.Accounts)
	g.open[inc.IncidentId] = &c
	if !known {
		g.order = append(g.order, inc.IncidentId)
		slices.SortStableFunc(g.order, func(a, b string) int { return g.open[a].FirstAlertTime.Compare(g.open[b].FirstAlertTime) })
	}
	for _, a := range c.AlertIds {
		// The snapshot does not say where its alerts' windows end: its last
		// alert's time stands in.
		g.members[alertUUID(a)] = membership{inc.IncidentId, inc.LastAlertTime.Add(time.Hour)}
	}
	if g.cfg.GroupingEnabled {
		if cur, ok := g.open[g.current[inc.Grouping]]; !ok || !cur.FirstAlertTime.After(inc.FirstAlertTime) {
			g.current[inc.Grouping] = inc.IncidentId
		}
	}
	g.bound()
}

// incidentState is the whole grouping, for a shard's state record: a new
// owner of the shard starts from it.
type incidentState struct {
	Latest time.Time `json:"latest,omitzero"`
	// Open lists the open incidents in creation order; Current the newest
	// incident id of each grouping key.
	Open    []Incident        `json:"open,omitempty"`
	Current map[string]string `json:"current,omitempty"`
	// Members are the memberships, by window end.
	Members []memberState `json:"members,omitempty"`
}

// memberState is one membership in a state record.
type memberState struct {
	alert     uuid.UUID
	Alert     string    `json:"a"`
	Incident  string    `json:"i"`
	WindowEnd time.Time `json:"we"`
}

func (g *Incidents) state() incidentState {
	st := incidentState{Latest: g.latest, Current: g.current, Members: g.memberList()}
	for _, id := range g.order {
		if inc, ok := g.open[id]; ok {
			st.Open = append(st.Open, *inc)
		}
	}
	return st
}

// restoreState replaces the grouping with st.
func (g *Incidents) restoreState(st incidentState) {
	limit, evicted := g.maxOpen, g.Evicted
	*g = *NewIncidents(g.cfg, g.ruleID)
	g.maxOpen, g.Evicted, g.latest = limit, evicted, st.Latest
	for _, inc := range st.Open {
		c := inc
		c.AlertIds = slices.Clone(inc.AlertIds)
		c.Accounts = slices.Clone(inc.Accounts)
		g.open[c.IncidentId] = &c
		g.order = append(g.order, c.IncidentId)
	}
	for _, m := range st.Members {
		g.members[alertUUID(m.Alert)] = membership{m.Incident, m.WindowEnd}
	}
	for k, id := range st.Current {
		if _, ok := g.open[id]; ok {
			g.current[k] = id
		}
	}
}
