package detector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/ocsftest"
)

// testRule mirrors the seed rule rules/ropc-authentication-detected.yaml
// (the loader is written elsewhere).
func testRule() *Rule {
	return &Rule{
		ID:      "f1a7b9c0-d5e6-8f2a-3b4c-5d6e7f8a9b0c",
		Name:    "ROPC Authentication Detected - Credential Pass-Through Bypass",
		Version: "1.1.0",
		Description: "Detects successful Resource Owner Password Credential (ROPC) grant flow in non-interactive\n" +
			"sign-ins. ROPC passes user credentials directly to Entra ID, completely bypassing MFA.\n",
		Severity:    "High",
		Tactics:     []string{"CredentialAccess", "DefenseEvasion", "InitialAccess"},
		Techniques:  []string{"T1110", "T1078", "T1550"},
		QueryPeriod: time.Hour,
		LegitApps: []string{
			"Microsoft Authentication Broker",
			"Microsoft Intune Company Portal",
			"Azure AD Connect",
			"Microsoft Office",
			"Microsoft Office Authentication Broker",
		},
		EntityMappings: []EntityMapping{
			{EntityType: "Account", FieldMappings: []FieldMapping{{Identifier: "FullName", ColumnName: "UserPrincipalName"}}},
			{EntityType: "IP", FieldMappings: []FieldMapping{{Identifier: "Address", ColumnName: "IPAddress"}}},
		},
		CustomDetails: []CustomDetail{
			{Key: "SignInCount", Column: "Count"},
			{Key: "Countries", Column: "Countries"},
			{Key: "Apps", Column: "Apps"},
		},
		DisplayNameFormat: "ROPC Authentication Detected for {{UserPrincipalName}} - MFA Bypass Risk",
		DescriptionFormat: "Successful ROPC authentication for {{UserPrincipalName}} ({{Count}} sign-ins from {{Countries}}). " +
			"ROPC bypasses MFA and Conditional Access. Verify if this is an authorised legacy app or investigate for credential stuffing.",
		Aggregation: AlertPerResult,
		Incident: IncidentConfig{
			CreateIncident:       true,
			GroupingEnabled:      true,
			ReopenClosedIncident: false,
			LookbackDuration:     5 * time.Hour,
			MatchingMethod:       "AnyAlert",
			GroupByEntities:      []string{"Account"},
		},
	}
}

// at returns a fixed time on the test day, 2026-05-01, in UTC.
func at(hms string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, "2026-05-01T"+hms+"Z")
	if err != nil {
		panic(err)
	}
	return t
}

// aliceRow is a typical result row.
func aliceRow() Row {
	return Row{
		UserPrincipalName: "alice@contoso.com",
		Count:             3,
		IPs:               []string{"203.0.113.10", "198.51.100.7"},
		Countries:         []string{"US", "DE"},
		Apps:              []string{"python-requests"},
		FirstSeen:         at("09:12:03.1234567"),
		LastSeen:          at("09:47:59.5"),
		IPAddress:         "203.0.113.10",
	}
}

// finalContext is the context of a final revision of the 09:00-10:00 window.
func finalContext() AlertContext {
	return AlertContext{
		Status:        StatusFinal,
		Revision:      3,
		WindowStart:   at("09:00:00"),
		WindowEnd:     at("10:00:00"),
		TimeGenerated: at("10:00:00"),
		ProcessedAt:   at("10:05:01.000123"),
	}
}

