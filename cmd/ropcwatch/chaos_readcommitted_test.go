package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	fetchapi "github.com/segmentio/kafka-go/protocol/fetch"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

// readCommitted reads one partition from its first offset up to its last
// stable offset as a read_committed consumer does: records of aborted
// transactions and the markers that end transactions are left out.
// kafka-go's Reader does neither (v0.4.51 with IsolationLevel ReadCommitted
// returns both), so this reads kafka-go's protocol layer and applies the
// consumer side of KIP-98 itself: a transactional batch is dropped when its
// producer has an aborted transaction that began at or before the batch and
// whose abort marker has not been passed yet.
func readCommitted(ctx context.Context, tr *kafkago.Transport, addr net.Addr, topic string, partition int32, fn func(alertRecord) error) error {
	var (
		offset  int64
		known   = map[fetchapi.ResponseTransaction]bool{}
		pending []fetchapi.ResponseTransaction // aborted transactions not reached yet
		aborted = map[int64]bool{}             // producers inside an aborted transaction
	)
	reach := func(base int64) {
		for len(pending) > 0 && pending[0].FirstOffset <= base {
			aborted[pending[0].ProducerID] = true
			pending = pending[1:]
		}
	}
	for {
		msg, err := tr.RoundTrip(ctx, addr, &fetchapi.Request{
			ReplicaID: -1, MaxWaitTime: 100, MinBytes: 1, MaxBytes: 16 << 20, IsolationLevel: 1,
			SessionID: -1, SessionEpoch: -1,
			Topics: []fetchapi.RequestTopic{{Topic: topic, Partitions: []fetchapi.RequestPartition{{
				Partition: partition, CurrentLeaderEpoch: -1, FetchOffset: offset, LogStartOffset: -1, PartitionMaxBytes: 16 << 20,
			}}}},
		})
		if err != nil {
			return fmt.Errorf("fetch partition %d at offset %d: %w", partition, offset, err)
		}
		res := msg.(*fetchapi.Response)
		if len(res.Topics) != 1 || len(res.Topics[0].Partitions) != 1 {
			return fmt.Errorf("fetch partition %d: a response for %d topics", partition, len(res.Topics))
		}
		p := res.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			return fmt.Errorf("fetch partition %d at offset %d: %w", partition, offset, kafkago.Error(p.ErrorCode))
		}
		stable := p.LastStableOffset
		if offset >= stable {
			return nil
		}
		for _, a := range p.AbortedTransactions {
			if !known[a] {
				known[a] = true
				pending = append(pending, a)
			}
		}
		slices.SortFunc(pending, func(a, b fetchapi.ResponseTransaction) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
		next := offset
		for _, batch := range batches(p.RecordSet.Records) {
			switch b := batch.(type) {
			case *protocol.ControlBatch:
				reach(b.BaseOffset)
				for {
					cr, err := b.ReadControlRecord()
					if errors.Is(err, io.EOF) {
						break
					} else if err != nil {
						return fmt.Errorf("partition %d: control record: %w", partition, err)
					}
					if cr.Type == 0 { // abort
						delete(aborted, b.ProducerID)
					}
					next = max(next, cr.Offset+1)
				}
			case *protocol.RecordBatch:
				reach(b.BaseOffset)
				drop := b.Attributes.Transactional() && aborted[b.ProducerID]
				for {
					r, err := b.ReadRecord()
					if errors.Is(err, io.EOF) {
						break
					} else if err != nil {
						return fmt.Errorf("partition %d: record: %w", partition, err)
					}
					rec, err := readRecord(r, partition)
					if err != nil {
						return err
					}
					next = max(next, r.Offset+1)
					if drop || r.Offset < offset || r.Offset >= stable {
						continue
					}
					if err := fn(rec); err != nil {
						return err
					}
				}
			default:
				return fmt.Errorf("partition %d: record set of version 0 or 1 (%T)", partition, batch)
			}
		}
		offset = next
	}
}

// batches returns the record batches of a fetched record set, in order.
func batches(rr protocol.RecordReader) []protocol.RecordReader {
	switch s := rr.(type) {
	case nil:
		return nil
	case *protocol.RecordStream:
		return s.Records
	}
	return []protocol.RecordReader{rr}
}

func readRecord(r *protocol.Record, partition int32) (alertRecord, error) {
	rec := alertRecord{Partition: partition, Offset: r.Offset, Headers: r.Headers}
	var err error
	if r.Key != nil {
		rec.Key, err = protocol.ReadAll(r.Key)
		r.Key.Close()
	}
	if r.Value != nil && err == nil {
		rec.Value, err = protocol.ReadAll(r.Value)
		r.Value.Close()
	}
	if err != nil {
		return rec, fmt.Errorf("partition %d offset %d: %w", partition, r.Offset, err)
	}
	return rec, nil
}

// TestReadCommittedSkipsAbortedTransactions checks the chaos tests' reader:
// two transactional producers interleave committed and aborted
// transactions with a plain producer, and only what was committed (and the
// plain records) comes back, in offset order, without transaction markers.
func TestReadCommittedSkipsAbortedTransactions(t *testing.T) {
	target := kafkatest.Cluster(t)
	topic := kafkatest.NewTopic(t, target, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := func(opts ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(target.Brokers...), kgo.DefaultProduceTopic(topic)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	a, b := client(kgo.TransactionalID(topic+"-a")), client(kgo.TransactionalID(topic+"-b"))
	plain := client()
	produce := func(cl *kgo.Client, values ...string) {
		for _, v := range values {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	begin := func(cl *kgo.Client) {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
	}
	end := func(cl *kgo.Client, commit bool) {
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	begin(a)
	produce(a, "a1")
	begin(b)
	produce(b, "b-aborted-1")
	produce(plain, "p1")
	produce(a, "a2")
	produce(b, "b-aborted-2")
	end(a, true)
	end(b, false)
	begin(b)
	produce(b, "b1")
	begin(a)
	produce(a, "a-aborted")
	end(b, true)
	end(a, false)
	produce(plain, "p2")

	tr := &kafkago.Transport{}
	defer tr.CloseIdleConnections()
	var got []string
	err := readCommitted(ctx, tr, kafkago.TCP(target.Brokers...), topic, 0, func(r alertRecord) error {
		got = append(got, string(r.Value))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a1", "p1", "a2", "b1", "p2"}; !slices.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
}
