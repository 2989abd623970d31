package detector

import (
	"bytes"
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
	t, err := time.Parse(time.RFC3339Nano, string(v[:end]))
	return t, end, err == nil
}
