package detector

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// userAlert returns the early alert of upn from ip, generated at tg in the
// window that contains tg.
func userAlert(upn, ip string, tg time.Time) Alert {
	end := tg.Truncate(time.Hour).Add(time.Hour)
	row := Row{UserPrincipalName: upn, Count: 1, IPs: []string{ip}, Countries: []string{"US"},
		Apps: []string{"curl"}, FirstSeen: tg, LastSeen: tg, IPAddress: ip}
	return testRule().Alerts([]Row{row}, AlertContext{
		Status: StatusEarly, Revision: 1, WindowStart: end.Add(-time.Hour), WindowEnd: end, TimeGenerated: tg,
	})[0]
}

// step is one alert fed to Incidents; wantSameAs names the earlier step whose
// incident it must join, or -1 for a new incident.
type step struct {
	upn, ip    string
	tg         time.Time
	wantSameAs int
}

func TestIncidentGrouping(t *testing.T) {
	anyAlert := testRule().Incident
	selected := anyAlert
	selected.MatchingMethod = "Selected"
	allEntities := anyAlert
	allEntities.MatchingMethod = "AllEntities"
	ungrouped := anyAlert
	ungrouped.GroupingEnabled = false

	tests := []struct {
		name  string
		cfg   IncidentConfig
		steps []step
	}{
		{"AnyAlert joins alerts of other users within five hours", anyAlert, []step{
			{"alice@contoso.com", "203.0.113.10", at("10:00:00"), -1},
			{"bob@contoso.com", "192.0.2.1", at("12:30:00"), 0},
			{"carol@contoso.com", "192.0.2.2", at("14:59:59"), 0},
		}},
		{"exactly five hours after the first alert is inside the lookback", anyAlert, []step{
			{"alice@contoso.com", "203.0.113.10", at("10:00:00"), -1},
			{"bob@contoso.com", "192.0.2.1", at("15:00:00"), 0},
		}},
		{"five hours and a minute after the first alert opens a new incident", anyAlert, []step{
			{"alice@contoso.com", "203.0.113.10", at("10:00:00"), -1},
			{"bob@contoso.com", "192.0.2.1", at("14:00:00"), 0},
			{"carol@contoso.com", "192.0.2.2", at("15:01:00"), -1},
			{"dave@contoso.com", "192.0.2.3", at("16:00:00"), 2},
		}},
		{"a late alert far behind does not displace the current incident", anyAlert, []step{
			{"alice@contoso.com", "203.0.113.10", at("16:00:00"), -1},
			{"bob@contoso.com", "192.0.2.1", at("10:00:00"), -1},
			{"carol@contoso.com", "192.0.2.2", at("17:00:00"), 0},
		}},
		{"Selected with Account groups per user", selected, []step{
			{"alice@contoso.com", "203.0.113.10", at("10:00:00"), -1},
			{"bob@contoso.com", "203.0.113.10", at("10:10:00"), -1},
			{"alice@contoso.com", "192.0.2.1", at("11:10:00"), 0},
			{"bob@contoso.com", "192.0.2.1", at("12:10:00"), 1},
		}},
		{"AllEntities needs the same user and IP", allEntities, []step{
			{"alice@contoso.com", "203.0.113.10", at("10:00:00"), -1},
			{"alice@contoso.com", "192.0.2.1", at("11:00:00"), -1},
			{"alice@contoso.com", "203.0.113.10", at("12:00:00"), 0},
		}},
		{"without grouping every alert opens its own incident", ungrouped, []step{
			{"alice@contoso.com", "203.0.113.10", at("10:00:00"), -1},
			{"bob@contoso.com", "192.0.2.1", at("10:10:00"), -1},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewIncidents(tc.cfg, testRule().ID)
			var ids []string
			for i, s := range tc.steps {
				a := userAlert(s.upn, s.ip, s.tg)
				created := g.Assign(&a) == Created
				if a.IncidentId == "" {
					t.Fatalf("step %d: no incident", i)
				}
				if s.wantSameAs < 0 {
					if !created {
						t.Errorf("step %d: joined %s, want a new incident", i, a.IncidentId)
					}
				} else if created || a.IncidentId != ids[s.wantSameAs] {
					t.Errorf("step %d: incident %s (created %v), want step %d's %s", i, a.IncidentId, created, s.wantSameAs, ids[s.wantSameAs])
				}
				ids = append(ids, a.IncidentId)
			}
		})
	}
}

