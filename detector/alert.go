package detector

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// idNamespace is the UUIDv5 namespace of every id ropcwatch derives: alert
// ids (AlertID) and incident ids (Incidents). It was drawn at random once
// and must never change: replays and consumers that deduplicate by id rely on
// the same inputs giving the same id across versions.
var idNamespace = uuid.MustParse("eb1c9dd6-f2cd-4be4-a931-e0eb2ac9a890")

// Status is where an alert revision stands in the alert's lifecycle.
type Status string

const (
	// StatusEarly is the first revision, sent soon after the first qualifying event.
	StatusEarly Status = "early"
	// StatusUpdate is sent when a new IP, country or app joins the open window.
	StatusUpdate Status = "update"
	// StatusFinal is sent when the window closes.
	StatusFinal Status = "final"
	// StatusAmended is sent when a late event changes a closed window.
	StatusAmended Status = "amended"
)

// Alert is one revision of one alert, in the Sentinel shape of SPEC section
// 4. Every revision of an alert shares its AlertId; Revision only grows.
// Fields marshal in declaration order; timestamps in UTC with seven
// fractional digits.
type Alert struct {
	AlertId       string
	Revision      int
	Status        Status
	RuleId        string
	RuleName      string
	RuleVersion   string
	AlertName     string // rendered alertDisplayNameFormat, safe for display
	Description   string // rendered alertDescriptionFormat, safe for display
	Severity      string
	Tactics       []string
	Techniques    []string
	WindowStart   time.Time
	WindowEnd     time.Time
	StartTime     time.Time // FirstSeen
	EndTime       time.Time // LastSeen
	TimeGenerated time.Time
	ProcessedAt   time.Time // wall clock at emission; the only nondeterministic field
	Entities      []Entity
	CustomDetails CustomDetailValues
	IncidentId    string // empty when the rule creates no incidents
	Result        Row    // the KQL row, raw values; the top row for SingleAlert
	// Truncated reports that a set of the row hit the configured size cap.
	// Alerts leaves it false; the caller that owns the summary sets it.
	Truncated bool
	// Results holds every row of the window for SingleAlert, in output order.
	Results []Row
	// ConfigVersion names the rule and allowlist content that produced the
	// revision (streaming; empty in batch).
	ConfigVersion string
}

// AlertContext is what an alert revision knows beyond its rows.
type AlertContext struct {
	Status        Status
	Revision      int
	WindowStart   time.Time
	WindowEnd     time.Time
	TimeGenerated time.Time // deterministic: triggering record's time, or window end for final
	ProcessedAt   time.Time // wall clock
}

// Alerts turns one window's result rows, already in output order (Count
// desc, UPN asc), into alerts. With AlertPerResult (and when the rule names
// no aggregation) each row is one alert; with SingleAlert the window is one
// alert named and described from the top row, holding every row's entities
// and every row in Results. No rows, no alerts. The alerts share no slices
// with rows.
func (r *Rule) Alerts(rows []Row, c AlertContext) []Alert {
	if len(rows) == 0 {
		return nil
	}
	if r.Aggregation == SingleAlert {
		return []Alert{r.windowAlert(rows, c)}
	}
	alerts := make([]Alert, len(rows))
	for i := range rows {
		row := rows[i].clone()
		a := r.newAlert(AlertID(r.ID, row.UserPrincipalName, c.WindowEnd), row, c)
		a.Entities = numberEntities(r.rowEntities(&row))
		alerts[i] = a
	}
	return alerts
}

// windowAlert builds the one SingleAlert alert of a window from its rows.
func (r *Rule) windowAlert(rows []Row, c AlertContext) Alert {
	all := make([]Row, len(rows))
	var entities []Entity
	for i := range rows {
		all[i] = rows[i].clone()
		entities = append(entities, r.rowEntities(&all[i])...)
	}
	a := r.newAlert(windowAlertID(r.ID, c.WindowEnd), all[0].clone(), c)
	a.Entities = numberEntities(entities)
	a.Results = all
	for _, row := range all[1:] {
		if row.FirstSeen.Before(a.StartTime) {
			a.StartTime = row.FirstSeen
		}
		if row.LastSeen.After(a.EndTime) {
			a.EndTime = row.LastSeen
		}
	}
	return a
}

// newAlert fills the fields every alert takes from the rule, its top row
// and the context.
func (r *Rule) newAlert(id string, top Row, c AlertContext) Alert {
	return Alert{
		AlertId:       id,
		Revision:      c.Revision,
		Status:        c.Status,
		RuleId:        r.ID,
		RuleName:      r.Name,
		RuleVersion:   r.Version,
		AlertName:     r.alertName(&top),
		Description:   r.alertDescription(&top),
		Severity:      r.Severity,
		Tactics:       append([]string(nil), r.Tactics...),
		Techniques:    append([]string(nil), r.Techniques...),
		WindowStart:   c.WindowStart,
		WindowEnd:     c.WindowEnd,
		StartTime:     top.FirstSeen,
		EndTime:       top.LastSeen,
		TimeGenerated: c.TimeGenerated,
		ProcessedAt:   c.ProcessedAt,
		CustomDetails: r.customDetails(&top),
		Result:        top,
	}
}

// AlertID returns the id shared by every revision of the alert for one user
// and window: a UUIDv5 under idNamespace of the rule id, the exact UPN and
// the window end. See idName for the encoding.
func AlertID(ruleID, upn string, windowEnd time.Time) string {
	return uuid.NewSHA1(idNamespace, idName("alert-per-result", ruleID, upn, windowKey(windowEnd))).String()
}

