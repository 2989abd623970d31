package stream_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2/ocf"
	"github.com/klauspost/compress/gzip"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/capturetest"
)

// readMessages opens path (stdin for "-") and returns its messages joined
// by "|", the bytes read from it, and the first error.
func readMessages(path string, stdin io.Reader) (string, int64, error) {
	m, err := stream.OpenMessages(path, stdin)
	if err != nil {
		return "", 0, err
	}
	defer m.Close()
	var got []string
	for {
		msg, err := m.Next()
		if errors.Is(err, io.EOF) {
			return strings.Join(got, "|"), m.InputBytes(), nil
		}
		if err != nil {
			return "", 0, err
		}
		got = append(got, string(msg))
	}
}

// writeFile writes data to name in dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenMessagesDetectsTheFormatByContent(t *testing.T) {
	dir := t.TempDir()
	var zipped bytes.Buffer
	capture := capturetest.File(t, ocf.Deflate, 1, []byte(`{"a":1}`), []byte(`{"b":2}`))
	zw := gzip.NewWriter(&zipped)
	zw.Write(capture)
	zw.Close()
	tests := []struct {
		name string
		path string
		want string
	}{
		{"a capture file named .json", writeFile(t, dir, "capture.json", capture), `{"a":1}|{"b":2}`},
		{"a gzip-compressed capture file", writeFile(t, dir, "capture.avro.gz", zipped.Bytes()), `{"a":1}|{"b":2}`},
		{"json lines named .avro", writeFile(t, dir, "lines.avro", []byte("{\"a\":1}\n\n{\"b\":2}\r\n")), `{"a":1}||{"b":2}`},
		{"an empty capture file", writeFile(t, dir, "empty.avro", capturetest.File(t, ocf.Null, 0)), ``},
		{"an empty file", writeFile(t, dir, "empty", nil), ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, read, err := readMessages(tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("read %q, want %q", got, tt.want)
			}
			if info, _ := os.Stat(tt.path); read != info.Size() {
				t.Fatalf("InputBytes = %d after the whole file of %d bytes", read, info.Size())
			}
		})
	}
}

func TestOpenMessagesErrors(t *testing.T) {
	dir := t.TempDir()
	capture := capturetest.File(t, ocf.Null, 0, []byte(`{"a":1}`))
	cut := writeFile(t, dir, "cut.avro", capture[:len(capture)-8])
	garbage := writeFile(t, dir, "garbage.avro", []byte("Obj\x01garbage"))
	tests := []struct {
		name  string
		path  string
		stdin string
		want  string
	}{
		{"a missing file", filepath.Join(dir, "missing"), "", "open input: "},
		{"a file that only starts like Avro names the file", garbage, "", "open capture file " + garbage + ": "},
		{"a capture file cut short", cut, "", "avro block 1: "},
		{"a line over 16 MiB", "-", "{}\n" + strings.Repeat("x", 16<<20+1) + "\n", "line 2 is longer than 16777216 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readMessages(tt.path, strings.NewReader(tt.stdin))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