func TestIncidentLifecycle(t *testing.T) {
	rule := testRule()

	t.Run("the 151st alert opens a new incident", func(t *testing.T) {
		g := NewIncidents(rule.Incident, rule.ID)
		var first string
		for i := range 151 {
			a := userAlert(fmt.Sprintf("user%03d@contoso.com", i), "192.0.2.1", at("10:00:00").Add(time.Duration(i)*time.Second))
			created := g.Assign(&a) == Created
			switch {
			case i == 0:
				first = a.IncidentId
			case i < 150 && (created || a.IncidentId != first):
				t.Fatalf("alert %d opened %s, want it in %s", i+1, a.IncidentId, first)
			case i == 150 && (!created || a.IncidentId == first):
				t.Fatalf("alert 151 joined %s, want a new incident", a.IncidentId)
			}
		}
		if inc, _ := g.Snapshot(first); inc.AlertCount != 150 || len(inc.AlertIds) != 150 {
			t.Errorf("first incident holds %d alerts (%d ids), want 150", inc.AlertCount, len(inc.AlertIds))
		}
	})

	t.Run("revisions keep their incident and are not counted twice", func(t *testing.T) {
		g := NewIncidents(rule.Incident, rule.ID)
		a := userAlert("alice@contoso.com", "203.0.113.10", at("10:00:00"))
		g.Assign(&a)
		rev := a
		rev.Revision, rev.Status, rev.IncidentId = 2, StatusUpdate, ""
		rev.TimeGenerated = at("10:20:00")
		if g.Assign(&rev) == Created || rev.IncidentId != a.IncidentId {
			t.Errorf("revision 2 got incident %s, want %s", rev.IncidentId, a.IncidentId)
		}
		if inc, _ := g.Snapshot(a.IncidentId); inc.AlertCount != 1 {
			t.Errorf("AlertCount = %d, want 1", inc.AlertCount)
		}
	})

	t.Run("a closed incident is not rejoined without reopenClosedIncident", func(t *testing.T) {
		g := NewIncidents(rule.Incident, rule.ID)
		a := userAlert("alice@contoso.com", "203.0.113.10", at("10:00:00"))
		g.Assign(&a)
		g.Close(a.IncidentId)
		b := userAlert("bob@contoso.com", "192.0.2.1", at("11:00:00"))
		if g.Assign(&b) != Created || b.IncidentId == a.IncidentId {
			t.Errorf("alert after close joined %s, want a new incident", b.IncidentId)
		}
		c := userAlert("carol@contoso.com", "192.0.2.2", at("11:30:00"))
		if g.Assign(&c) == Created || c.IncidentId != b.IncidentId {
			t.Errorf("next alert got %s, want the new incident %s", c.IncidentId, b.IncidentId)
		}
	})

	t.Run("reopenClosedIncident rejoins and reopens the closed incident", func(t *testing.T) {
		cfg := rule.Incident
		cfg.ReopenClosedIncident = true
		g := NewIncidents(cfg, rule.ID)
		a := userAlert("alice@contoso.com", "203.0.113.10", at("10:00:00"))
		g.Assign(&a)
		g.Close(a.IncidentId)
		b := userAlert("bob@contoso.com", "192.0.2.1", at("11:00:00"))
		if g.Assign(&b) == Created || b.IncidentId != a.IncidentId {
			t.Errorf("alert after close got %s, want the reopened %s", b.IncidentId, a.IncidentId)
		}
		if inc, _ := g.Snapshot(a.IncidentId); inc.Status != IncidentActive {
			t.Errorf("status = %s, want %s", inc.Status, IncidentActive)
		}
	})

	t.Run("createIncident false leaves the incident id empty", func(t *testing.T) {
		cfg := rule.Incident
		cfg.CreateIncident = false
		g := NewIncidents(cfg, rule.ID)
		a := userAlert("alice@contoso.com", "203.0.113.10", at("10:00:00"))
		a.IncidentId = "stale"
		if g.Assign(&a) != NoIncident || a.IncidentId != "" {
			t.Errorf("Assign created %q", a.IncidentId)
		}
	})

	t.Run("a replay regenerates the same incident ids", func(t *testing.T) {
		var runs [2][]string
		for r := range runs {
			g := NewIncidents(rule.Incident, rule.ID)
			for _, tg := range []string{"10:00:00", "13:00:00", "16:00:00"} {
				a := userAlert("alice@contoso.com", "203.0.113.10", at(tg))
				g.Assign(&a)
				runs[r] = append(runs[r], a.IncidentId)
			}
		}
		if fmt.Sprint(runs[0]) != fmt.Sprint(runs[1]) {
			t.Errorf("runs differ: %v vs %v", runs[0], runs[1])
		}
	})

	t.Run("incidents past their lookback are forgotten", func(t *testing.T) {
		g := NewIncidents(rule.Incident, rule.ID)
		a := userAlert("alice@contoso.com", "203.0.113.10", at("10:00:00"))
		g.Assign(&a)
		b := userAlert("bob@contoso.com", "192.0.2.1", at("15:00:01"))
		g.Assign(&b)
		if _, ok := g.Snapshot(a.IncidentId); ok {
			t.Error("the 10:00 incident is still retained at 15:00:01")
		}
		if inc, ok := g.Snapshot(b.IncidentId); !ok || inc.Title != b.AlertName || inc.Accounts[0] != "bob@contoso.com" {
			t.Errorf("Snapshot = %+v, %v", inc, ok)
		}
	})
}

