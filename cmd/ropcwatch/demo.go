package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"golang.org/x/sync/errgroup"

	"github.com/ropcwatch/ropcwatch/detector"
	"github.com/ropcwatch/ropcwatch/detector/synth"
	"github.com/ropcwatch/ropcwatch/stream"
)

// Demo topics on the in-process broker.
const (
	demoSignins   = "signins"
	demoAlerts    = "ropc-alerts"
	demoIncidents = "ropc-incidents"
	demoDead      = "ropc-dead-letters"
)

// runDemo is `ropcwatch demo`: the whole pipeline in one process on a demo
// broker (kfake, an in-process Kafka-compatible broker made for tests, not
// for production): generated sign-ins of the last 70 minutes with attacks
// are produced, the detector consumes them, and alerts are printed as they
// arrive on the alerts topic.
func runDemo(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	records := fs.Int("records", 30000, "sign-in records to generate")
	seed := fs.Uint64("seed", 1, "generator seed")
	duration := fs.Duration("duration", 15*time.Second, "how long to run before stopping")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if err := demo(ctx, e, *records, *seed, *duration); err != nil {
		fmt.Fprintf(e.stderr, "ropcwatch demo: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func demo(ctx context.Context, e env, records int, seed uint64, duration time.Duration) error {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, demoSignins), kfake.SeedTopics(1, demoAlerts, demoIncidents, demoDead))
	if err != nil {
		return fmt.Errorf("start demo broker: %w", err)
	}
	defer cluster.Close()
	kcfg := stream.KafkaConfig{Brokers: cluster.ListenAddrs(), ClientID: "ropcwatch-demo"}
	fmt.Fprintf(e.stdout, "demo broker (in-process kfake, not for production) at %s\n", strings.Join(kcfg.Brokers, ","))

	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return demoProduce(ctx, e, kcfg, records, seed) })
	g.Go(func() error {
		// Scaled out, as run is by default: the internal topics are created
		// on the demo broker.
		repartition, state := detector.ScaleTopics("ropcwatch-demo")
		err := detector.RunService(ctx, detector.ServiceConfig{
			Scale:       &detector.ScaleConfig{RepartitionTopic: repartition, StateTopic: state, CreateTopics: true},
			Live:        detector.LiveConfig{Rule: detector.SeedRule(), Lateness: time.Minute, IdleTimeout: 5 * time.Second, UpdateInterval: 10 * time.Minute},
			Consumer:    stream.ConsumerConfig{Kafka: kcfg, Topics: []string{demoSignins}, Group: "ropcwatch-demo"},
			Producer:    stream.ProducerConfig{Kafka: kcfg, Linger: time.Millisecond},
			AlertsTopic: demoAlerts, IncidentsTopic: demoIncidents, DeadLetterTopic: demoDead,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		return err
	})
	g.Go(func() error { return demoPrint(ctx, e, kcfg) })
	err = g.Wait()
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = nil
	}
	fmt.Fprintf(e.stdout, "demo stopped after %s\n", duration)
	return err
}

// demoProduce replays generated sign-ins of the last 70 minutes, as Entra
// ID diagnostic settings send them.
func demoProduce(ctx context.Context, e env, kcfg stream.KafkaConfig, records int, seed uint64) error {
	p, err := stream.NewProducer(stream.ProducerConfig{Kafka: kcfg})
	if err != nil {
		return err
	}
	defer p.Close()
	span := 70 * time.Minute
	r := &replayer{e: e, p: p, topic: demoSignins, start: time.Now()}
	truth, err := r.generated(ctx, synth.Config{
		Records: records, Seed: seed, ROPCRate: 0.01,
		Start: time.Now().UTC().Add(-span), Rate: float64(records) / span.Seconds(),
	})
	if err == nil {
		err = p.Flush(ctx)
	}
	if err == nil {
		err = r.err.Load()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "produced %d messages (%d sign-ins, %d of them qualifying ROPC) to %q\n", r.sent.Load(), records, truth.Stats.Qualifying, demoSignins)
	return nil
}

// demoPrint reads the alerts topic as a downstream consumer would.
func demoPrint(ctx context.Context, e env, kcfg stream.KafkaConfig) error {
	c, err := stream.NewConsumer(stream.ConsumerConfig{Kafka: kcfg, Topics: []string{demoAlerts}, Group: "demo-printer"}, stream.PartitionHooks{})
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	for {
		b, err := c.Poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		for _, r := range b.Records {
			var a struct {
				Status    string
				Revision  int
				WindowEnd string
				Result    struct {
					UserPrincipalName    string
					Count                int
					IPs, Countries, Apps []string
				}
			}
			if err := json.Unmarshal(r.Value, &a); err != nil {
				return fmt.Errorf("alert at offset %d: %w", r.Offset, err)
			}
			fmt.Fprintf(e.stdout, "%-7s rev %-2d window ending %s  %-34q %3d sign-ins  IPs %s  countries %s\n",
				a.Status, a.Revision, a.WindowEnd[:16], a.Result.UserPrincipalName, a.Result.Count,
				strings.Join(a.Result.IPs, ","), strings.Join(a.Result.Countries, ","))
		}
		c.AllowRebalance()
	}
}
