package detector

import (
	"fmt"
	"strings"
	"time"
)

// The lists a user may tune in the query text.
const (
	legitAppsName  = "LegitRopcApps"
	legitUsersName = "LegitRopcUsers"
)

// ropcPipeline is the query expression ropcwatch implements, after the let
// statements. A rule's query must equal it token for token, except for the
// argument of ago(), which must equal queryPeriod.
const ropcPipeline = `AADNonInteractiveUserSignInLogs
| invoke ExcludeAllowlistedIPs_AADNI()
| where TimeGenerated > ago(1h)
| where AuthenticationProtocol =~ "ropc"
| where ResultType == 0
| where AppDisplayName !in~ (LegitRopcApps)
| where tolower(UserPrincipalName) !in~ (LegitRopcUsers)
| summarize
    Count = count(),
    IPs = make_set(IPAddress),
    Countries = make_set(Location),
    Apps = make_set(AppDisplayName),
    FirstSeen = min(TimeGenerated),
    LastSeen = max(TimeGenerated)
    by UserPrincipalName
| extend IPAddress = tostring(IPs[0])
| order by Count desc`

// setQuery reads LegitRopcApps and LegitRopcUsers from the query text into r
// and checks that the rest of the query is ropcPipeline over r.QueryPeriod.
func (r *Rule) setQuery(query string) error {
	lets, pipeline, err := parseLetLists(query)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	seen := map[string]bool{}
	for _, l := range lets {
		if seen[l.name] {
			return fmt.Errorf("query: line %d: let %s: defined twice", l.line, l.name)
		}
		seen[l.name] = true
		switch l.name {
		case legitAppsName:
			r.LegitApps = l.values
		case legitUsersName:
			r.LegitUsers = r.lowerUsers(l.values)
		default:
			return fmt.Errorf("query: line %d: let %s: only %s and %s may be tuned", l.line, l.name, legitAppsName, legitUsersName)
		}
	}
	for _, name := range []string{legitAppsName, legitUsersName} {
		if !seen[name] {
			return fmt.Errorf("query: let %s = dynamic([...]); missing", name)
		}
	}
	for i, app := range r.LegitApps {
		if app == "" {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s entry %d is empty and never matches", legitAppsName, i+1))
		}
	}
	if err := r.checkPipeline(pipeline); err != nil {
		return fmt.Errorf("query: %w (only %s and %s may be tuned)", err, legitAppsName, legitUsersName)
	}
	return nil
}

// lowerUsers lower-cases the LegitRopcUsers entries, warning for each entry
// that changes or is empty.
func (r *Rule) lowerUsers(users []string) []string {
	lower := make([]string, len(users))
	for i, u := range users {
		lower[i] = strings.ToLower(u)
		if lower[i] != u {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s entry %q lower-cased to %q", legitUsersName, u, lower[i]))
		}
		if u == "" {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s entry %d is empty and excludes sign-ins without a UserPrincipalName", legitUsersName, i+1))
		}
	}
	return lower
}

// checkPipeline compares the query expression with ropcPipeline, token by
// token, and the ago() argument with r.QueryPeriod.
func (r *Rule) checkPipeline(got []kqlToken) error {
	want, err := lexKQL(ropcPipeline)
	if err != nil {
		return err
	}
	for i, w := range want {
		if i >= len(got) {
			return fmt.Errorf("ends early, want %s", w)
		}
		g := got[i]
		if i > 1 && want[i-2].is(kqlWord, "ago") && want[i-1].is(kqlPunct, "(") {
			d, err := parseKQLTimespan(g.text)
			if g.kind != kqlWord || err != nil {
				return fmt.Errorf("line %d: ago(%s): not a timespan (want e.g. 1h)", g.line, g)
			}
			// An NRT rule may omit queryPeriod: its window is the ago() span.
			if r.QueryPeriod == 0 && d > 0 && d <= maxQueryPeriod {
				r.QueryPeriod = d
			}
			if d != r.QueryPeriod {
				return fmt.Errorf("line %d: ago(%s) differs from queryPeriod %s", g.line, g.text, r.QueryPeriod)
			}
			continue
		}
		if g.kind != w.kind || g.text != w.text {
			return fmt.Errorf("line %d: found %s, want %s", g.line, g, w)
		}
	}
	if len(got) > len(want) {
		return fmt.Errorf("line %d: unexpected %s after order by Count desc", got[len(want)].line, got[len(want)])
	}
	return nil
}

// parseKQLTimespan parses a KQL timespan literal such as 1h, 60min, 1.5d or
// 3600s.
func parseKQLTimespan(s string) (time.Duration, error) {
	day := 24 * time.Hour
	return parseUnitDuration(s, map[string]time.Duration{
		"d": day, "day": day, "days": day,
		"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
		"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
		"ms": time.Millisecond, "milli": time.Millisecond, "millis": time.Millisecond,
		"millisecond": time.Millisecond, "milliseconds": time.Millisecond,
	}, true)
}
