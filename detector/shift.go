package detector

import (
	"bytes"
	"time"
)

// shiftKeys are the timestamp keys of sign-in records that a replay
// rewrites together, so that the columns stay consistent.
var shiftKeys = [][]byte{[]byte(`"time":"`), []byte(`"createdDateTime":"`), []byte(`"TimeGenerated":"`)}

// EventTime returns the event time of a message's first record, read from
// its raw bytes (see rawEventTime), for pacing replays by event time.
func EventTime(msg []byte) (time.Time, bool) { return rawEventTime(msg) }

// ShiftTimes returns msg with every time, createdDateTime and
// TimeGenerated value moved by d, so that recorded sign-ins fall into live
// windows. Values keep their zone style (Z or an offset) and gain seven
// fractional digits; a value that does not parse is left as it is.
func ShiftTimes(msg []byte, d time.Duration) []byte {
	out := make([]byte, 0, len(msg)+64)
	for rest := msg; ; {
		i, key := nextShiftKey(rest)
		if i < 0 {
			return append(out, rest...)
		}
		start := i + len(key)
		out = append(out, rest[:start]...)
		rest = rest[start:]
		t, end, ok := timeValue(rest)
		if !ok {
			continue
		}
		layout := "2006-01-02T15:04:05.0000000Z07:00"
		if rest[end-1] != 'Z' {
			layout = "2006-01-02T15:04:05.0000000-07:00"
		}
		out = t.Add(d).AppendFormat(out, layout)
		rest = rest[end:]
	}
}

// nextShiftKey finds the first shift key in b.
func nextShiftKey(b []byte) (int, []byte) {
	best, key := -1, []byte(nil)
	for _, k := range shiftKeys {
		if i := bytes.Index(b, k); i >= 0 && (best < 0 || i < best) {
			best, key = i, k
		}
	}
	return best, key
}