func TestIncidentJSON(t *testing.T) {
	inc := Incident{IncidentId: "i", RuleId: "r", Title: "t<", Severity: "High", Status: IncidentNew,
		FirstAlertTime: at("10:00:00"), LastAlertTime: at("10:00:00.5"), AlertCount: 1}
	got, err := json.Marshal(inc)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"IncidentId":"i","RuleId":"r","Title":"t\u003c","Severity":"High","Status":"New",` +
		`"FirstAlertTime":"2026-05-01T10:00:00.0000000Z","LastAlertTime":"2026-05-01T10:00:00.5000000Z",` +
		`"AlertCount":1,"AlertIds":[],"Accounts":[],"Grouping":""}`
	if string(got) != want {
		t.Errorf("Incident JSON =\n%s\nwant\n%s", got, want)
	}
}

func TestIncidentsRestoreAfterRestart(t *testing.T) {
	for _, method := range []string{"AnyAlert", "Selected"} {
		t.Run(method+" keeps memberships and the open incident", func(t *testing.T) {
			cfg := testRule().Incident
			cfg.MatchingMethod = method
			before := NewIncidents(cfg, "rule")
			a1 := userAlert("alice@contoso.com", "192.0.2.1", at("10:00:00"))
			a2 := userAlert("alice@contoso.com", "192.0.2.1", at("11:30:00"))
			before.Assign(&a1)
			before.Assign(&a2)
			snap, ok := before.Snapshot(a1.IncidentId)
			if !ok {
				t.Fatal("no snapshot")
			}
			raw, err := json.Marshal(snap)
			if err != nil {
				t.Fatal(err)
			}
			var back Incident
			if err := json.Unmarshal(raw, &back); err != nil {
				t.Fatal(err)
			}

			after := NewIncidents(cfg, "rule")
			after.Restore(back)
			r2 := userAlert("alice@contoso.com", "192.0.2.1", at("11:30:00")) // replayed
			a3 := userAlert("alice@contoso.com", "192.0.2.1", at("12:00:00")) // new
			after.Assign(&r2)
			after.Assign(&a3)
			if r2.IncidentId != a1.IncidentId || a3.IncidentId != a1.IncidentId {
				t.Fatalf("after restore: replayed %s, new %s, want %s", r2.IncidentId, a3.IncidentId, a1.IncidentId)
			}
			if s, _ := after.Snapshot(a1.IncidentId); s.AlertCount != 3 {
				t.Fatalf("alert count %d, want 3: a replayed alert counted again", s.AlertCount)
			}
		})
	}
}

// TestIncidentsRestoreSeveral restores more than one incident, in either
// order: the later first alert stays the current incident.
func TestIncidentsRestoreSeveral(t *testing.T) {
	cfg := testRule().Incident
	cfg.MatchingMethod = "Selected"
	before := NewIncidents(cfg, "rule")
	a := userAlert("alice@contoso.com", "192.0.2.1", at("10:00:00"))
	b := userAlert("bob@contoso.com", "192.0.2.2", at("10:30:00"))
	before.Assign(&a)
	before.Assign(&b)
	var snaps []Incident
	for _, id := range []string{b.IncidentId, a.IncidentId} {
		s, ok := before.Snapshot(id)
		if !ok {
			t.Fatal("no snapshot")
		}
		snaps = append(snaps, s)
	}
	after := NewIncidents(cfg, "rule")
	for _, s := range snaps {
		after.Restore(s)
	}
	a2 := userAlert("alice@contoso.com", "192.0.2.1", at("11:00:00"))
	b2 := userAlert("bob@contoso.com", "192.0.2.2", at("11:00:00"))
	after.Assign(&a2)
	after.Assign(&b2)
	if a2.IncidentId != a.IncidentId || b2.IncidentId != b.IncidentId {
		t.Fatalf("after restoring two incidents: alice %s (want %s), bob %s (want %s)", a2.IncidentId, a.IncidentId, b2.IncidentId, b.IncidentId)
	}
}