// windowAlertID returns the id of a window's SingleAlert alert. Its name has
// its own kind and one field fewer, so it never equals a per-user AlertID.
func windowAlertID(ruleID string, windowEnd time.Time) string {
	return uuid.NewSHA1(idNamespace, idName("single-alert", ruleID, windowKey(windowEnd))).String()
}

// idName encodes a kind and fields unambiguously as the name of a UUIDv5:
// "ropcwatch/v1/" kind, then each field as its decimal byte length, ':' and
// its bytes (a netstring without the trailing comma), so no two different
// field lists share an encoding whatever bytes the fields hold.
func idName(kind string, fields ...string) []byte {
	b := append([]byte("ropcwatch/v1/"), kind...)
	for _, f := range fields {
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
	}
	return b
}

// windowKey writes a window end as UTC with nine fractional digits, so one
// instant gives one key whatever its location or monotonic reading.
func windowKey(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// Key returns the Kafka record key of the alert: the UPN of its Result, so
// one user's alerts stay in order on one partition. An empty UPN gives an
// empty, non-nil key; one longer than maxKeyBytes, which no directory
// issues, is cut to it (ending in "…") so that the record fits.
func (a *Alert) Key() []byte {
	return []byte(capString(a.Result.UserPrincipalName, maxKeyBytes))
}

// maxKeyBytes bounds an alert's key. Entra caps a UPN at 113 characters.
const maxKeyBytes = 4 << 10

// Headers returns the Kafka record headers for the alert in format f, so
// consumers route without parsing: content-type, alert-format, alert-id,
// alert-revision, alert-status, severity, rule-id, incident-id (empty when
// there is none) and, for OCSF, ocsf-schema naming the class.
func (a *Alert) Headers(f Format) [][2]string {
	if f == "" {
		f = FormatSentinel
	}
	h := [][2]string{
		{"content-type", "application/json"},
		{"alert-format", string(f)},
		{"alert-id", a.AlertId},
		{"alert-revision", strconv.Itoa(a.Revision)},
		{"alert-status", string(a.Status)},
		{"severity", a.Severity},
		{"rule-id", a.RuleId},
		{"incident-id", a.IncidentId},
	}
	if f == FormatOCSF {
		h = append(h, [2]string{"ocsf-schema", ocsfSchemaURL})
	}
	return h
}

// alertJSON is the Sentinel wire shape of an Alert.
type alertJSON struct {
	AlertId       string
	Revision      int
	Status        Status
	RuleId        string
	RuleName      string
	RuleVersion   string
	AlertName     string
	Description   string
	Severity      string
	Tactics       []string
	Techniques    []string
	WindowStart   outputTime
	WindowEnd     outputTime
	StartTime     outputTime
	EndTime       outputTime
	TimeGenerated outputTime
	ProcessedAt   outputTime
	Entities      []Entity
	CustomDetails CustomDetailValues
	IncidentId    string
	Result        Row
	Truncated     bool   `json:",omitempty"`
	Results       []Row  `json:",omitempty"`
	ConfigVersion string `json:",omitempty"`
}

// MarshalJSON writes the alert in the Sentinel shape; empty lists are [].
func (a Alert) MarshalJSON() ([]byte, error) {
	return json.Marshal(alertJSON{
		AlertId:       a.AlertId,
		Revision:      a.Revision,
		Status:        a.Status,
		RuleId:        a.RuleId,
		RuleName:      a.RuleName,
		RuleVersion:   a.RuleVersion,
		AlertName:     a.AlertName,
		Description:   a.Description,
		Severity:      a.Severity,
		Tactics:       nonNil(a.Tactics),
		Techniques:    nonNil(a.Techniques),
		WindowStart:   outputTime(a.WindowStart),
		WindowEnd:     outputTime(a.WindowEnd),
		StartTime:     outputTime(a.StartTime),
		EndTime:       outputTime(a.EndTime),
		TimeGenerated: outputTime(a.TimeGenerated),
		ProcessedAt:   outputTime(a.ProcessedAt),
		Entities:      nonNil(a.Entities),
		CustomDetails: a.CustomDetails,
		IncidentId:    a.IncidentId,
		Result:        a.Result,
		Truncated:     a.Truncated,
		Results:       a.Results,
		ConfigVersion: a.ConfigVersion,
	})
}

// CustomDetailValues are an alert's custom details: the rule's keys in YAML
// order with the row's values. They marshal as one JSON object in that order,
// Count as a number, sets as arrays, strings as strings, e.g.
// {"SignInCount":3,"Countries":["US","DE"],"Apps":["x"]}.
type CustomDetailValues []CustomDetailValue

// CustomDetailValue is one custom detail: a key and its value from the row.
type CustomDetailValue struct {
	Key   string
	Value any // string, int, []string or time.Time, as the column holds
}

// MarshalJSON writes the details as one object in order; times in the output
// layout and empty sets as [].
func (d CustomDetailValues) MarshalJSON() ([]byte, error) {
	o := make(jsonObject, len(d))
	for i, v := range d {
		o[i] = jsonMember{v.Key, jsonValue(v.Value)}
	}
	return o.MarshalJSON()
}

// customDetails returns the rule's custom details filled from row. A column
// that is not in the row (the loader rejects such rules) gives "".
func (r *Rule) customDetails(row *Row) CustomDetailValues {
	d := make(CustomDetailValues, len(r.CustomDetails))
	for i, cd := range r.CustomDetails {
		v, ok := row.lookup(cd.Column)
		if !ok {
			v = ""
		}
		d[i] = CustomDetailValue{Key: cd.Key, Value: v}
	}
	return d
}

// jsonValue adapts a column value for output JSON.
func jsonValue(v any) any {
	switch v := v.(type) {
	case time.Time:
		return outputTime(v)
	case []string:
		return nonNil(v)
	}
	return v
}
