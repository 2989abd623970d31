package detector

import "time"

// Rule is the analytics rule as loaded from its Sentinel YAML file.
type Rule struct {
	ID          string
	Name        string
	Version     string
	Description string
	Severity    string
	Tactics     []string
	Techniques  []string
	// SubTechniques are the rule's subTechniques, such as T1078.004.
	SubTechniques []string
	// QueryPeriod is the window size (the rule's queryPeriod, 1h for the seed rule).
	QueryPeriod time.Duration
	// LegitApps is LegitRopcApps from the query text, as written.
	LegitApps []string
	// LegitUsers is LegitRopcUsers from the query text, lower-cased at load.
	LegitUsers     []string
	EntityMappings []EntityMapping
	// CustomDetails keep the order of the YAML mapping.
	CustomDetails     []CustomDetail
	DisplayNameFormat string
	DescriptionFormat string
	Aggregation       Aggregation
	Incident          IncidentConfig
	// Warnings are non-fatal findings at load, such as an allowlisted user
	// that lower-casing changed.
	Warnings []string
}

// EntityMapping maps one Sentinel entity type to result columns.
type EntityMapping struct {
	EntityType    string // "Account" or "IP"
	FieldMappings []FieldMapping
}

// FieldMapping maps an entity identifier to a result column.
type FieldMapping struct {
	Identifier string // e.g. "FullName", "Address"
	ColumnName string // a Row column name
}

// CustomDetail is one customDetails entry: a key shown in the alert and the
// result column it takes its value from.
type CustomDetail struct {
	Key    string
	Column string
}

// Aggregation is the rule's eventGroupingSettings.aggregationKind.
type Aggregation string

const (
	// AlertPerResult raises one alert per result row (per user and window).
	AlertPerResult Aggregation = "AlertPerResult"
	// SingleAlert raises one alert per window naming the top row.
	SingleAlert Aggregation = "SingleAlert"
)

// IncidentConfig is the rule's incidentConfiguration.
type IncidentConfig struct {
	CreateIncident       bool
	GroupingEnabled      bool
	ReopenClosedIncident bool
	LookbackDuration     time.Duration
	MatchingMethod       string   // "AnyAlert", "Selected" or "AllEntities"
	GroupByEntities      []string // e.g. ["Account"]
	GroupByAlertDetails  []string // "DisplayName" and/or "Severity"
	GroupByCustomDetails []string // customDetails keys
}
