package detector

import (
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
)

// OCSF 1.8.0 Detection Finding constants, as schema.ocsf.io defines them:
// events/findings/detection_finding.json extends finding (category
// "findings", uid 2), whose activity_id enum is 1 Create, 2 Update, 3 Close.
// The host profile adds actor to the class; ip_t allows at most 40
// characters.
const (
	ocsfVersion      = "1.8.0"
	ocsfSchemaURL    = "https://schema.ocsf.io/1.8.0/classes/detection_finding"
	ocsfClassUID     = 2004
	ocsfClassName    = "Detection Finding"
	ocsfCategoryUID  = 2
	ocsfCategoryName = "Findings"
	ocsfProductName  = "ropcwatch"
	ocsfFindingType  = "ROPC Authentication"
	ocsfHostProfile  = "host"
	ocsfIPMaxLen     = 40
)

// ocsfFinding is an OCSF Detection Finding. Attribute names and enums follow
// the 1.8.0 schema: base_event (required: activity_id, category_uid,
// class_uid, metadata, severity_id, time, type_uid), finding (required:
// finding_info) and detection_finding (recommended: evidences, is_alert).
type ocsfFinding struct {
	ActivityID   int              `json:"activity_id"`
	ActivityName string           `json:"activity_name"`
	CategoryUID  int              `json:"category_uid"`
	CategoryName string           `json:"category_name"`
	ClassUID     int              `json:"class_uid"`
	ClassName    string           `json:"class_name"`
	TypeUID      int              `json:"type_uid"`
	TypeName     string           `json:"type_name"`
	SeverityID   int              `json:"severity_id"`
	Severity     string           `json:"severity"`
	StatusID     int              `json:"status_id"`
	Status       string           `json:"status"`
	IsAlert      bool             `json:"is_alert"`
	Message      string           `json:"message"`
	Time         int64            `json:"time"`
	StartTime    int64            `json:"start_time"`
	EndTime      int64            `json:"end_time"`
	Count        int              `json:"count"`
	Metadata     ocsfMetadata     `json:"metadata"`
	FindingInfo  ocsfFindingInfo  `json:"finding_info"`
	Actor        *ocsfActor       `json:"actor,omitempty"`
	Evidences    []ocsfEvidence   `json:"evidences,omitempty"`
	Observables  []ocsfObservable `json:"observables,omitempty"`
	Unmapped     ocsfUnmapped     `json:"unmapped"`
}

// ocsfMetadata is the event metadata; uid names the revision (AlertId:Revision)
// and correlation_uid the incident. profiles names the profiles whose
// attributes the event uses: host when it has an actor.
type ocsfMetadata struct {
	Version        string      `json:"version"`
	Product        ocsfProduct `json:"product"`
	Profiles       []string    `json:"profiles,omitempty"`
	UID            string      `json:"uid"`
	CorrelationUID string      `json:"correlation_uid,omitempty"`
	ProcessedTime  int64       `json:"processed_time"`
}

// ocsfProduct names ropcwatch as the reporting product.
type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version"`
}

// ocsfFindingInfo describes the finding; uid is the AlertId, shared by revisions.
type ocsfFindingInfo struct {
	UID           string       `json:"uid"`
	Title         string       `json:"title"`
	Desc          string       `json:"desc"`
	Analytic      ocsfAnalytic `json:"analytic"`
	Attacks       []ocsfAttack `json:"attacks,omitempty"`
	FirstSeenTime int64        `json:"first_seen_time"`
	LastSeenTime  int64        `json:"last_seen_time"`
	Types         []string     `json:"types"`
}

// ocsfAnalytic names the rule; type_id 1 is Rule.
type ocsfAnalytic struct {
	UID     string `json:"uid"`
	Name    string `json:"name"`
	TypeID  int    `json:"type_id"`
	Type    string `json:"type"`
	Version string `json:"version,omitempty"`
}

// ocsfAttack is one MITRE ATT&CK tactic or technique.
type ocsfAttack struct {
	Tactic    *ocsfMitre `json:"tactic,omitempty"`
	Technique *ocsfMitre `json:"technique,omitempty"`
}

// ocsfMitre is an ATT&CK tactic or technique: its id and name.
type ocsfMitre struct {
	UID  string `json:"uid,omitempty"`
	Name string `json:"name,omitempty"`
}

// ocsfActor is the user who signed in, the top row's; the host profile adds
// it to the class.
type ocsfActor struct {
	User ocsfUser `json:"user"`
}

// ocsfUser is an OCSF user named by UPN.
type ocsfUser struct {
	Name   string `json:"name"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
}

// ocsfEvidence is one evidence artifact: the user and a source IP.
type ocsfEvidence struct {
	User        *ocsfUser     `json:"user,omitempty"`
	SrcEndpoint *ocsfEndpoint `json:"src_endpoint,omitempty"`
}

// ocsfEndpoint is a network endpoint by IP.
type ocsfEndpoint struct {
	IP string `json:"ip"`
}

// ocsfObservable is a pivot value: type_id 4 User Name or 2 IP Address; name
// is the attribute that holds it.
type ocsfObservable struct {
	Name   string `json:"name"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
	Value  string `json:"value"`
}

