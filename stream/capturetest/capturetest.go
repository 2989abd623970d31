// Package capturetest writes Event Hubs Capture files for tests. Import it
// only from _test files.
package capturetest

import (
	"bytes"
	"testing"

	"github.com/hamba/avro/v2/ocf"

	"github.com/ropcwatch/ropcwatch/stream"
)

// File returns a Capture file holding one event per body, compressed with
// codec, perBlock events to a block (zero: all in one block; no bodies: a
// header and no blocks, as Capture writes for a quiet interval). A nil body
// is written as null.
func File(t testing.TB, codec ocf.CodecName, perBlock int, bodies ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := ocf.NewEncoderWithSchema(stream.CaptureSchema, &buf, ocf.WithCodec(codec), ocf.WithBlockLength(max(perBlock, len(bodies), 1)))
	if err != nil {
		t.Fatalf("capture file: %v", err)
	}
	for i, b := range bodies {
		ev := stream.CaptureEvent{
			SequenceNumber:   int64(i),
			Offset:           "4294967296",
			EnqueuedTimeUtc:  "5/1/2026 10:00:00 AM",
			SystemProperties: map[string]any{"x-opt-sequence-number": int64(i), "x-opt-offset": "4294967296"},
			Properties:       map[string]any{"source": "test", "weight": 0.5, "blob": []byte{1, 2}, "none": nil},
			Body:             b,
		}
		if err := enc.Encode(ev); err != nil {
			t.Fatalf("capture file: event %d: %v", i, err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatalf("capture file: %v", err)
	}
	return buf.Bytes()
}
