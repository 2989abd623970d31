package detector

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"
)

// seedRuleYAML is the rule ropcwatch ships with, as kept for Sentinel.
//
//go:embed rules/ropc-authentication-detected.yaml
var seedRuleYAML []byte

// seedRule parses seedRuleYAML once; a test guards that it loads.
var seedRule = sync.OnceValue(func() *Rule {
	r, err := LoadRule(seedRuleYAML)
	if err != nil {
		panic(fmt.Sprintf("embedded seed rule: %v", err))
	}
	return r
})

// SeedRule returns the embedded rule "ROPC Authentication Detected -
// Credential Pass-Through Bypass". It is parsed once and shared: treat it as
// read-only.
func SeedRule() *Rule { return seedRule() }

// LoadRuleFile reads and validates the Sentinel rule YAML file at path; see
// LoadRule.
func LoadRuleFile(path string) (*Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load rule: %w", err)
	}
	r, err := LoadRule(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ruleYAML is the Sentinel analytics rule YAML format. Keys ropcwatch does
// not use but rule files carry are accepted as yaml.Node; any other key is an
// error.
type ruleYAML struct {
	ID                     string              `yaml:"id"`
	Name                   string              `yaml:"name"`
	Version                string              `yaml:"version"`
	Kind                   string              `yaml:"kind"`
	Description            string              `yaml:"description"`
	Severity               string              `yaml:"severity"`
	Status                 string              `yaml:"status"`
	RequiredDataConnectors yaml.Node           `yaml:"requiredDataConnectors"`
	QueryFrequency         string              `yaml:"queryFrequency"`
	QueryPeriod            string              `yaml:"queryPeriod"`
	TriggerOperator        string              `yaml:"triggerOperator"`
	TriggerThreshold       *int                `yaml:"triggerThreshold"`
	Tactics                []string            `yaml:"tactics"`
	RelevantTechniques     []string            `yaml:"relevantTechniques"`
	SubTechniques          []string            `yaml:"subTechniques"`
	Query                  string              `yaml:"query"`
	EntityMappings         []entityMappingYAML `yaml:"entityMappings"`
	CustomDetails          yaml.Node           `yaml:"customDetails"`
	AlertDetailsOverride   alertDetailsYAML    `yaml:"alertDetailsOverride"`
	IncidentConfiguration  *incidentYAML       `yaml:"incidentConfiguration"`
	EventGroupingSettings  struct {
		AggregationKind string `yaml:"aggregationKind"`
	} `yaml:"eventGroupingSettings"`
	SuppressionDuration string    `yaml:"suppressionDuration"`
	SuppressionEnabled  bool      `yaml:"suppressionEnabled"`
	Tags                yaml.Node `yaml:"tags"`
	Metadata            yaml.Node `yaml:"metadata"`
}

type entityMappingYAML struct {
	EntityType    string `yaml:"entityType"`
	FieldMappings []struct {
		Identifier string `yaml:"identifier"`
		ColumnName string `yaml:"columnName"`
	} `yaml:"fieldMappings"`
}

type alertDetailsYAML struct {
	AlertDisplayNameFormat  string    `yaml:"alertDisplayNameFormat"`
	AlertDescriptionFormat  string    `yaml:"alertDescriptionFormat"`
	AlertSeverityColumnName string    `yaml:"alertSeverityColumnName"`
	AlertTacticsColumnName  string    `yaml:"alertTacticsColumnName"`
	AlertDynamicProperties  yaml.Node `yaml:"alertDynamicProperties"`
}

type incidentYAML struct {
	CreateIncident        *bool `yaml:"createIncident"`
	GroupingConfiguration *struct {
		Enabled              bool     `yaml:"enabled"`
		ReopenClosedIncident bool     `yaml:"reopenClosedIncident"`
		LookbackDuration     string   `yaml:"lookbackDuration"`
		MatchingMethod       string   `yaml:"matchingMethod"`
		GroupByEntities      []string `yaml:"groupByEntities"`
		GroupByAlertDetails  []string `yaml:"groupByAlertDetails"`
		GroupByCustomDetails []string `yaml:"groupByCustomDetails"`
	} `yaml:"groupingConfiguration"`
}

// LoadRule decodes and validates a Sentinel analytics rule in YAML. Decoding
// is strict: a key Sentinel rule files do not carry is an error. The query
// must be the pipeline ropcwatch implements; only the LegitRopcApps and
// LegitRopcUsers lists may differ. Every error names the offending key and
// value; non-fatal findings go to Rule.Warnings.
func LoadRule(data []byte) (*Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("rule: empty file")
		}
		return nil, fmt.Errorf("rule: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("rule: more than one YAML document")
	}
	if len(doc.Content) != 1 {
		return nil, errors.New("rule: empty file")
	}
	if err := checkKeys(doc.Content[0], reflect.TypeFor[ruleYAML](), ""); err != nil {
		return nil, fmt.Errorf("rule: %w", err)
	}
	var y ruleYAML
	if err := doc.Content[0].Decode(&y); err != nil {
		return nil, fmt.Errorf("rule: %w", err)
	}
	r, err := y.rule()
	if err != nil {
		return nil, fmt.Errorf("rule: %w", err)
	}
	return r, nil
}

