package detector

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// checkSchedule validates kind, the query period and frequency, the trigger
// and suppression, and sets r.QueryPeriod.
func (y *ruleYAML) checkSchedule(r *Rule) error {
	switch y.Kind {
	case "Scheduled", "NRT":
	default:
		return fmt.Errorf("kind: %q: want Scheduled or NRT", y.Kind)
	}
	if y.Kind == "Scheduled" || y.QueryPeriod != "" {
		d, err := parseRuleDuration(y.QueryPeriod)
		if err != nil {
			return fmt.Errorf("queryPeriod: %w", err)
		}
		r.QueryPeriod = d
	}
	if y.QueryFrequency != "" {
		d, err := parseRuleDuration(y.QueryFrequency)
		if err != nil {
			return fmt.Errorf("queryFrequency: %w", err)
		}
		if d != r.QueryPeriod {
			r.Warnings = append(r.Warnings, fmt.Sprintf("queryFrequency %s differs from queryPeriod: ropcwatch evaluates tumbling windows of queryPeriod continuously", y.QueryFrequency))
		}
	}
	// NRT rules carry no trigger; they alert on any result, as gt 0 does.
	if y.Kind == "Scheduled" || y.TriggerOperator != "" {
		if y.TriggerOperator != "gt" {
			return fmt.Errorf("triggerOperator: %q: ropcwatch implements triggerOperator gt with triggerThreshold 0", y.TriggerOperator)
		}
	}
	if y.Kind == "Scheduled" || y.TriggerThreshold != nil {
		if y.TriggerThreshold == nil || *y.TriggerThreshold != 0 {
			return fmt.Errorf("triggerThreshold: %s: ropcwatch implements triggerOperator gt with triggerThreshold 0", intOrMissing(y.TriggerThreshold))
		}
	}
	if y.SuppressionDuration != "" {
		if _, err := parseRuleDuration(y.SuppressionDuration); err != nil {
			return fmt.Errorf("suppressionDuration: %w", err)
		}
	}
	if y.SuppressionEnabled {
		return errors.New("suppressionEnabled: true: not supported, ropcwatch raises every alert (set it to false)")
	}
	return nil
}

func intOrMissing(p *int) string {
	if p == nil {
		return "missing"
	}
	return fmt.Sprint(*p)
}

// checkAttack validates tactics and MITRE ATT&CK techniques.
func checkAttack(y *ruleYAML) error {
	for _, t := range y.Tactics {
		switch t {
		case "Reconnaissance", "ResourceDevelopment", "InitialAccess", "Execution", "Persistence",
			"PrivilegeEscalation", "DefenseEvasion", "CredentialAccess", "Discovery", "LateralMovement",
			"Collection", "CommandAndControl", "Exfiltration", "Impact", "PreAttack",
			"ImpairProcessControl", "InhibitResponseFunction":
		default:
			return fmt.Errorf("tactics: %q: not a Sentinel tactic (want e.g. CredentialAccess, InitialAccess)", t)
		}
	}
	for _, t := range y.RelevantTechniques {
		if !isTechnique(t, false) {
			return fmt.Errorf("relevantTechniques: %q: want a MITRE ATT&CK technique such as T1078", t)
		}
	}
	for _, t := range y.SubTechniques {
		if !isTechnique(t, true) {
			return fmt.Errorf("subTechniques: %q: want a MITRE ATT&CK sub-technique such as T1078.004", t)
		}
	}
	return nil
}

// isTechnique reports whether s is a technique ID such as T1078 or, when sub
// is set, a sub-technique ID such as T1078.004.
func isTechnique(s string, sub bool) bool {
	want := "T0000"
	if sub {
		want = "T0000.000"
	}
	if len(s) != len(want) {
		return false
	}
	for i := range len(s) {
		switch want[i] {
		case '0':
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		default:
			if s[i] != want[i] {
				return false
			}
		}
	}
	return true
}

