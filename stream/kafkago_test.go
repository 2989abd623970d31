package stream_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

// TestAnotherClientReadsWhatTheProducerWrote reads with segmentio/kafka-go, an
// independent implementation of the protocol and of lz4, so a bug shared by
// our producer and franz-go's consumer cannot hide.
func TestAnotherClientReadsWhatTheProducerWrote(t *testing.T) {
	ctx := testContext(t)
	tgt := target(t)
	topic := kafkatest.NewTopic(t, tgt, 1)
	p := newProducer(t, tgt.Config)

	var want []stream.Record
	for i := range 20 {
		want = append(want, stream.Record{
			Topic:   topic,
			Key:     fmt.Appendf(nil, "alice@contoso.com-%d", i),
			Value:   append(bytes.Repeat([]byte(`{"category":"NonInteractiveUserSignInLogs"}`), 50), byte(i), 0xfe),
			Headers: []stream.Header{{Key: "content-type", Value: []byte("application/json")}, {Key: "bin", Value: []byte{0, 1, 0xff}}},
		})
	}
	if err := p.ProduceSync(ctx, want...); err != nil {
		t.Fatalf("ProduceSync: %v", err)
	}

	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: tgt.Brokers, Topic: topic, Partition: 0, MaxBytes: 10 << 20, MaxWait: 200 * time.Millisecond})
	t.Cleanup(func() { _ = r.Close() })
	for i, w := range want {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go ReadMessage %d: %v", i, err)
		}
		if m.Offset != int64(i) || !bytes.Equal(m.Key, w.Key) || !bytes.Equal(m.Value, w.Value) {
			t.Errorf("message %d: offset %d key %q value %d bytes; want offset %d key %q value %d bytes", i, m.Offset, m.Key, len(m.Value), i, w.Key, len(w.Value))
		}
		if len(m.Headers) != len(w.Headers) {
			t.Fatalf("message %d: %d headers, want %d", i, len(m.Headers), len(w.Headers))
		}
		for j, h := range m.Headers {
			if h.Key != w.Headers[j].Key || !bytes.Equal(h.Value, w.Headers[j].Value) {
				t.Errorf("message %d header %d = %s:%q, want %s:%q", i, j, h.Key, h.Value, w.Headers[j].Key, w.Headers[j].Value)
			}
		}
	}
}