// ocsfUnmapped keeps every Sentinel field that OCSF has no exact place for,
// under its Sentinel name, so nothing of the Sentinel shape is lost: among
// them the ropcwatch Revision and Status (early, update, final, amended),
// which the activity does not tell apart.
type ocsfUnmapped struct {
	Revision      int
	Status        Status
	WindowStart   outputTime
	WindowEnd     outputTime
	TimeGenerated outputTime
	Tactics       []string
	Techniques    []string
	Entities      []Entity
	CustomDetails CustomDetailValues
	IncidentId    string
	Result        Row
	Truncated     bool  `json:",omitempty"`
	Results       []Row `json:",omitempty"`
}

// ocsf returns the alert as an OCSF 1.8.0 Detection Finding. Its first
// revision is activity Create and every later one Update, whatever its
// status (SPEC section 4): a final or amended revision is no Close, which
// in OCSF means the finding was resolved; the finding stays New and
// alertable.
func (a *Alert) ocsf() ocsfFinding {
	activityID, activityName := ocsfActivity(a.Revision)
	severityID, severity := ocsfSeverity(a.Severity)
	rows := a.rows()
	count := 0
	for _, r := range rows {
		count += r.Count
	}
	f := ocsfFinding{
		ActivityID:   activityID,
		ActivityName: activityName,
		CategoryUID:  ocsfCategoryUID,
		CategoryName: ocsfCategoryName,
		ClassUID:     ocsfClassUID,
		ClassName:    ocsfClassName,
		TypeUID:      ocsfClassUID*100 + activityID,
		TypeName:     ocsfClassName + ": " + activityName,
		SeverityID:   severityID,
		Severity:     severity,
		StatusID:     1,
		Status:       "New",
		IsAlert:      true,
		Message:      a.AlertName,
		Time:         a.TimeGenerated.UnixMilli(),
		StartTime:    a.StartTime.UnixMilli(),
		EndTime:      a.EndTime.UnixMilli(),
		Count:        count,
		Metadata: ocsfMetadata{
			Version:        ocsfVersion,
			Product:        ocsfProduct{Name: ocsfProductName, VendorName: ocsfProductName, Version: productVersion()},
			UID:            a.AlertId + ":" + strconv.Itoa(a.Revision),
			CorrelationUID: a.IncidentId,
			ProcessedTime:  a.ProcessedAt.UnixMilli(),
		},
		FindingInfo: ocsfFindingInfo{
			UID:   a.AlertId,
			Title: a.AlertName,
			Desc:  a.Description,
			Analytic: ocsfAnalytic{
				UID: a.RuleId, Name: a.RuleName, TypeID: 1, Type: "Rule", Version: a.RuleVersion,
			},
			Attacks:       ocsfAttacks(a.Tactics, a.Techniques),
			FirstSeenTime: a.StartTime.UnixMilli(),
			LastSeenTime:  a.EndTime.UnixMilli(),
			Types:         []string{ocsfFindingType},
		},
		Unmapped: ocsfUnmapped{
			Revision:      a.Revision,
			Status:        a.Status,
			WindowStart:   outputTime(a.WindowStart),
			WindowEnd:     outputTime(a.WindowEnd),
			TimeGenerated: outputTime(a.TimeGenerated),
			Tactics:       nonNil(a.Tactics),
			Techniques:    nonNil(a.Techniques),
			Entities:      nonNil(a.Entities),
			CustomDetails: a.CustomDetails,
			IncidentId:    a.IncidentId,
			Result:        a.Result,
			Truncated:     a.Truncated,
			Results:       a.Results,
		},
	}
	actor := a.Result.UserPrincipalName
	if actor != "" {
		f.Actor = &ocsfActor{User: ocsfUserOf(actor)}
		f.Metadata.Profiles = []string{ocsfHostProfile}
	}
	f.Evidences, f.Observables = ocsfEvidences(rows, actor)
	return f
}

// rows returns every row the alert covers: Results for SingleAlert, else Result.
func (a *Alert) rows() []Row {
	if len(a.Results) > 0 {
		return a.Results
	}
	return []Row{a.Result}
}

