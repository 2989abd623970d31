package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

// benchRecords is the size of the replayed stream: about 65 MB of
// diagnostic-settings envelopes, one per line, as `ropcwatch generate`
// writes them.
const benchRecords = 12800

// BenchmarkReplay measures `ropcwatch replay FILE` minus the disk: the
// stream is generated into memory first and read as stdin, then goes the
// whole replay path (format detection, lines and their copies, event times,
// the producer with replay's settings) into the test cluster: kfake, or the
// real broker named by ROPCWATCH_TEST_KAFKA. path=producer is the baseline
// in the same run: the same messages, already split, produced by a bare
// loop on a producer with the same settings. Compare the two with
//
//	benchstat -col /path
func BenchmarkReplay(b *testing.B) {
	target := kafkatest.Cluster(b)
	var data bytes.Buffer
	if _, err := synth.Generate(b.Context(), synth.Config{Records: benchRecords, Seed: 1}, &data); err != nil {
		b.Fatal(err)
	}
	in := data.Bytes()
	msgs := bytes.Split(bytes.TrimSuffix(in, []byte("\n")), []byte("\n"))
	// produceAll is the baseline: a bare loop over the messages.
	produceAll := func(b *testing.B, p *stream.Producer, topic string) {
		var failed atomicError
		for _, m := range msgs {
			p.Produce(b.Context(), stream.Record{Topic: topic, Value: m}, func(_ stream.Record, err error) {
				if err != nil {
					failed.Store(err)
				}
			})
		}
		flushed(b, p, &failed)
	}
	// newProducer returns a producer with replay's settings and a new topic,
	// both warmed by one untimed pass: the first records to a new topic wait
	// for its partitions' leaders, and a JVM broker runs cold at first.
	newProducer := func(b *testing.B) (*stream.Producer, string) {
		p, err := stream.NewProducer(replayProducerConfig(target.Config, 10*time.Millisecond, ""))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.Close)
		topic := kafkatest.NewTopic(b, target, 6)
		produceAll(b, p, topic)
		return p, topic
	}

	b.Run("path=producer", func(b *testing.B) {
		p, topic := newProducer(b)
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			produceAll(b, p, topic)
		}
	})
	b.Run("path=replay", func(b *testing.B) {
		p, topic := newProducer(b)
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			r := &replayer{e: env{stdin: bytes.NewReader(in)}, p: p, topic: topic, start: time.Now()}
			if err := r.file(b.Context(), "-"); err != nil {
				b.Fatal(err)
			}
			flushed(b, p, &r.err)
			if r.sent.Load() != int64(len(msgs)) {
				b.Fatalf("replayed %d messages of %d", r.sent.Load(), len(msgs))
			}
		}
	})
}

// flushed waits for every record in flight and fails on any produce error.
func flushed(b *testing.B, p *stream.Producer, failed *atomicError) {
	b.Helper()
	if err := p.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
}
