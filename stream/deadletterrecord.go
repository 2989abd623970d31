package stream

import "strconv"

// Dead-letter record header keys (SPEC section 7).
const (
	HeaderDLQReason    = "dlq-reason"
	HeaderDLQDetail    = "dlq-detail"
	HeaderDLQTopic     = "dlq-topic"
	HeaderDLQPartition = "dlq-partition"
	HeaderDLQOffset    = "dlq-offset"
	// HeaderDLQSize and HeaderDLQTruncated are added only when dl.Truncated:
	// the value then holds the head of a larger message.
	HeaderDLQSize      = "dlq-size"
	HeaderDLQTruncated = "dlq-truncated"
)

// DeadLetterRecord builds the record for topic that carries dl: the value is
// the original bytes, the key is nil, and headers give the reason, detail,
// source topic (dl.Source), partition and offset (dl.Position) in decimal.
// The detail is made safe for display (SafeText); the value is never
// changed: it is the evidence.
func DeadLetterRecord(topic string, dl DeadLetter) Record {
	h := []Header{
		{HeaderDLQReason, []byte(dl.Reason)},
		{HeaderDLQDetail, []byte(SafeText(dl.Detail))},
		{HeaderDLQTopic, []byte(dl.Source)},
		{HeaderDLQPartition, strconv.AppendInt(nil, int64(dl.Partition), 10)},
		{HeaderDLQOffset, strconv.AppendInt(nil, dl.Position, 10)},
	}
	if dl.Truncated {
		h = append(h,
			Header{HeaderDLQSize, strconv.AppendInt(nil, dl.Size, 10)},
			Header{HeaderDLQTruncated, []byte("true")},
		)
	}
	return Record{Topic: topic, Value: dl.Raw, Headers: h}
}
