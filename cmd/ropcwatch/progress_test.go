package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestStatusBar(t *testing.T) {
	half := status{messages: 1000, bytes: 50e6, elapsed: 10 * time.Second, input: 500}
	huge := status{messages: 12345678, bytes: 123456789e3, elapsed: 100 * time.Second, input: 500}
	tests := []struct {
		name  string
		s     status
		total int64
		width int
		want  string
	}{
		{"half way with a known total", half, 1000, 0,
			"[==========          ]  50%  1000 messages  50.0 MB  100 msg/s  5.0 MB/s  ETA 10s"},
		{"an unknown total has no bar and no ETA", half, 0, 0,
			"1000 messages  50.0 MB  100 msg/s  5.0 MB/s"},
		{"the end", status{messages: 2000, bytes: 1e8, elapsed: 20 * time.Second, input: 1000}, 1000, 0,
			"[====================] 100%  2000 messages  100.0 MB  100 msg/s  5.0 MB/s  ETA 0s"},
		{"nothing read yet has no ETA", status{}, 1000, 0,
			"[                    ]   0%  0 messages  0.0 MB  0 msg/s  0.0 MB/s"},
		{"an 80-column terminal shrinks the bar", half, 1000, 80,
			"[=========         ]  50%  1000 messages  50.0 MB  100 msg/s  5.0 MB/s  ETA 10s"},
		{"big numbers leave no room for a bar", huge, 1000, 80,
			"50%  12345678 messages  123456.8 MB  123457 msg/s  1234.6 MB/s  ETA 1m40s"},
		{"a narrow terminal cuts the line before its last column", half, 0, 30,
			"1000 messages  50.0 MB  100 m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.bar(tt.total, tt.width); got != tt.want {
				t.Fatalf("bar\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestProgressPlainLinesWhenNotATerminal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		p := newProgress(&buf, 1000)
		if p.terminal {
			t.Fatal("a buffer is a terminal")
		}
		n := int64(0)
		stop := p.run(2*time.Second, func() status {
			n += 100
			return status{messages: n, bytes: n * 1000, elapsed: time.Duration(n/100) * 2 * time.Second, input: n}
		})
		time.Sleep(5 * time.Second)
		stop()
		want := "replaying: 100 messages, 0.1 MB in 2.0s (50 messages/s, 0.1 MB/s)\n" +
			"replaying: 200 messages, 0.2 MB in 4.0s (50 messages/s, 0.1 MB/s)\n"
		if buf.String() != want {
			t.Fatalf("wrote\n%q\nwant\n%q", buf.String(), want)
		}
	})
}

func TestProgressRedrawsOneTerminalLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		p := &progress{w: &buf, terminal: true, width: 80, total: 1000}
		stop := p.run(2*time.Second, func() status {
			return status{messages: 10, bytes: 1e6, elapsed: time.Second, input: 250}
		})
		time.Sleep(500 * time.Millisecond) // two redraws, 200ms apart, not one per 2s
		stop()
		line := "\r[=====               ]  25%  10 messages  1.0 MB  10 msg/s  1.0 MB/s  ETA 3s\x1b[K"
		if want := line + line + "\r\x1b[K"; buf.String() != want {
			t.Fatalf("wrote\n%q\nwant\n%q", buf.String(), want)
		}
		if strings.Contains(buf.String(), "\n") {
			t.Fatal("a terminal line must be redrawn in place, never followed by a newline")
		}
	})
}

func TestNewProgressOnAFileIsPlain(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if newProgress(f, 0).terminal {
		t.Fatal("a regular file is a terminal")
	}
}

func TestFilesSize(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, make([]byte, 10), 0o600)
	os.WriteFile(b, make([]byte, 5), 0o600)
	tests := []struct {
		name  string
		paths []string
		want  int64
	}{
		{"regular files add up", []string{a, b, a}, 25},
		{"stdin makes the total unknown", []string{a, "-"}, 0},
		{"a missing file makes the total unknown", []string{a, filepath.Join(dir, "missing")}, 0},
		{"a directory makes the total unknown", []string{dir}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := filesSize(tt.paths); got != tt.want {
				t.Fatalf("filesSize = %d, want %d", got, tt.want)
			}
		})
	}
}
