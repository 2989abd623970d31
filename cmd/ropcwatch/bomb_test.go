package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

// bombLimit is the memory a pod of the Kubernetes manifest may use less
// its headroom: the nesting bombs must pass through within it.
const bombLimit = 128 << 20

// nestingBomb is a candidate message of size bytes that nests arrays as
// deep as it can: what made the JSON validator recurse by a stack frame a
// byte.
func nestingBomb(size int) []byte {
	head := `{"AuthenticationProtocol":"ropc","x":`
	return []byte(head + strings.Repeat("[", size-len(head)-1) + "}")
}

// peakRSS is the most memory the finished process held, from its rusage
// (kilobytes on Linux).
func peakRSS(t *testing.T, cmd *exec.Cmd) int64 {
	t.Helper()
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no rusage on this platform")
	}
	return ru.Maxrss << 10
}

// TestNestingBombsStayWithinMemory feeds sixteen 1 MB nesting bombs to
// detect with eight workers and sixteen of 900 KB to run, each under GOMEMLIMIT=128MiB, and
// wants every one dead-lettered as too-deep with the process's peak memory
// under 128 MiB. Before the depth bound, 16 such lines took 638 MB.
func TestNestingBombsStayWithinMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	bomb := nestingBomb(1_000_000)
	env := append(os.Environ(), "GOMEMLIMIT=128MiB")
	t.Run("detect", func(t *testing.T) {
		input := filepath.Join(t.TempDir(), "bombs.jsonl")
		if err := os.WriteFile(input, bytes.Repeat(append(bomb, '\n'), 16), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "detect", "--input", input, "--workers", "8", "--output", os.DevNull)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != exitRejected || !strings.Contains(string(out), "rejected too-deep: 16") {
			t.Fatalf("detect: %v\n%s", err, out)
		}
		if rss := peakRSS(t, cmd); rss > bombLimit {
			t.Fatalf("detect peaked at %d MiB, over %d MiB", rss>>20, bombLimit>>20)
		} else {
			t.Logf("detect peaked at %d MiB", rss>>20)
		}
	})
	t.Run("run", func(t *testing.T) {
		target := kafkatest.Cluster(t)
		signins, alerts, dead := kafkatest.NewTopic(t, target, 2), kafkatest.NewTopic(t, target, 1), kafkatest.NewTopic(t, target, 1)
		p, err := stream.NewProducer(stream.ProducerConfig{Kafka: target.Config})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		ctx := context.Background()
		// A record of a whole megabyte does not fit a broker's default
		// max.message.bytes with its batch around it.
		small := nestingBomb(900_000)
		for i := range 16 {
			if err := p.ProduceSync(ctx, stream.Record{Topic: signins, Partition: int32(i % 2), Value: small}); err != nil {
				t.Fatal(err)
			}
		}
		var logs bytes.Buffer
		cmd := exec.Command(bin, "run", "--brokers", strings.Join(target.Brokers, ","), "--topic", signins,
			"--alerts-topic", alerts, "--dead-letter-topic", dead, "--group", "bombs-"+signins, "--metrics-addr", "")
		cmd.Env, cmd.Stdout, cmd.Stderr = env, &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c, err := stream.NewConsumer(stream.ConsumerConfig{Kafka: target.Config, Topics: []string{dead}, Group: "bombs-reader-" + signins}, stream.PartitionHooks{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		for n := 0; n < 16; {
			b, err := c.Poll(pctx)
			if err != nil {
				cmd.Process.Kill()
				t.Fatalf("%d of 16 dead letters: %v\n%s", n, err, logs.String())
			}
			for _, r := range b.Records {
				for _, h := range r.Headers {
					if h.Key == stream.HeaderDLQReason && string(h.Value) != "too-deep" {
						t.Fatalf("dead letter %q, want too-deep", h.Value)
					}
				}
				n++
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run: %v\n%s", err, logs.String())
		}
		if rss := peakRSS(t, cmd); rss > bombLimit {
			t.Fatalf("run peaked at %d MiB, over %d MiB", rss>>20, bombLimit>>20)
		} else {
			t.Logf("run peaked at %d MiB", rss>>20)
		}
	})
}
