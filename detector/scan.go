package detector

import (
	"fmt"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/ropcwatch/ropcwatch/stream"
)

// Scanner evaluates raw messages: it checks their framing, prefilters them,
// decodes candidate records and matches them against the rule. It holds no
// mutable state, so many goroutines may share one.
type Scanner struct {
	Rule      *Rule
	Allowlist *NetworkAllowlist
	// FullDecode decodes every record, skipping the prefilter: slower, but
	// every record is schema-checked and counted by category.
	FullDecode bool
	// MaxMessageBytes rejects longer messages as too-large; zero means no
	// limit.
	MaxMessageBytes int
}

// Findings collects what scanning produced. Events own their strings;
// Rejected raw bytes alias the scanned message: write or copy them before
// the message buffer is reused.
type Findings struct {
	Events   []SignIn
	Rejected []Rejected
	Stats    Stats
}

// Rejected is a rejected message or record with its raw bytes.
type Rejected struct {
	Reject
	Raw []byte
	// Message is the 0-based index of the message within the scanned batch.
	Message int
}

// Reset empties f for reuse, keeping its capacity.
func (f *Findings) Reset() {
	f.Events = f.Events[:0]
	f.Rejected = f.Rejected[:0]
	f.Stats = Stats{}
}

// Scan evaluates one message (one Kafka record or one line of a file) and
// adds its qualifying sign-ins, rejects and counts to f. index identifies the
// message in f.Rejected. Blank messages are ignored. The JSON whitespace
// around a message does not count towards MaxMessageBytes, so a line's
// terminator never decides its fate.
func (sc *Scanner) Scan(msg []byte, index int, f *Findings) {
	msg = stream.TrimMessage(msg)
	if len(msg) == 0 {
		return
	}
	f.Stats.Messages++
	f.Stats.Bytes += int64(len(msg))
	if sc.MaxMessageBytes > 0 && len(msg) > sc.MaxMessageBytes {
		sc.rejectMessage(msg, index, tooLarge(int64(len(msg)), sc.MaxMessageBytes), f)
		return
	}
	if rej := frame(msg); rej != nil {
		sc.rejectMessage(msg, index, rej, f)
		return
	}
	if !sc.FullDecode && !mayMatch(msg) {
		f.Stats.Prefiltered++
		return
	}
	// The depth check comes first: it bounds the recursion of the JSON
	// validator, which would otherwise follow a nesting bomb down.
	if tooDeep(msg) {
		sc.rejectMessage(msg, index, &Reject{Reason: ReasonTooDeep, Detail: fmt.Sprintf("objects and arrays nest deeper than %d", maxDepth)}, f)
		return
	}
	if !gjson.ValidBytes(msg) {
		sc.rejectMessage(msg, index, &Reject{Reason: ReasonInvalidJSON, Detail: "not valid JSON"}, f)
		return
	}
	// Parse msg in place: gjson results alias it, so whatever outlives the
	// message (qualifying sign-ins) is copied in record.
	root := gjson.Parse(unsafe.String(unsafe.SliceData(msg), len(msg)))
	records, rej := member(root, "message", "records")
	if rej != nil {
		sc.rejectMessage(msg, index, rej, f)
		return
	}
	if !records.Exists() {
		sc.record(root, msg, index, f)
		return
	}
	if !records.IsArray() {
		sc.rejectMessage(msg, index, &Reject{Reason: ReasonWrongType + "records", Detail: "records is a JSON " + typeName(records) + ", want an array"}, f)
		return
	}
	records.ForEach(func(_, rec gjson.Result) bool {
		raw := unsafe.Slice(unsafe.StringData(rec.Raw), len(rec.Raw))
		if rec.IsObject() && !sc.FullDecode && !mayMatch(raw) {
			f.Stats.PrefilteredRecords++
			return true
		}
		sc.record(rec, raw, index, f)
		return true
	})
}

// frame checks what every message must be, decoded or not: valid UTF-8 and
// one JSON object. It is cheap enough to run on every byte of input.
func frame(msg []byte) *Reject {
	if !utf8.Valid(msg) {
		return &Reject{Reason: ReasonInvalidUTF8, Detail: "message is not valid UTF-8"}
	}
	if msg[0] != '{' {
		return &Reject{Reason: ReasonNotObject, Detail: "message is not a JSON object"}
	}
	if msg[len(msg)-1] != '}' {
		return &Reject{Reason: ReasonInvalidJSON, Detail: "message is truncated: it does not end with '}'"}
	}
	return nil
}

// tooLarge rejects a message of size bytes, the same way whoever found it.
func tooLarge(size int64, limit int) *Reject {
	return &Reject{Reason: ReasonTooLarge, Detail: fmt.Sprintf("message of %d bytes exceeds the limit of %d", size, limit)}
}

func (sc *Scanner) rejectMessage(msg []byte, index int, rej *Reject, f *Findings) {
	f.Stats.RejectedMessages++
	f.Stats.reject(rej.Reason, 1)
	f.Rejected = append(f.Rejected, Rejected{Reject: *rej, Raw: msg, Message: index})
}

// record decodes and evaluates one record. raw is its text, for rejects.
func (sc *Scanner) record(rec gjson.Result, raw []byte, index int, f *Findings) {
	f.Stats.Records++
	var s SignIn
	category, evaluate, rej := decodeRecord(rec, &s)
	switch {
	case rej != nil:
		f.Stats.reject(rej.Reason, 1)
		f.Rejected = append(f.Rejected, Rejected{Reject: *rej, Raw: raw, Message: index})
	case !evaluate:
		// category aliases the message buffer.
		f.Stats.skip(strings.Clone(category), 1)
	default:
		f.Stats.Evaluated++
		v := sc.Rule.Match(&s, sc.Allowlist)
		f.Stats.Verdicts[v]++
		if v == Match {
			f.Events = append(f.Events, s.clone())
		}
	}
}
