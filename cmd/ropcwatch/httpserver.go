package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/ropcwatch/ropcwatch/detector"
)

// serveOps serves /metrics, /healthz and /readyz on addr until ctx is
// done. It returns once the listener is up, or with the error that kept it
// from starting.
func serveOps(ctx context.Context, addr string, reg *prometheus.Registry, m *detector.Metrics, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !m.Ready() {
			http.Error(w, "not ready: no partitions assigned yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	log.Info("serving metrics and health", "addr", ln.Addr().String())
	return nil
}

// newRegistry returns a registry with the detector's metrics, the Go
// runtime and process collectors, and franz-go kprom hooks that add the
// Kafka clients' own metrics to it: ropcwatch_kafka_consumer_* and
// ropcwatch_kafka_producer_* (one kprom collector serves one client).
func newRegistry() (reg *prometheus.Registry, m *detector.Metrics, consumer, producer kgo.Hook) {
	reg = prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, detector.NewMetrics(reg),
		kprom.NewMetrics("ropcwatch", kprom.Subsystem("kafka_consumer"), kprom.Registry(reg)),
		kprom.NewMetrics("ropcwatch", kprom.Subsystem("kafka_producer"), kprom.Registry(reg))
}