// mustMarshal renders a in format f, one compact JSON object, and checks an
// OCSF rendering against the OCSF 1.8.0 Detection Finding schema.
func mustMarshal(t *testing.T, a *Alert, f Format) []byte {
	t.Helper()
	b, err := a.Marshal(f)
	if err != nil {
		t.Fatalf("marshal %s: %v", f, err)
	}
	if len(b) == 0 || b[len(b)-1] == '\n' {
		t.Fatalf("marshal %s: want one compact object without a trailing newline, got %q", f, b)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil || !bytes.Equal(compact.Bytes(), b) {
		t.Fatalf("marshal %s: output is not compact JSON (%v): %s", f, err, b)
	}
	if f == FormatOCSF {
		ocsftest.Check(t, b)
	}
	return b
}

func TestAlertID(t *testing.T) {
	end := at("10:00:00")
	id := AlertID("rule", "alice@contoso.com", end)

	t.Run("the same inputs give the same id", func(t *testing.T) {
		local := end.In(time.FixedZone("CEST", 2*60*60))
		if got := AlertID("rule", "alice@contoso.com", local); got != id {
			t.Errorf("AlertID in another zone = %s, want %s", got, id)
		}
	})
	t.Run("the id is a version 5 UUID", func(t *testing.T) {
		if len(id) != 36 || id[14] != '5' {
			t.Errorf("AlertID = %s, want a UUIDv5", id)
		}
	})
	distinct := []struct {
		name           string
		rule, upn      string
		end            time.Time
		otherRule, oth string
		otherEnd       time.Time
	}{
		{"another user gets another id", "rule", "alice@contoso.com", end, "rule", "bob@contoso.com", end},
		{"UPN case matters as in KQL", "rule", "alice@contoso.com", end, "rule", "Alice@contoso.com", end},
		{"another window gets another id", "rule", "alice@contoso.com", end, "rule", "alice@contoso.com", end.Add(time.Hour)},
		{"another rule gets another id", "rule", "alice@contoso.com", end, "rule2", "alice@contoso.com", end},
		{"moving bytes between rule and UPN changes the id", "ru", "le/x", end, "rule/", "x", end},
		{"a length prefix in the UPN cannot forge a field", "r", "1:x", end, "r/1:", "x", end},
	}
	for _, tc := range distinct {
		t.Run(tc.name, func(t *testing.T) {
			a, b := AlertID(tc.rule, tc.upn, tc.end), AlertID(tc.otherRule, tc.oth, tc.otherEnd)
			if a == b {
				t.Errorf("both give %s", a)
			}
		})
	}
	t.Run("a SingleAlert id never equals a per-user id", func(t *testing.T) {
		w := windowAlertID("rule", end)
		for _, upn := range []string{"", "rule", "single-alert"} {
			if w == AlertID("rule", upn, end) {
				t.Errorf("windowAlertID equals AlertID for UPN %q", upn)
			}
		}
	})
}

func TestAlertSentinelGolden(t *testing.T) {
	r := testRule()
	alerts := r.Alerts([]Row{aliceRow()}, finalContext())
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts, want 1", len(alerts))
	}
	a := alerts[0]
	NewIncidents(r.Incident, r.ID).Assign(&a)
	checkGolden(t, "alert_sentinel.golden.json", mustMarshal(t, &a, FormatSentinel))
}

func TestAlertsAreDeterministic(t *testing.T) {
	r := testRule()
	c1, c2 := finalContext(), finalContext()
	c2.ProcessedAt = c1.ProcessedAt.Add(37 * time.Minute)
	rows := []Row{aliceRow(), {UserPrincipalName: "bob@contoso.com", Count: 1, FirstSeen: at("09:30:00"), LastSeen: at("09:30:00")}}
	for _, f := range []Format{FormatSentinel, FormatOCSF} {
		t.Run("two emissions differ only in ProcessedAt as "+string(f), func(t *testing.T) {
			a1, a2 := r.Alerts(rows, c1), r.Alerts(rows, c2)
			for i := range a1 {
				a2[i].ProcessedAt = a1[i].ProcessedAt
				if b1, b2 := mustMarshal(t, &a1[i], f), mustMarshal(t, &a2[i], f); !bytes.Equal(b1, b2) {
					t.Errorf("alert %d differs:\n%s\n%s", i, b1, b2)
				}
			}
		})
	}
	t.Run("alerts do not share sets with the rows", func(t *testing.T) {
		rows := []Row{aliceRow()}
		a := r.Alerts(rows, c1)[0]
		rows[0].IPs[0] = "192.0.2.99"
		if a.Result.IPs[0] != "203.0.113.10" {
			t.Errorf("Result.IPs changed with the row: %v", a.Result.IPs)
		}
	})
	t.Run("no rows give no alerts", func(t *testing.T) {
		if got := r.Alerts(nil, c1); got != nil {
			t.Errorf("Alerts(nil) = %v", got)
		}
	})
}