// setEntities validates entityMappings and sets r.EntityMappings: Account
// (FullName, Name, UPNSuffix) and IP (Address), each from a string column.
func (y *ruleYAML) setEntities(r *Rule) error {
	for i, m := range y.EntityMappings {
		key := fmt.Sprintf("entityMappings[%d]", i)
		var ids []string
		switch m.EntityType {
		case "Account":
			ids = []string{"FullName", "Name", "UPNSuffix"}
		case "IP":
			ids = []string{"Address"}
		default:
			return fmt.Errorf("%s.entityType: %q: want Account or IP", key, m.EntityType)
		}
		if len(m.FieldMappings) == 0 || len(m.FieldMappings) > 3 {
			return fmt.Errorf("%s.fieldMappings: %d mappings: want 1 to 3", key, len(m.FieldMappings))
		}
		em := EntityMapping{EntityType: m.EntityType}
		for j, f := range m.FieldMappings {
			fkey := fmt.Sprintf("%s.fieldMappings[%d]", key, j)
			if !slices.Contains(ids, f.Identifier) {
				return fmt.Errorf("%s.identifier: %q: want %s for %s", fkey, f.Identifier, strings.Join(ids, ", "), m.EntityType)
			}
			if f.ColumnName != "UserPrincipalName" && f.ColumnName != "IPAddress" {
				return fmt.Errorf("%s.columnName: %q: not a string result column (want UserPrincipalName or IPAddress)", fkey, f.ColumnName)
			}
			em.FieldMappings = append(em.FieldMappings, FieldMapping{Identifier: f.Identifier, ColumnName: f.ColumnName})
		}
		r.EntityMappings = append(r.EntityMappings, em)
	}
	if len(r.EntityMappings) > 10 {
		return fmt.Errorf("entityMappings: %d mappings: Sentinel allows at most 10", len(r.EntityMappings))
	}
	return nil
}

// setCustomDetails validates customDetails, a mapping from detail key to
// result column, and sets r.CustomDetails in the mapping's order.
func (r *Rule) setCustomDetails(n *yaml.Node) error {
	if n.Kind == 0 || n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("customDetails: line %d: want a mapping of key: column", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return fmt.Errorf("customDetails: line %d: want a key name", k.Line)
		}
		if v.Kind != yaml.ScalarNode || !isResultColumn(v.Value) {
			return fmt.Errorf("customDetails.%s: %q: not a result column (want one of %s)", k.Value, v.Value, resultColumns)
		}
		for _, d := range r.CustomDetails {
			if d.Key == k.Value {
				return fmt.Errorf("customDetails.%s: defined twice", k.Value)
			}
		}
		r.CustomDetails = append(r.CustomDetails, CustomDetail{Key: k.Value, Column: v.Value})
	}
	if len(r.CustomDetails) > 20 {
		return fmt.Errorf("customDetails: %d details: Sentinel allows at most 20", len(r.CustomDetails))
	}
	return nil
}

// resultColumns names the columns of the rule's result, in order (see Row).
const resultColumns = "UserPrincipalName, Count, IPs, Countries, Apps, FirstSeen, LastSeen, IPAddress"

// isResultColumn reports whether name is a column of the rule's result.
func isResultColumn(name string) bool {
	return name != "" && !strings.ContainsAny(name, ", ") && slices.Contains(strings.Split(resultColumns, ", "), name)
}

// maxTemplatePlaceholders is how many {{Column}} placeholders Sentinel allows
// in one alert details template.
const maxTemplatePlaceholders = 3

// checkAlertDetails validates alertDetailsOverride: each template refers to
// at most three result columns, and no column overrides severity or tactics,
// since the result has none.
func (y *ruleYAML) checkAlertDetails(r *Rule) error {
	a := &y.AlertDetailsOverride
	for _, t := range []struct{ key, text string }{
		{"alertDisplayNameFormat", a.AlertDisplayNameFormat},
		{"alertDescriptionFormat", a.AlertDescriptionFormat},
	} {
		if err := checkTemplate(t.text); err != nil {
			return fmt.Errorf("alertDetailsOverride.%s: %w", t.key, err)
		}
	}
	if a.AlertSeverityColumnName != "" {
		return fmt.Errorf("alertDetailsOverride.alertSeverityColumnName: %q: not supported, the result has no severity column", a.AlertSeverityColumnName)
	}
	if a.AlertTacticsColumnName != "" {
		return fmt.Errorf("alertDetailsOverride.alertTacticsColumnName: %q: not supported, the result has no tactics column", a.AlertTacticsColumnName)
	}
	if len(a.AlertDynamicProperties.Content) > 0 {
		r.Warnings = append(r.Warnings, "alertDetailsOverride.alertDynamicProperties is ignored")
	}
	return nil
}

