package detector

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
)

const (
	// maxAlertsPerIncident is Sentinel's cap: the 151st alert opens a new incident.
	maxAlertsPerIncident = 150
	// maxIncidentAccounts caps the distinct accounts an Incident record lists.
	maxIncidentAccounts = 150
	// maxMemberships bounds the alert-to-incident memory (about 150 bytes an
	// entry, so some 150 MB when full). An alert forgotten by it that gets a
	// new revision rejoins its incident while the incident is retained.
	maxMemberships = 1 << 20
)

// Incident statuses, as Sentinel names them.
const (
	IncidentNew    = "New"
	IncidentActive = "Active" // reopened after Close
	IncidentClosed = "Closed"
)

// Incident is the record of one incident, for publishing on an incidents
// topic. AlertIds lists the first maxAlertsPerIncident alerts (all of them,
// given the cap); Accounts the first maxIncidentAccounts distinct UPNs.
type Incident struct {
	IncidentId     string
	RuleId         string
	Title          string // AlertName of the first alert, as Sentinel titles incidents
	Severity       string
	Status         string // IncidentNew, IncidentActive or IncidentClosed
	FirstAlertTime time.Time
	LastAlertTime  time.Time
	AlertCount     int
	AlertIds       []string
	Accounts       []string
	// Grouping is the key that alerts of the incident share: "" for
	// AnyAlert, the grouped entities otherwise. Restore needs it.
	Grouping string
}

// MarshalJSON writes the incident with timestamps in the output layout and
// empty lists as [].
func (i Incident) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		IncidentId     string
		RuleId         string
		Title          string
		Severity       string
		Status         string
		FirstAlertTime outputTime
		LastAlertTime  outputTime
		AlertCount     int
		AlertIds       []string
		Accounts       []string
		Grouping       string
	}{
		i.IncidentId, i.RuleId, i.Title, i.Severity, i.Status,
		outputTime(i.FirstAlertTime), outputTime(i.LastAlertTime), i.AlertCount,
		nonNil(i.AlertIds), nonNil(i.Accounts), i.Grouping,
	})
}

// Restore puts back an incident read from the incidents topic after a
// restart, so that alerts replayed from the last commit keep their incident
// and new ones join as they would have without the restart. Of several
// snapshots of one incident the one with the most alerts wins.
func (g *Incidents) Restore(inc Incident) {
	id, err := uuid.Parse(inc.IncidentId)
	if err != nil {
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
		g.members.Add(alertUUID(a), id)
	}
	if g.cfg.GroupingEnabled {
		g.byGroup[inc.IncidentId] = inc.Grouping
		if cur, ok := g.open[g.current[inc.Grouping]]; !ok || !cur.FirstAlertTime.After(inc.FirstAlertTime) {
			g.current[inc.Grouping] = inc.IncidentId
		}
	}
}

// Incidents groups one rule's alerts into incidents as Sentinel's
// incidentConfiguration does (SPEC section 5). Time is the alerts'
// TimeGenerated, never the wall clock, so a replay regroups identically.
// It is not safe for concurrent use: one goroutine owns it.
type Incidents struct {
	cfg    IncidentConfig
	ruleID string
	// members maps an alert id to its incident id, so later revisions of an
	// alert keep their incident and are not counted again.
	members *lru.Cache[uuid.UUID, uuid.UUID]
	// open holds the incidents still within lookback of the latest alert.
	open map[string]*Incident
	// current maps a grouping key to the newest incident of that group.
	current map[string]string
	// byGroup maps an incident id back to its grouping key.
	byGroup map[string]string
	// order lists retained incident ids by creation, for expiry.
	order []string
	// latest is the greatest TimeGenerated seen.
	latest time.Time
}

// NewIncidents returns an empty grouping for the rule with id ruleID.
func NewIncidents(cfg IncidentConfig, ruleID string) *Incidents {
	members, err := lru.New[uuid.UUID, uuid.UUID](maxMemberships)
	if err != nil {
		panic("detector: lru.New with a positive constant size failed: " + err.Error())
	}
	return &Incidents{
		cfg:     cfg,
		ruleID:  ruleID,
		members: members,
		open:    make(map[string]*Incident),
		current: make(map[string]string),
		byGroup: make(map[string]string),
	}
}

// Assign sets a.IncidentId and reports whether a new incident was created.
// A later revision of an alert keeps its incident and is not counted again.
// With createIncident false the id stays empty; with grouping disabled every
// alert opens its own incident. Otherwise the alert joins its group's newest
// incident when that incident's first alert is within LookbackDuration of
// the alert's TimeGenerated (inclusive, either side, so an alert exactly 5h
// after the first joins), holds fewer than 150 alerts, and is not closed
// (unless ReopenClosedIncident, which reopens it); else it opens a new one.
// Groups: AnyAlert is one group for the rule; Selected groups by the
// entities of the GroupByEntities types; AllEntities by all entities.
func (g *Incidents) Assign(a *Alert) (created bool) {
	a.IncidentId = ""
	if !g.cfg.CreateIncident {
		return false
	}
	member := alertUUID(a.AlertId)
	if id, ok := g.members.Get(member); ok {
		a.IncidentId = id.String()
		return false
	}
	g.advance(a.TimeGenerated)
	inc := g.joinable(a)
	if inc == nil {
		inc, created = g.create(a)
	}
	// An alert whose membership was evicted finds its own incident again
	// (its id derives from it): it is not counted twice.
	if created || inc.IncidentId != g.incidentID(a.AlertId) {
		g.count(inc, a)
	}
	g.members.Add(member, uuid.MustParse(inc.IncidentId))
	a.IncidentId = inc.IncidentId
	return created
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
// newest unless the group's current incident started later. If that incident is still retained (a's membership was evicted),
// it is returned instead and created is false.
func (g *Incidents) create(a *Alert) (inc *Incident, created bool) {
	id := g.incidentID(a.AlertId)
	if inc, ok := g.open[id]; ok {
		return inc, false
	}
	inc = &Incident{
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
		g.byGroup[id] = key
		// A late alert far behind the group's newest incident must not
		// displace it, or the alerts after it would all open new incidents.
		if cur, ok := g.open[g.current[key]]; !ok || !cur.FirstAlertTime.After(a.TimeGenerated) {
			g.current[key] = id
		}
	}
	return inc, true
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
		id := g.order[0]
		if inc, ok := g.open[id]; ok && !inc.FirstAlertTime.Add(g.cfg.LookbackDuration).Before(g.latest) {
			return
		}
		g.order = g.order[1:]
		delete(g.open, id)
		if key, ok := g.byGroup[id]; ok {
			if g.current[key] == id {
				delete(g.current, key)
			}
			delete(g.byGroup, id)
		}
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
