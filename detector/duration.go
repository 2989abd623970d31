package detector

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

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
