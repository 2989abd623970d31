package detector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/ocsftest"
	"github.com/ropcwatch/ropcwatch/detector/synth"
)

// ocsfActivityOf is what a consumer reads of an OCSF finding's activity and
// of the ropcwatch revision it carries.
type ocsfActivityOf struct {
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name"`
	TypeUID      int    `json:"type_uid"`
	TypeName     string `json:"type_name"`
	Unmapped     struct {
		Revision int
		Status   Status
	} `json:"unmapped"`
}

// String renders the activity as "status:revision activity_id name type_uid".
func (a ocsfActivityOf) String() string {
	return fmt.Sprintf("%s:%d %d %s %d", a.Unmapped.Status, a.Unmapped.Revision, a.ActivityID, a.ActivityName, a.TypeUID)
}

func decodeOCSFActivity(t *testing.T, b []byte) ocsfActivityOf {
	t.Helper()
	var a ocsfActivityOf
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("decode OCSF: %v\n%s", err, b)
	}
	if a.TypeName != "Detection Finding: "+a.ActivityName {
		t.Errorf("type_name %q does not name activity %q", a.TypeName, a.ActivityName)
	}
	return a
}

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
			Version  string   `json:"version"`
			UID      string   `json:"uid"`
			Profiles []string `json:"profiles"`
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
			Revision int
			Status   Status
			Result   Row
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
		{"a final revision after the first updates the finding", got.ActivityID, 2},
		{"type_uid is class_uid*100+activity_id", got.TypeUID, 200402},
		{"High is severity 4", got.SeverityID, 4},
		{"time is TimeGenerated in epoch milliseconds", got.Time, a.TimeGenerated.UnixMilli()},
		{"the schema version is 1.8.0", got.Metadata.Version, "1.8.0"},
		{"the host profile, which adds actor, is named", strings.Join(got.Metadata.Profiles, ","), "host"},
		{"the event uid names the revision", got.Metadata.UID, a.AlertId + ":3"},
		{"finding_info.uid is the AlertId", got.FindingInfo.UID, a.AlertId},
		{"there is one evidence per IP", len(got.Evidences), 2},
		{"the second evidence is the second IP", got.Evidences[1].SrcEndpoint.IP, "198.51.100.7"},
		{"unmapped keeps the revision", got.Unmapped.Revision, 3},
		{"unmapped keeps the status", got.Unmapped.Status, StatusFinal},
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

