package detector

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"

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