// checkKeys walks n alongside the Go type t that it decodes into and reports
// the first key t has no field for, or a value of the wrong shape, naming its
// path (such as incidentConfiguration.groupingConfiguration.enabled) and
// line. A yaml.Node field accepts anything.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if t == reflect.TypeFor[yaml.Node]() || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: want a mapping (line %d)", pathOrTop(path), n.Line)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			f, ok := yamlField(t, key)
			if !ok {
				return fmt.Errorf("%s: unknown key (line %d)", joinPath(path, key), n.Content[i].Line)
			}
			if err := checkKeys(n.Content[i+1], f.Type, joinPath(path, key)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("%s: want a list (line %d)", pathOrTop(path), n.Line)
		}
		for i, c := range n.Content {
			if err := checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return fmt.Errorf("%s: %q: want a whole number (line %d)", pathOrTop(path), n.Value, n.Line)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return fmt.Errorf("%s: %q: want true or false (line %d)", pathOrTop(path), n.Value, n.Line)
		}
	default:
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: want a single value (line %d)", pathOrTop(path), n.Line)
		}
	}
	return nil
}

// yamlField returns the field of struct type t whose yaml tag is key.
func yamlField(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func pathOrTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

// rule validates y and maps it into a Rule.
func (y *ruleYAML) rule() (*Rule, error) {
	r := &Rule{
		ID:                y.ID,
		Name:              y.Name,
		Version:           y.Version,
		Description:       y.Description,
		Severity:          y.Severity,
		Tactics:           y.Tactics,
		Techniques:        y.RelevantTechniques,
		SubTechniques:     y.SubTechniques,
		DisplayNameFormat: y.AlertDetailsOverride.AlertDisplayNameFormat,
		DescriptionFormat: y.AlertDetailsOverride.AlertDescriptionFormat,
	}
	if _, err := uuid.Parse(y.ID); err != nil || len(y.ID) != 36 {
		return nil, fmt.Errorf("id: %q: want a GUID such as f1a7b9c0-d5e6-8f2a-3b4c-5d6e7f8a9b0c", y.ID)
	}
	if strings.TrimSpace(y.Name) == "" {
		return nil, errors.New("name: missing")
	}
	switch y.Severity {
	case "Informational", "Low", "Medium", "High":
	default:
		return nil, fmt.Errorf("severity: %q: want Informational, Low, Medium or High", y.Severity)
	}
	if err := y.checkSchedule(r); err != nil {
		return nil, err
	}
	if err := checkAttack(y); err != nil {
		return nil, err
	}
	if err := r.setQuery(y.Query); err != nil {
		return nil, err
	}
	if err := y.setEntities(r); err != nil {
		return nil, err
	}
	if err := r.setCustomDetails(&y.CustomDetails); err != nil {
		return nil, err
	}
	if err := y.checkAlertDetails(r); err != nil {
		return nil, err
	}
	if err := y.setIncident(r); err != nil {
		return nil, err
	}
	switch k := y.EventGroupingSettings.AggregationKind; k {
	case "", string(AlertPerResult):
		r.Aggregation = AlertPerResult
	case string(SingleAlert):
		r.Aggregation = SingleAlert
	default:
		return nil, fmt.Errorf("eventGroupingSettings.aggregationKind: %q: want AlertPerResult or SingleAlert", k)
	}
	return r, nil
}

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
			if !contains(ids, f.Identifier) {
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
	return name != "" && !strings.ContainsAny(name, ", ") && contains(strings.Split(resultColumns, ", "), name)
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// maxQueryPeriod is the longest queryPeriod Sentinel accepts.
const maxQueryPeriod = 14 * 24 * time.Hour

// parseRuleDuration parses a Sentinel rule duration: a whole number of
// minutes, hours or days (30m, 1h, 1d), or ISO 8601 (PT1H). It must be
// positive and at most 14 days.
func parseRuleDuration(s string) (time.Duration, error) {
	d, err := parseUnitDuration(s, map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}, false)
	if err != nil {
		if d, err = parseISODuration(s); err != nil {
			return 0, fmt.Errorf("%q: not a duration (want e.g. 1h, 30m, 1d)", s)
		}
	}
	if d <= 0 || d > maxQueryPeriod {
		return 0, fmt.Errorf("%q: want more than 0 and at most 14d", s)
	}
	return d, nil
}

// parseUnitDuration parses a number followed by one of units; fractions are
// allowed when fraction is set.
func parseUnitDuration(s string, units map[string]time.Duration, fraction bool) (time.Duration, error) {
	i := 0
	for i < len(s) && ('0' <= s[i] && s[i] <= '9' || fraction && s[i] == '.') {
		i++
	}
	unit, ok := units[s[i:]]
	if i == 0 || !ok {
		return 0, fmt.Errorf("%q: not a duration", s)
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || n*float64(unit) > float64(100*365*24*time.Hour) {
		return 0, fmt.Errorf("%q: not a duration", s)
	}
	return time.Duration(n * float64(unit)), nil
}

// parseISODuration parses an ISO 8601 duration of days, hours, minutes and
// seconds, such as PT5H, PT30M, P1D or P1DT12H. Years, months and weeks are
// not accepted.
func parseISODuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q: not an ISO 8601 duration (want e.g. PT5H, PT30M, P1D)", s)
	rest, ok := strings.CutPrefix(s, "P")
	date, clock, hasClock := strings.Cut(rest, "T")
	if !ok || rest == "" || hasClock && clock == "" {
		return 0, bad
	}
	days, ok := isoDurationPart(date, "D", []time.Duration{24 * time.Hour})
	if !ok {
		return 0, bad
	}
	hms, ok := isoDurationPart(clock, "HMS", []time.Duration{time.Hour, time.Minute, time.Second})
	if !ok {
		return 0, bad
	}
	return days + hms, nil
}

// isoDurationPart adds up the numbers of one part of an ISO 8601 duration,
// each followed by one of designators, in order and at most once each.
func isoDurationPart(part, designators string, units []time.Duration) (time.Duration, bool) {
	var total time.Duration
	next := 0
	for part != "" {
		i := 0
		for i < len(part) && '0' <= part[i] && part[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 || i == len(part) {
			return 0, false
		}
		u := strings.IndexByte(designators[next:], part[i])
		if u < 0 {
			return 0, false
		}
		n, _ := strconv.Atoi(part[:i])
		total += time.Duration(n) * units[next+u]
		next += u + 1
		part = part[i+1:]
	}
	return total, true
}
