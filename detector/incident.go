package detector

import (
	"encoding/json"
	"time"
)

const (
	// maxAlertsPerIncident is Sentinel's cap: the 151st alert opens a new incident.
	maxAlertsPerIncident = 150
	// maxIncidentAccounts caps the distinct accounts an Incident record lists.
	maxIncidentAccounts = 150
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
