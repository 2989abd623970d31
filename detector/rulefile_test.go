package detector

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSeedRuleLoadsEveryField(t *testing.T) {
	r := SeedRule()
	if r != SeedRule() {
		t.Error("SeedRule parsed the embedded rule twice")
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"the id is the seed rule's GUID", r.ID == "f1a7b9c0-d5e6-8f2a-3b4c-5d6e7f8a9b0c"},
		{"the name is the Sentinel rule name", r.Name == "ROPC Authentication Detected - Credential Pass-Through Bypass"},
		{"the version is a string", r.Version == "1.1.0"},
		{"the description is kept", strings.HasPrefix(r.Description, "Detects successful Resource Owner Password Credential")},
		{"severity is High", r.Severity == "High"},
		{"tactics keep their order", slices.Equal(r.Tactics, []string{"CredentialAccess", "DefenseEvasion", "InitialAccess"})},
		{"techniques keep their order", slices.Equal(r.Techniques, []string{"T1110", "T1078", "T1550"})},
		{"the query period is one hour", r.QueryPeriod == time.Hour},
		{"five legitimate apps are read from the query", slices.Equal(r.LegitApps, []string{
			"Microsoft Authentication Broker", "Microsoft Intune Company Portal", "Azure AD Connect",
			"Microsoft Office", "Microsoft Office Authentication Broker"})},
		{"no user is allowlisted", len(r.LegitUsers) == 0},
		{"entities map the account and the IP", slices.EqualFunc(r.EntityMappings, []EntityMapping{
			{EntityType: "Account", FieldMappings: []FieldMapping{{Identifier: "FullName", ColumnName: "UserPrincipalName"}}},
			{EntityType: "IP", FieldMappings: []FieldMapping{{Identifier: "Address", ColumnName: "IPAddress"}}},
		}, func(a, b EntityMapping) bool {
			return a.EntityType == b.EntityType && slices.Equal(a.FieldMappings, b.FieldMappings)
		})},
		{"custom details keep the YAML order", slices.Equal(r.CustomDetails, []CustomDetail{
			{Key: "SignInCount", Column: "Count"}, {Key: "Countries", Column: "Countries"}, {Key: "Apps", Column: "Apps"}})},
		{"the display name template is kept", r.DisplayNameFormat == "ROPC Authentication Detected for {{UserPrincipalName}} - MFA Bypass Risk"},
		{"the description template is kept", strings.HasPrefix(r.DescriptionFormat, "Successful ROPC authentication for {{UserPrincipalName}} ({{Count}} sign-ins from {{Countries}})")},
		{"one alert is raised per result", r.Aggregation == AlertPerResult},
		{"incidents are created", r.Incident.CreateIncident},
		{"incident grouping is on", r.Incident.GroupingEnabled},
		{"closed incidents are not reopened", !r.Incident.ReopenClosedIncident},
		{"incidents look back five hours", r.Incident.LookbackDuration == 5*time.Hour},
		{"any alert joins an incident", r.Incident.MatchingMethod == "AnyAlert"},
		{"grouping names the account", slices.Equal(r.Incident.GroupByEntities, []string{"Account"})},
		{"there are no warnings", len(r.Warnings) == 0},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("seed rule: %+v", r)
			}
		})
	}
}

func TestLoadRuleFileReadsTheSharedRule(t *testing.T) {
	r, err := LoadRuleFile(filepath.Join("..", "..", "shared", "rules", "ropc-authentication-detected.yaml"))
	if errors.Is(err, fs.ErrNotExist) { // outside the project's workspace
		r, err = LoadRuleFile(filepath.Join("rules", "ropc-authentication-detected.yaml"))
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != SeedRule().ID {
		t.Errorf("ID = %q, want the seed rule's", r.ID)
	}
	if _, err := LoadRuleFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing file loaded")
	}
}

// seedWith returns the seed rule YAML with old replaced by new, failing when
// old is not in it.
func seedWith(t *testing.T, old, new string) []byte {
	t.Helper()
	s := string(seedRuleYAML)
	if !strings.Contains(s, old) {
		t.Fatalf("seed rule has no %q", old)
	}
	return []byte(strings.Replace(s, old, new, 1))
}

func TestLoadRuleErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     []string // substrings of the error
	}{
		{"an unknown top-level key is refused", "kind: Scheduled\n", "kind: Scheduled\nfrobnicate: true\n", []string{"frobnicate"}},
		{"an unknown nested key is refused", "    matchingMethod: AnyAlert\n", "    matchingMethod: AnyAlert\n    groupEverything: true\n", []string{"groupEverything"}},
		{"a missing id is refused", "id: f1a7b9c0-d5e6-8f2a-3b4c-5d6e7f8a9b0c\n", "", []string{"rule: id: \"\""}},
		{"a kind other than Scheduled or NRT is refused", "kind: Scheduled", "kind: Fusion", []string{"kind: \"Fusion\": want Scheduled or NRT"}},
		{"a bad query period is refused", "queryPeriod: 1h", "queryPeriod: 2x", []string{`rule: queryPeriod: "2x": not a duration (want e.g. 1h, 30m, 1d)`}},
		{"a query period over 14 days is refused", "queryPeriod: 1h", "queryPeriod: 15d", []string{`queryPeriod: "15d"`, "14d"}},
		{"a zero query period is refused", "queryPeriod: 1h", "queryPeriod: 0m", []string{`queryPeriod: "0m"`}},
		{"a bad query frequency is refused", "queryFrequency: 1h", "queryFrequency: soon", []string{`queryFrequency: "soon"`}},
		{"a bad severity is refused", "severity: High", "severity: Critical", []string{`rule: severity: "Critical": want Informational, Low, Medium or High`}},
		{"a trigger other than gt is refused", "triggerOperator: gt", "triggerOperator: eq", []string{`triggerOperator: "eq"`, "gt with triggerThreshold 0"}},
		{"a threshold other than 0 is refused", "triggerThreshold: 0", "triggerThreshold: 5", []string{"triggerThreshold: 5", "gt with triggerThreshold 0"}},
		{"an unknown tactic is refused", "  - DefenseEvasion\n", "  - Sneaking\n", []string{`tactics: "Sneaking"`}},
		{"a malformed technique is refused", "  - T1550\n", "  - 1550\n", []string{`relevantTechniques: "1550"`}},
		{"a template with four placeholders is refused", "for {{UserPrincipalName}} - MFA", "for {{UserPrincipalName}} {{Count}} {{IPs}} {{Apps}} - MFA", []string{"alertDetailsOverride.alertDisplayNameFormat: {{Apps}}: more than 3 placeholders"}},
		{"a template naming an unknown column is refused", "for {{UserPrincipalName}} - MFA", "for {{Foo}} - MFA", []string{"rule: alertDetailsOverride.alertDisplayNameFormat: {{Foo}}: not a result column"}},
		{"a custom detail of an unknown column is refused", "  Apps: Apps\n", "  Apps: AppId\n", []string{`customDetails.Apps: "AppId": not a result column`}},
		{"an entity of an unknown column is refused", "        columnName: IPAddress", "        columnName: ClientIP", []string{`entityMappings[1].fieldMappings[0].columnName: "ClientIP"`}},
		{"an unsupported entity type is refused", "entityType: IP", "entityType: Host", []string{`entityMappings[1].entityType: "Host"`}},
		{"a bad identifier is refused", "identifier: Address", "identifier: FullName", []string{`entityMappings[1].fieldMappings[0].identifier: "FullName"`}},
		{"a bad matching method is refused", "matchingMethod: AnyAlert", "matchingMethod: Everything", []string{`incidentConfiguration.groupingConfiguration.matchingMethod: "Everything": want AnyAlert, Selected or AllEntities`}},
		{"a lookback that is not ISO 8601 is refused", "lookbackDuration: PT5H", "lookbackDuration: 5h", []string{`lookbackDuration: "5h": not an ISO 8601 duration`}},
		{"a lookback over seven days is refused", "lookbackDuration: PT5H", "lookbackDuration: P8D", []string{`lookbackDuration: "P8D": want 5 minutes to 7 days`}},
		{"an unknown aggregation kind is refused", "incidentConfiguration:", "eventGroupingSettings:\n  aggregationKind: PerUser\nincidentConfiguration:", []string{`eventGroupingSettings.aggregationKind: "PerUser"`}},
		{"suppression is refused", "kind: Scheduled", "kind: Scheduled\nsuppressionEnabled: true\nsuppressionDuration: 5h", []string{"suppressionEnabled"}},
		{"a changed pipeline is refused", `| where ResultType == 0`, `| where ResultType != 0`, []string{"rule: query: line", "only LegitRopcApps and LegitRopcUsers may be tuned"}},
		{"a removed where clause is refused", "| where AuthenticationProtocol =~ \"ropc\"\n", "", []string{"rule: query:", "may be tuned"}},
		{"an appended operator is refused", "| order by Count desc\n", "| order by Count desc\n  | take 10\n", []string{"rule: query:", "after order by Count desc"}},
		{"an ago() that differs from queryPeriod is refused", "ago(1h)", "ago(2h)", []string{"rule: query:", "ago(2h) differs from queryPeriod 1h0m0s"}},
		{"another let statement is refused", "let LegitRopcUsers", "let Other = dynamic([]);\n  let LegitRopcUsers", []string{"let Other: only LegitRopcApps and LegitRopcUsers may be tuned"}},
		{"a missing list is refused", "let LegitRopcUsers = dynamic([]);\n", "", []string{"rule: query:", "LegitRopcUsers"}},
		{"a trailing comma in a list is refused", `"Microsoft Office Authentication Broker"`, `"Microsoft Office Authentication Broker",`, []string{"rule: query: let LegitRopcApps:", "trailing comma"}},
		{"a list where one value belongs is refused", "severity: High", "severity: [High]", []string{"rule: severity: want a single value (line"}},
		{"a threshold that is not a number is refused", "triggerThreshold: 0", "triggerThreshold: zero", []string{`rule: triggerThreshold: "zero": want a whole number`}},
		{"a flag that is not a boolean is refused", "createIncident: true", "createIncident: yes", []string{`incidentConfiguration.createIncident: "yes": want true or false`}},
		{"an unterminated placeholder is refused", "for {{UserPrincipalName}} - MFA", "for {{UserPrincipalName - MFA", []string{"alertDisplayNameFormat:", "unterminated {{"}},
		{"grouping by an unmapped entity is refused", "      - Account\n", "      - Host\n", []string{`groupByEntities: "Host": not a mapped entity type`}},
		{"grouping by an unknown custom detail is refused", "groupByCustomDetails: []", "groupByCustomDetails: [Nope]", []string{`groupByCustomDetails: "Nope": not a customDetails key`}},
		{"a Scheduled rule needs a query period", "queryPeriod: 1h\n", "", []string{`queryPeriod: "": not a duration`}},
		{"a duplicate custom detail key is refused", "  Apps: Apps\n", "  Apps: Apps\n  Apps: IPs\n", []string{"Apps"}},
		{"a second YAML document is refused", "    groupByCustomDetails: []", "    groupByCustomDetails: []\n---\nid: x", []string{"more than one YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadRule(seedWith(t, tt.old, tt.new))
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadRuleAcceptsTunedRules(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		check    func(r *Rule) bool
	}{
		{"an allowlisted user is lower-cased with a warning", "let LegitRopcUsers = dynamic([]);", `let LegitRopcUsers = dynamic(["SVC-Sync@Contoso.com", 'svc-ok@contoso.com']);`, func(r *Rule) bool {
			return slices.Equal(r.LegitUsers, []string{"svc-sync@contoso.com", "svc-ok@contoso.com"}) &&
				len(r.Warnings) == 1 && strings.Contains(r.Warnings[0], `"SVC-Sync@Contoso.com" lower-cased to "svc-sync@contoso.com"`)
		}},
		{"lists take every literal form and comments", `"Azure AD Connect",`, "@'Azure AD Connect', // sync\n  h\"Secret App\",", func(r *Rule) bool {
			return slices.Equal(r.LegitApps[2:4], []string{"Azure AD Connect", "Secret App"})
		}},
		{"the pipeline may be laid out differently", "| where AuthenticationProtocol =~ \"ropc\"\n", "|where AuthenticationProtocol=~'ropc' // ROPC only\n", func(r *Rule) bool { return true }},
		{"ago() may spell queryPeriod another way", "ago(1h)", "ago(60m)", func(r *Rule) bool { return r.QueryPeriod == time.Hour }},
		{"an ISO 8601 query period is accepted", "queryPeriod: 1h", "queryPeriod: PT1H", func(r *Rule) bool { return r.QueryPeriod == time.Hour }},
		{"a different query frequency is a warning", "queryFrequency: 1h", "queryFrequency: 5m", func(r *Rule) bool {
			return len(r.Warnings) == 1 && strings.Contains(r.Warnings[0], "queryFrequency 5m")
		}},
		{"a single alert per window is accepted", "incidentConfiguration:", "eventGroupingSettings:\n  aggregationKind: SingleAlert\nincidentConfiguration:", func(r *Rule) bool {
			return r.Aggregation == SingleAlert
		}},
		{"Sentinel housekeeping keys are accepted", "kind: Scheduled", "kind: Scheduled\nstatus: Available\ntags:\n  - Ropc\nmetadata:\n  source:\n    kind: Community\nsuppressionEnabled: false\nsuppressionDuration: PT5H\nsubTechniques:\n  - T1078.004", func(r *Rule) bool {
			return slices.Equal(r.SubTechniques, []string{"T1078.004"})
		}},
		{"selected grouping by custom detail is accepted", "matchingMethod: AnyAlert", "matchingMethod: Selected", func(r *Rule) bool {
			return r.Incident.MatchingMethod == "Selected"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := LoadRule(seedWith(t, tt.old, tt.new))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(r) {
				t.Errorf("loaded %+v", r)
			}
		})
	}
}

func TestLoadRuleNRT(t *testing.T) {
	nrt := strings.Replace(string(seedWith(t, "queryFrequency: 1h\nqueryPeriod: 1h\ntriggerOperator: gt\ntriggerThreshold: 0\n", "")),
		"kind: Scheduled", "kind: NRT", 1)
	r, err := LoadRule([]byte(nrt))
	if err != nil {
		t.Fatal(err)
	}
	if r.QueryPeriod != time.Hour {
		t.Errorf("an NRT rule without queryPeriod has period %v, want the ago() span 1h", r.QueryPeriod)
	}
}

func TestLoadRuleRefusesEmptyInput(t *testing.T) {
	if _, err := LoadRule(nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("LoadRule(nil) error = %v, want empty", err)
	}
}

func TestDurations(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		parse func(string) (time.Duration, error)
		want  time.Duration // 0: an error
	}{
		{"minutes", "30m", parseRuleDuration, 30 * time.Minute},
		{"days", "1d", parseRuleDuration, 24 * time.Hour},
		{"fourteen days is the longest period", "14d", parseRuleDuration, 14 * 24 * time.Hour},
		{"ISO 8601 is accepted for periods", "P1DT2H", parseRuleDuration, 26 * time.Hour},
		{"seconds are not a rule unit", "60s", parseRuleDuration, 0},
		{"Go durations are not a rule format", "1h30m", parseRuleDuration, 0},
		{"an empty duration is refused", "", parseRuleDuration, 0},
		{"ISO hours", "PT5H", parseISODuration, 5 * time.Hour},
		{"ISO minutes", "PT30M", parseISODuration, 30 * time.Minute},
		{"ISO days", "P1D", parseISODuration, 24 * time.Hour},
		{"ISO units out of order are refused", "PT1M1H", parseISODuration, 0},
		{"a bare ISO T is refused", "PT", parseISODuration, 0},
		{"ISO months are refused", "P1M", parseISODuration, 0},
		{"a timespan may be fractional", "1.5h", parseKQLTimespan, 90 * time.Minute},
		{"a timespan may say min", "60min", parseKQLTimespan, time.Hour},
		{"a timespan needs a unit", "60", parseKQLTimespan, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.parse(tt.in)
			if tt.want == 0 {
				if err == nil {
					t.Errorf("%q parsed as %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("%q = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzLoadRule feeds arbitrary YAML to the rule loader: it must return a
// rule or an error, never panic, and a rule it accepts must be usable.
func FuzzLoadRule(f *testing.F) {
	f.Add(string(seedRuleYAML))
	f.Add("id: x\n")
	f.Add("queryPeriod: [1, 2]\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, doc string) {
		r, err := LoadRule([]byte(doc))
		if err != nil {
			return
		}
		if r.QueryPeriod <= 0 || r.ID == "" {
			t.Fatalf("accepted a rule without window or id: %+v", r)
		}
		s := SignIn{AuthenticationProtocol: "ropc", ResultType: "0", UserPrincipalName: "a@b"}
		r.Match(&s, nil)
		r.Alerts([]Row{{UserPrincipalName: "a@b", Count: 1, IPs: []string{""}, Countries: []string{""}, Apps: []string{""}}}, AlertContext{Status: StatusFinal, Revision: 1})
	})
}
