package stream

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// WithFastGroup shortens group timings so rebalance tests take
// milliseconds instead of the production heartbeat interval of seconds.
func WithFastGroup(cfg ConsumerConfig) ConsumerConfig {
	cfg.extra = append(cfg.extra,
		kgo.HeartbeatInterval(100*time.Millisecond),
		kgo.SessionTimeout(6*time.Second), // kfake's and Kafka's minimum
		kgo.RebalanceTimeout(10*time.Second),
	)
	return cfg
}