func TestSingleAlertGolden(t *testing.T) {
	r := testRule()
	r.Aggregation = SingleAlert
	rows := []Row{
		aliceRow(),
		{
			UserPrincipalName: "bob@fabrikam.com", Count: 2,
			IPs: []string{"203.0.113.10", "192.0.2.1"}, Countries: []string{"US"}, Apps: []string{"curl"},
			FirstSeen: at("09:01:00"), LastSeen: at("09:20:00"), IPAddress: "203.0.113.10",
		},
		{
			UserPrincipalName: "svc-legacy", Count: 1,
			IPs: []string{""}, Countries: []string{""}, Apps: []string{"Legacy Sync"},
			FirstSeen: at("09:59:59.9999999"), LastSeen: at("09:59:59.9999999"), IPAddress: "",
		},
	}
	alerts := r.Alerts(rows, finalContext())
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts, want 1", len(alerts))
	}
	a := alerts[0]
	if a.AlertId != windowAlertID(r.ID, at("10:00:00")) {
		t.Errorf("AlertId = %s, want the window's SingleAlert id", a.AlertId)
	}
	if !strings.Contains(a.AlertName, "alice@contoso.com") {
		t.Errorf("AlertName = %q, want it named from the top row", a.AlertName)
	}
	if len(a.Results) != 3 || a.Result.UserPrincipalName != "alice@contoso.com" {
		t.Errorf("Result = %s with %d Results, want the top row and all three", a.Result.UserPrincipalName, len(a.Results))
	}
	var ids []string
	for _, e := range a.Entities {
		ids = append(ids, e.ID)
	}
	if want := []string{"1", "2", "3", "4"}; !slices.Equal(ids, want) {
		t.Errorf("entity $ids = %v, want %v (alice, her IP, bob, svc-legacy; bob's IP is alice's)", ids, want)
	}
	checkGolden(t, "alert_single.golden.json", mustMarshal(t, &a, FormatSentinel))
}

func TestCustomDetails(t *testing.T) {
	r := testRule()
	r.CustomDetails = append(r.CustomDetails,
		CustomDetail{Key: "User", Column: "UserPrincipalName"},
		CustomDetail{Key: "First", Column: "FirstSeen"},
		CustomDetail{Key: "NoIPs", Column: "IPs"},
	)
	row := aliceRow()
	row.IPs = nil
	a := r.Alerts([]Row{row}, finalContext())[0]
	got, err := json.Marshal(a.CustomDetails)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"SignInCount":3,"Countries":["US","DE"],"Apps":["python-requests"],` +
		`"User":"alice@contoso.com","First":"2026-05-01T09:12:03.1234567Z","NoIPs":[]}`
	if string(got) != want {
		t.Errorf("CustomDetails =\n%s\nwant\n%s", got, want)
	}
}

func TestHeadersAndKey(t *testing.T) {
	a := testRule().Alerts([]Row{aliceRow()}, finalContext())[0]
	a.IncidentId = "inc-1"
	tests := []struct {
		name   string
		format Format
		want   [][2]string
	}{
		{"sentinel headers carry the routing fields", FormatSentinel, [][2]string{
			{"content-type", "application/json"},
			{"alert-format", "sentinel"},
			{"alert-id", a.AlertId},
			{"alert-revision", "3"},
			{"alert-status", "final"},
			{"severity", "High"},
			{"rule-id", "f1a7b9c0-d5e6-8f2a-3b4c-5d6e7f8a9b0c"},
			{"incident-id", "inc-1"},
		}},
		{"ocsf headers add the schema", FormatOCSF, [][2]string{
			{"content-type", "application/json"},
			{"alert-format", "ocsf"},
			{"alert-id", a.AlertId},
			{"alert-revision", "3"},
			{"alert-status", "final"},
			{"severity", "High"},
			{"rule-id", "f1a7b9c0-d5e6-8f2a-3b4c-5d6e7f8a9b0c"},
			{"incident-id", "inc-1"},
			{"ocsf-schema", "https://schema.ocsf.io/1.8.0/classes/detection_finding"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := a.Headers(tc.format); !slices.Equal(got, tc.want) {
				t.Errorf("Headers =\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
	t.Run("the key is the UPN", func(t *testing.T) {
		if got := string(a.Key()); got != "alice@contoso.com" {
			t.Errorf("Key = %q", got)
		}
	})
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"", FormatSentinel, false},
		{"sentinel", FormatSentinel, false},
		{"OCSF", FormatOCSF, false},
		{"cef", "", true},
	}
	for _, tc := range tests {
		t.Run("format "+tc.in, func(t *testing.T) {
			got, err := ParseFormat(tc.in)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("ParseFormat(%q) = %q, %v", tc.in, got, err)
			}
		})
	}
	t.Run("marshal rejects an unknown format", func(t *testing.T) {
		a := testRule().Alerts([]Row{aliceRow()}, finalContext())[0]
		if _, err := a.Marshal("cef"); err == nil {
			t.Error("Marshal(cef) succeeded")
		}
	})
}

func ExampleAlertID() {
	end := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	fmt.Println(AlertID("f1a7b9c0-d5e6-8f2a-3b4c-5d6e7f8a9b0c", "alice@contoso.com", end))
	// Output: 3a61869d-de7e-597f-9764-a6a416c070a9
}
