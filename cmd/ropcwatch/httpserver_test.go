package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
)

func TestReadinessTransitions(t *testing.T) {
	reg, m, _, _ := newRegistry()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := serveOps(ctx, addr, reg, m, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	status := func(path string) int {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("/readyz"); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before any assignment = %d, want 503", got)
	}
	if got := status("/healthz"); got != http.StatusOK {
		t.Fatalf("/healthz = %d", got)
	}
	m.SetReady(true)
	if got := status("/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz once assigned = %d, want 200", got)
	}
	m.SetReady(false)
	if got := status("/readyz"); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while shutting down = %d, want 503", got)
	}
}
