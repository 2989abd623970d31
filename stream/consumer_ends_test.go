package stream_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ropcwatch/ropcwatch/stream"
)

// A partition whose fetch fails must not look caught up: the failed fetch
// carries no end (its high watermark is zero), and a caller that compared
// its position with zero would think the partition had nothing more.
func TestPollReportsNoEndForAFailedFetch(t *testing.T) {
	ctx := testContext(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t"), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	kc := stream.KafkaConfig{Brokers: c.ListenAddrs()}
	p := newProducer(t, kc)
	if err := p.ProduceSync(ctx, stream.Record{Topic: "t", Partition: 0, Value: []byte("a")}, stream.Record{Topic: "t", Partition: 1, Value: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	// Every fetch of partition 1 fails with a non-retriable error; other
	// fetches go to the broker.
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		fr := req.(*kmsg.FetchRequest)
		resp := fr.ResponseKind().(*kmsg.FetchResponse)
		failed := false
		for _, rt := range fr.Topics {
			t := kmsg.NewFetchResponseTopic()
			t.Topic, t.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				p := kmsg.NewFetchResponseTopicPartition()
				p.Partition, p.ErrorCode, p.HighWatermark, p.LastStableOffset = rp.Partition, kerr.UnknownServerError.Code, 0, 0
				failed = failed || rp.Partition == 1
				t.Partitions = append(t.Partitions, p)
			}
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil, failed
	})
	cons := newConsumer(t, stream.ConsumerConfig{Kafka: kc, Topics: []string{"t"}, Group: "g"}, stream.PartitionHooks{})
	for range 20 {
		b, err := cons.Poll(ctx)
		if _, ok := b.Ends[stream.TopicPartition{Topic: "t", Partition: 1}]; ok {
			t.Fatalf("a failed fetch reported end %d (poll error %v)", b.Ends[stream.TopicPartition{Topic: "t", Partition: 1}], err)
		}
		if err != nil {
			return // the failure is reported, without an end
		}
		cons.AllowRebalance()
	}
	t.Fatal("the failing partition's error never came back from Poll")
}
