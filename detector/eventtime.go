package detector

import (
	"bytes"
	"strings"
	"time"
)

// timeKeys are the raw keys whose value is a record's event time, in the
// order they are tried: diagnostic records, then export rows.
var timeKeys = [][]byte{[]byte(`"time":"`), []byte(`"TimeGenerated":"`)}

// rawEventTime finds the event time of the first record of msg without
// parsing it, to track event-time progress on messages the prefilter never
// decodes. It is a progress hint, not a column value: compact JSON only
// (no space around the colon), and false when absent or unparsable.
func rawEventTime(msg []byte) (time.Time, bool) {
	for _, key := range timeKeys {
		i := bytes.Index(msg, key)
		if i < 0 {
			continue
		}
		t, _, ok := timeValue(msg[i+len(key):])
		if !ok || t.Before(minTime) || !t.Before(maxTime) {
			return time.Time{}, false
		}
		return t, true
	}
	return time.Time{}, false
}

// timeValue parses the RFC 3339 string value that v starts with (the bytes
// after its opening quote) and returns it with the index of its closing
// quote.
func timeValue(v []byte) (t time.Time, end int, ok bool) {
	end = bytes.IndexByte(v[:min(len(v), 40)], '"')
	if end < 0 {
		return time.Time{}, -1, false
	}
	t, ok = parseTime(string(v[:end]))
	return t, end, ok
}

// tick is KQL's datetime resolution: finer input is truncated to it when
// parsed, before a window is chosen, so that a printed time (seven
// fractional digits) always lies in its window.
const tick = 100 * time.Nanosecond

// parseTime parses an RFC 3339 timestamp as SPEC section 1 reads it, in
// UTC and truncated to a tick. Beyond what time.Parse checks, the fraction
// follows a '.' only and an offset's hours are at most 23 and its minutes
// at most 59; 't' and 'z' may be lower case, as RFC 3339 allows.
func parseTime(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") {
		return time.Time{}, false
	}
	i := len("2006-01-02T15:04:05")
	if s[i] == '.' {
		i++
		digits := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == digits {
			return time.Time{}, false
		}
	}
	switch zone := s[i:]; {
	case zone == "Z" || zone == "z":
	case len(zone) == len("+07:00") && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':' &&
		isDigits(zone[1:3]) && isDigits(zone[4:6]) && zone[1:3] <= "23" && zone[4:6] <= "59":
	default:
		return time.Time{}, false
	}
	if s[10] == 't' || s[len(s)-1] == 'z' {
		s = strings.ToUpper(s) // only t and z are letters in an RFC 3339 time
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC().Truncate(tick), true
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
