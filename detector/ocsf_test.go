package detector

import (
	"encoding/json"
	"testing"
)

func TestAlertOCSFGolden(t *testing.T) {
	r := testRule()
	a := r.Alerts([]Row{aliceRow()}, finalContext())[0]
	NewIncidents(r.Incident, r.ID).Assign(&a)
	b := mustMarshal(t, &a, FormatOCSF)
	checkGolden(t, "alert_ocsf.golden.json", b)

	var got struct {
		ClassUID    int   `json:"class_uid"`
		CategoryUID int   `json:"category_uid"`
		ActivityID  int   `json:"activity_id"`
		TypeUID     int   `json:"type_uid"`
		SeverityID  int   `json:"severity_id"`
		Time        int64 `json:"time"`
		Metadata    struct {
			Version string `json:"version"`
			UID     string `json:"uid"`
		} `json:"metadata"`
		FindingInfo struct {
			UID string `json:"uid"`
		} `json:"finding_info"`
		Evidences []struct {
			SrcEndpoint struct {
				IP string `json:"ip"`
			} `json:"src_endpoint"`
		} `json:"evidences"`
		Unmapped struct {
			Result Row
		} `json:"unmapped"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"the class is Detection Finding", got.ClassUID, 2004},
		{"the category is Findings", got.CategoryUID, 2},
		{"a final revision closes the finding", got.ActivityID, 3},
		{"type_uid is class_uid*100+activity_id", got.TypeUID, 200403},
		{"High is severity 4", got.SeverityID, 4},
		{"time is TimeGenerated in epoch milliseconds", got.Time, a.TimeGenerated.UnixMilli()},
		{"the schema version is 1.8.0", got.Metadata.Version, "1.8.0"},
		{"the event uid names the revision", got.Metadata.UID, a.AlertId + ":3"},
		{"finding_info.uid is the AlertId", got.FindingInfo.UID, a.AlertId},
		{"there is one evidence per IP", len(got.Evidences), 2},
		{"the second evidence is the second IP", got.Evidences[1].SrcEndpoint.IP, "198.51.100.7"},
		{"unmapped keeps the Result", got.Unmapped.Result.UserPrincipalName, "alice@contoso.com"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
}

func TestOCSFActivity(t *testing.T) {
	tests := []struct {
		status   Status
		wantID   int
		wantName string
	}{
		{StatusEarly, 1, "Create"},
		{StatusUpdate, 2, "Update"},
		{StatusAmended, 2, "Update"},
		{StatusFinal, 3, "Close"},
	}
	for _, tc := range tests {
		t.Run(string(tc.status)+" is "+tc.wantName, func(t *testing.T) {
			id, name := ocsfActivity(tc.status)
			if id != tc.wantID || name != tc.wantName {
				t.Errorf("ocsfActivity(%s) = %d %s", tc.status, id, name)
			}
		})
	}
}
