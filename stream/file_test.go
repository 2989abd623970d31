package stream

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

func TestOpenInputDetectsGzipByContent(t *testing.T) {
	dir := t.TempDir()
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte("{\"a\":1}\n"))
	zw.Close()
	plain := filepath.Join(dir, "plain.gz") // a misleading name: content decides
	os.WriteFile(plain, []byte("{\"b\":2}\n"), 0o600)
	packed := filepath.Join(dir, "packed.jsonl")
	os.WriteFile(packed, zipped.Bytes(), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)

	tests := []struct{ name, path, want string }{
		{"plain text named .gz is read as is", plain, "{\"b\":2}\n"},
		{"gzip content is decompressed", packed, "{\"a\":1}\n"},
		{"an empty file is empty", empty, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := OpenInput(tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil || string(got) != tt.want {
				t.Fatalf("read %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	r, err := OpenInput("-", strings.NewReader("stdin\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); string(got) != "stdin\n" {
		t.Fatalf("stdin read %q", got)
	}
	if _, err := OpenInput(filepath.Join(dir, "missing"), nil); err == nil {
		t.Fatal("a missing file opened")
	}
}

func TestDeadLetterFile(t *testing.T) {
	var buf bytes.Buffer
	d := NewDeadLetterFile(&buf)
	d.Write(DeadLetter{Reason: "invalid-json", Detail: "d", Source: "in.jsonl", Position: 3, Raw: []byte(`{"a":`), Size: 5})
	d.Write(DeadLetter{Reason: "invalid-utf8", Source: "in.jsonl", Position: 4, Raw: []byte{0xff, '{'}, Size: 2})
	d.Flush()
	want := `{"reason":"invalid-json","detail":"d","source":"in.jsonl","line":3,"size":5,"record":"{\"a\":"}` + "\n" +
		`{"reason":"invalid-utf8","source":"in.jsonl","line":4,"size":2,"record_base64":"/3s="}` + "\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}