// ocsfEvidences returns one evidence per (user, IP) of rows, holding the user
// and src_endpoint.ip, or one holding only the user when a row has no IP; and
// the observables: each distinct user name (type 4, User Name) and IP (type
// 2, IP Address), named by where the finding holds them (actor.user.name for
// actor, the alert's user; evidences.user.name for the other users of a
// SingleAlert). Empty values are left out, and so are values that are no IP
// address (ocsfIP): unmapped.Result keeps them.
func ocsfEvidences(rows []Row, actor string) ([]ocsfEvidence, []ocsfObservable) {
	var evidences []ocsfEvidence
	var observables []ocsfObservable
	seen := make(map[ocsfObservable]bool)
	observe := func(o ocsfObservable) {
		if !seen[o] {
			seen[o] = true
			observables = append(observables, o)
		}
	}
	for _, r := range rows {
		var user *ocsfUser
		if r.UserPrincipalName != "" {
			u := ocsfUserOf(r.UserPrincipalName)
			user = &u
			name := "evidences.user.name"
			if u.Name == actor {
				name = "actor.user.name"
			}
			observe(ocsfObservable{Name: name, TypeID: 4, Type: "User Name", Value: u.Name})
		}
		withIP := false
		for _, ip := range r.IPs {
			if !ocsfIP(ip) {
				continue
			}
			withIP = true
			evidences = append(evidences, ocsfEvidence{User: user, SrcEndpoint: &ocsfEndpoint{IP: ip}})
			observe(ocsfObservable{Name: "evidences.src_endpoint.ip", TypeID: 2, Type: "IP Address", Value: ip})
		}
		if !withIP && user != nil {
			evidences = append(evidences, ocsfEvidence{User: user})
		}
	}
	return evidences, observables
}

// ocsfUserOf returns the OCSF user for a UPN; type_id 1 is User.
func ocsfUserOf(upn string) ocsfUser {
	return ocsfUser{Name: upn, TypeID: 1, Type: "User"}
}

// ocsfIP reports whether s fits OCSF's ip_t, as src_endpoint.ip must: an IP
// address, IPv4 or IPv6 (with a zone or not), of at most 40 characters.
func ocsfIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil && len(s) <= ocsfIPMaxLen
}

// ocsfActivity returns the finding activity of an alert's revision: the
// first (1) creates the finding, every later one updates it. Revision 1 is
// the first of an alert to go out: a window's first qualifying sign-in
// builds it (early, or amended when the window had closed), later revisions
// wait until the first has gone out with its incident, and a batch run
// emits only finals, each revision 1.
func ocsfActivity(revision int) (int, string) {
	if revision == 1 {
		return 1, "Create"
	}
	return 2, "Update"
}

// ocsfSeverity maps a Sentinel severity to OCSF severity_id and caption:
// Informational 1, Low 2, Medium 3, High 4 (ASCII case ignored). Another
// value is 99 Other with the rule's word; none is 0 Unknown.
func ocsfSeverity(s string) (int, string) {
	switch strings.ToLower(s) {
	case "":
		return 0, "Unknown"
	case "informational":
		return 1, "Informational"
	case "low":
		return 2, "Low"
	case "medium":
		return 3, "Medium"
	case "high":
		return 4, "High"
	}
	return 99, s
}

// ocsfAttacks returns one attack per tactic, with the MITRE ATT&CK tactic id
// and name for the names Sentinel uses (CredentialAccess is TA0006 "Credential
// Access"; an unknown name is kept as written, without id), then one per
// technique id. Sentinel does not pair tactics with techniques, so neither
// does this.
func ocsfAttacks(tactics, techniques []string) []ocsfAttack {
	var attacks []ocsfAttack
	for _, t := range tactics {
		uid, name := mitreTactic(t)
		attacks = append(attacks, ocsfAttack{Tactic: &ocsfMitre{UID: uid, Name: name}})
	}
	for _, t := range techniques {
		attacks = append(attacks, ocsfAttack{Technique: &ocsfMitre{UID: t}})
	}
	return attacks
}

// mitreTactic returns the ATT&CK id and name of a Sentinel tactic name.
func mitreTactic(sentinel string) (uid, name string) {
	switch sentinel {
	case "Reconnaissance":
		return "TA0043", "Reconnaissance"
	case "ResourceDevelopment":
		return "TA0042", "Resource Development"
	case "InitialAccess":
		return "TA0001", "Initial Access"
	case "Execution":
		return "TA0002", "Execution"
	case "Persistence":
		return "TA0003", "Persistence"
	case "PrivilegeEscalation":
		return "TA0004", "Privilege Escalation"
	case "DefenseEvasion":
		return "TA0005", "Defense Evasion"
	case "CredentialAccess":
		return "TA0006", "Credential Access"
	case "Discovery":
		return "TA0007", "Discovery"
	case "LateralMovement":
		return "TA0008", "Lateral Movement"
	case "Collection":
		return "TA0009", "Collection"
	case "CommandAndControl":
		return "TA0011", "Command and Control"
	case "Exfiltration":
		return "TA0010", "Exfiltration"
	case "Impact":
		return "TA0040", "Impact"
	}
	return "", sentinel
}

// productVersion is the ropcwatch module version from the build info, or
// "devel" for a build outside a released module (tests, go run).
func productVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
	}
	return "devel"
}