// checkTemplate checks the {{Column}} placeholders of an alert template.
func checkTemplate(text string) error {
	n := 0
	for rest := text; ; {
		i := strings.Index(rest, "{{")
		if i < 0 {
			return nil
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return fmt.Errorf("%q: unterminated {{", rest[i:])
		}
		name := rest[i+2 : i+j]
		if !isResultColumn(name) {
			return fmt.Errorf("{{%s}}: not a result column (want one of %s)", name, resultColumns)
		}
		if n++; n > maxTemplatePlaceholders {
			return fmt.Errorf("{{%s}}: more than %d placeholders", name, maxTemplatePlaceholders)
		}
		rest = rest[i+j+2:]
	}
}

// setIncident validates incidentConfiguration and sets r.Incident. Without
// one, Sentinel creates an incident per alert and does not group.
func (y *ruleYAML) setIncident(r *Rule) error {
	r.Incident = IncidentConfig{CreateIncident: true, LookbackDuration: 5 * time.Hour, MatchingMethod: "AnyAlert"}
	ic := y.IncidentConfiguration
	if ic == nil {
		return nil
	}
	if ic.CreateIncident != nil {
		r.Incident.CreateIncident = *ic.CreateIncident
	}
	g := ic.GroupingConfiguration
	if g == nil {
		return nil
	}
	const key = "incidentConfiguration.groupingConfiguration"
	r.Incident.GroupingEnabled = g.Enabled
	r.Incident.ReopenClosedIncident = g.ReopenClosedIncident
	if g.LookbackDuration != "" {
		d, err := parseISODuration(g.LookbackDuration)
		if err != nil {
			return fmt.Errorf("%s.lookbackDuration: %w", key, err)
		}
		if d < 5*time.Minute || d > 7*24*time.Hour {
			return fmt.Errorf("%s.lookbackDuration: %q: want 5 minutes to 7 days", key, g.LookbackDuration)
		}
		r.Incident.LookbackDuration = d
	}
	switch g.MatchingMethod {
	case "":
	case "AnyAlert", "Selected", "AllEntities":
		r.Incident.MatchingMethod = g.MatchingMethod
	default:
		return fmt.Errorf("%s.matchingMethod: %q: want AnyAlert, Selected or AllEntities", key, g.MatchingMethod)
	}
	for _, e := range g.GroupByEntities {
		if !r.mapsEntity(e) {
			return fmt.Errorf("%s.groupByEntities: %q: not a mapped entity type", key, e)
		}
	}
	for _, d := range g.GroupByAlertDetails {
		if d != "DisplayName" && d != "Severity" {
			return fmt.Errorf("%s.groupByAlertDetails: %q: want DisplayName or Severity", key, d)
		}
	}
	for _, c := range g.GroupByCustomDetails {
		if !r.hasCustomDetail(c) {
			return fmt.Errorf("%s.groupByCustomDetails: %q: not a customDetails key", key, c)
		}
	}
	r.Incident.GroupByEntities = g.GroupByEntities
	r.Incident.GroupByAlertDetails = g.GroupByAlertDetails
	r.Incident.GroupByCustomDetails = g.GroupByCustomDetails
	return nil
}

// mapsEntity reports whether the rule maps an entity of the given type.
func (r *Rule) mapsEntity(entityType string) bool {
	for _, m := range r.EntityMappings {
		if m.EntityType == entityType {
			return true
		}
	}
	return false
}

// hasCustomDetail reports whether the rule has a custom detail named key.
func (r *Rule) hasCustomDetail(key string) bool {
	for _, d := range r.CustomDetails {
		if d.Key == key {
			return true
		}
	}
	return false
}