// TestOCSFActivity pins SPEC section 4: an alert's first revision is a
// Create, every later one an Update, whatever its status; none is a Close,
// which in OCSF means the finding was resolved.
func TestOCSFActivity(t *testing.T) {
	tests := []struct {
		name     string
		status   Status
		revision int
		want     string
	}{
		{"an early first revision is a create", StatusEarly, 1, "early:1 1 Create 200401"},
		{"a final first revision, as in batch, is a create", StatusFinal, 1, "final:1 1 Create 200401"},
		{"an amended first revision, a window's first sign-in after its close, is a create", StatusAmended, 1, "amended:1 1 Create 200401"},
		{"an update is an update", StatusUpdate, 2, "update:2 2 Update 200402"},
		{"a final revision after an early one is an update, not a close", StatusFinal, 2, "final:2 2 Update 200402"},
		{"an amended revision is an update", StatusAmended, 4, "amended:4 2 Update 200402"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := finalContext()
			c.Status, c.Revision = tt.status, tt.revision
			a := testRule().Alerts([]Row{aliceRow()}, c)[0]
			if got := decodeOCSFActivity(t, mustMarshal(t, &a, FormatOCSF)).String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestOCSFStreamingRevisions renders every revision the engine emits, of
// every status, and checks each against the schema and its activity.
func TestOCSFStreamingRevisions(t *testing.T) {
	f := newFeeder(t, LiveConfig{Lateness: time.Minute, UpdateInterval: 10 * time.Minute, Retention: 30 * time.Minute})
	f.feed(0, liveRecord(5, 0, "alice", "a1", "1.1.1.1"))    // early
	f.feed(0, liveRecord(7, 0, "alice", "a2", "2.2.2.2"))    // grew, within the interval: pending
	f.feed(0, liveRecord(16, 0, "alice", "a3", "2.2.2.2"))   // update
	f.feed(0, noise(61))                                     // the window closes: final
	f.feed(0, liveRecord(59, 0, "alice", "a4", "3.3.3.3"))   // late: amended
	f.feed(0, liveRecord(58, 0, "bob", "b1", "2001:db8::7")) // bob's first sign-in, late: amended, his first revision
	want := []string{
		"early:1 1 Create 200401",
		"update:2 2 Update 200402",
		"final:3 2 Update 200402",
		"amended:4 2 Update 200402",
		"amended:1 1 Create 200401",
	}
	var got []string
	for i := range f.out.Alerts {
		got = append(got, decodeOCSFActivity(t, mustMarshal(t, &f.out.Alerts[i], FormatOCSF)).String())
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("revisions\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestOCSFBatch checks every line of a batch run's OCSF output against the
// schema: each alert is final and its only revision, so a Create.
func TestOCSFBatch(t *testing.T) {
	for _, agg := range []Aggregation{AlertPerResult, SingleAlert} {
		t.Run(string(agg), func(t *testing.T) {
			var in bytes.Buffer
			if _, err := synth.Generate(context.Background(), synth.Config{Records: 5000, Seed: 11, ROPCRate: 0.05}, &in); err != nil {
				t.Fatal(err)
			}
			rule := *SeedRule() // shared: change a copy
			rule.Aggregation = agg
			var out bytes.Buffer
			if _, err := RunBatch(context.Background(), BatchConfig{Rule: &rule, Format: FormatOCSF}, &in, &out, nil); err != nil {
				t.Fatal(err)
			}
			ocsftest.CheckLines(t, out.Bytes())
			for line := range bytes.Lines(out.Bytes()) {
				if got := decodeOCSFActivity(t, line).String(); got != "final:1 1 Create 200401" {
					t.Fatalf("batch alert is %s, want final:1 1 Create 200401", got)
				}
			}
		})
	}
}

// ocsfPivots is what a consumer pivots on in an OCSF finding: the profiles,
// the actor, the evidences (user@ip) and the observables (name=value).
func ocsfPivots(t *testing.T, b []byte) string {
	t.Helper()
	var f struct {
		Metadata struct {
			Profiles []string `json:"profiles"`
		} `json:"metadata"`
		Actor       *ocsfActor       `json:"actor"`
		Evidences   []ocsfEvidence   `json:"evidences"`
		Observables []ocsfObservable `json:"observables"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("decode OCSF: %v\n%s", err, b)
	}
	actor := ""
	if f.Actor != nil {
		actor = f.Actor.User.Name
	}
	var evidences, observables []string
	for _, e := range f.Evidences {
		var user, ip string
		if e.User != nil {
			user = e.User.Name
		}
		if e.SrcEndpoint != nil {
			ip = e.SrcEndpoint.IP
		}
		evidences = append(evidences, user+"@"+ip)
	}
	for _, o := range f.Observables {
		observables = append(observables, o.Name+"="+o.Value)
	}
	return fmt.Sprintf("profiles [%s] actor %q evidences [%s] observables [%s]", strings.Join(f.Metadata.Profiles, " "),
		actor, strings.Join(evidences, " "), strings.Join(observables, " "))
}

// TestOCSFShapes renders rows of every shape, in both aggregation modes,
// and checks each finding against the schema and what it points at.
func TestOCSFShapes(t *testing.T) {
	row := func(upn string, ips ...string) Row {
		return Row{UserPrincipalName: upn, Count: 1, IPs: ips, Countries: []string{"US"}, Apps: []string{"curl"},
			FirstSeen: at("09:10:00"), LastSeen: at("09:10:00"), IPAddress: ips[0]}
	}
	tests := []struct {
		name string
		agg  Aggregation
		rows []Row
		want string
	}{
		{"a user and two IPs", AlertPerResult, []Row{row("alice@contoso.com", "203.0.113.10", "2001:db8::1")},
			`profiles [host] actor "alice@contoso.com" evidences [alice@contoso.com@203.0.113.10 alice@contoso.com@2001:db8::1] ` +
				`observables [actor.user.name=alice@contoso.com evidences.src_endpoint.ip=203.0.113.10 evidences.src_endpoint.ip=2001:db8::1]`},
		{"no user: no actor, so no host profile", AlertPerResult, []Row{row("", "198.51.100.20")},
			`profiles [] actor "" evidences [@198.51.100.20] observables [evidences.src_endpoint.ip=198.51.100.20]`},
		{"no IP: the user is the evidence", AlertPerResult, []Row{row("svc-legacy", "")},
			`profiles [host] actor "svc-legacy" evidences [svc-legacy@] observables [actor.user.name=svc-legacy]`},
		{"a value that is no IP address is no endpoint", AlertPerResult, []Row{row("alice@contoso.com", "unknown", "203.0.113.010")},
			`profiles [host] actor "alice@contoso.com" evidences [alice@contoso.com@] observables [actor.user.name=alice@contoso.com]`},
		{"a single alert names its other users where they are", SingleAlert, []Row{row("alice@contoso.com", "203.0.113.10"), row("bob@fabrikam.com", "192.0.2.1")},
			`profiles [host] actor "alice@contoso.com" evidences [alice@contoso.com@203.0.113.10 bob@fabrikam.com@192.0.2.1] ` +
				`observables [actor.user.name=alice@contoso.com evidences.src_endpoint.ip=203.0.113.10 evidences.user.name=bob@fabrikam.com evidences.src_endpoint.ip=192.0.2.1]`},
		{"a single alert whose top row has no user has no actor", SingleAlert, []Row{row("", "198.51.100.20"), row("bob@fabrikam.com", "192.0.2.1")},
			`profiles [] actor "" evidences [@198.51.100.20 bob@fabrikam.com@192.0.2.1] ` +
				`observables [evidences.src_endpoint.ip=198.51.100.20 evidences.user.name=bob@fabrikam.com evidences.src_endpoint.ip=192.0.2.1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRule()
			r.Aggregation = tt.agg
			a := r.Alerts(tt.rows, finalContext())[0]
			if got := ocsfPivots(t, mustMarshal(t, &a, FormatOCSF)); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestOCSFEndpointIP pins which values are a src_endpoint.ip: those OCSF's
// ip_t accepts, an IP address of at most 40 characters.
func TestOCSFEndpointIP(t *testing.T) {
	tests := []struct {
		ip   string
		want bool
	}{
		{"203.0.113.10", true},
		{"2001:db8::1", true},
		{"::ffff:192.0.2.1", true},
		{"fe80::1%eth0", true},
		{"203.0.113.010", false},
		{"unknown", false},
		{"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", false},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			row := aliceRow()
			row.IPs = []string{tt.ip}
			a := testRule().Alerts([]Row{row}, finalContext())[0]
			got := strings.Contains(ocsfPivots(t, mustMarshal(t, &a, FormatOCSF)), "evidences.src_endpoint.ip="+tt.ip)
			if got != tt.want {
				t.Errorf("%q is a src_endpoint.ip: %v, want %v", tt.ip, got, tt.want)
			}
		})
	}
}
