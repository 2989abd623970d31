package stream_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/hamba/avro/v2/ocf"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/capturetest"
)

// readCapture returns every body of file, or the first error.
func readCapture(file []byte) ([]string, error) {
	c, err := stream.NewCaptureReader(bytes.NewReader(file))
	if err != nil {
		return nil, err
	}
	var got []string
	for {
		b, err := c.Next()
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, string(b))
	}
}

func TestCaptureReader(t *testing.T) {
	envelope := []byte(`{"records":[{"category":"NonInteractiveUserSignInLogs","time":"2026-05-01T10:00:00.1234567Z"}]}`)
	big := bytes.Repeat([]byte("x"), 3<<10) // longer than the decoder's small-value slab
	tests := []struct {
		name     string
		codec    ocf.CodecName
		perBlock int
		bodies   [][]byte
		want     []string
	}{
		{"one block, bodies unchanged", ocf.Null, 0, [][]byte{envelope, []byte("{\n \"pretty\": 1\n}")},
			[]string{string(envelope), "{\n \"pretty\": 1\n}"}},
		{"many blocks", ocf.Null, 2, [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("e")},
			[]string{"a", "b", "c", "d", "e"}},
		{"a null body is an empty message", ocf.Null, 0, [][]byte{[]byte("a"), nil, []byte("c")},
			[]string{"a", "", "c"}},
		{"deflate blocks", ocf.Deflate, 2, [][]byte{envelope, big, envelope}, []string{string(envelope), string(big), string(envelope)}},
		{"snappy blocks", ocf.Snappy, 2, [][]byte{envelope, big, envelope}, []string{string(envelope), string(big), string(envelope)}},
		{"a file of a header and no blocks has no events", ocf.Deflate, 0, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readCapture(capturetest.File(t, tt.codec, tt.perBlock, tt.bodies...))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Fatalf("read %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCaptureReaderBodiesAreTheCallers(t *testing.T) {
	c, err := stream.NewCaptureReader(bytes.NewReader(capturetest.File(t, ocf.Null, 2, []byte("first"), []byte("second"), []byte("third"))))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := c.Next()
	if cap(first) != len(first) {
		t.Fatalf("a body of %d bytes has capacity %d: appending to it would overwrite the next", len(first), cap(first))
	}
	_ = append(first, "!!!"...)
	for _, want := range []string{"second", "third"} { // the third is in the next block
		if b, err := c.Next(); err != nil || string(b) != want {
			t.Fatalf("Next = %q, %v; want %q", b, err, want)
		}
	}
	if string(first) != "first" {
		t.Fatalf("the first body became %q after reading on", first)
	}
}

func TestCaptureReaderRejectsCorruptFiles(t *testing.T) {
	good := capturetest.File(t, ocf.Null, 0, []byte("a"), []byte("b"))
	empty := capturetest.File(t, ocf.Null, 0)
	headerLen := len(empty)
	// block returns the empty file plus one block of count events: data,
	// then the header's sync marker, which ends it.
	block := func(count int64, data ...byte) []byte {
		b := binary.AppendVarint(bytes.Clone(empty), count) // Avro longs are zig-zag varints
		b = append(binary.AppendVarint(b, int64(len(data))), data...)
		return append(b, empty[headerLen-16:]...)
	}
	long := func(v int64) []byte { return binary.AppendVarint(nil, v) }
	// An event up to its Body: SequenceNumber 0, Offset "", EnqueuedTimeUtc
	// "", two empty maps.
	head := []byte{0, 0, 0, 0, 0}
	notCapture := func() []byte {
		var buf bytes.Buffer
		enc, err := ocf.NewEncoder(`{"type":"record","name":"R","fields":[{"name":"Data","type":"bytes"}]}`, &buf)
		if err != nil {
			t.Fatal(err)
		}
		enc.Close()
		return buf.Bytes()
	}()
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"not avro", []byte(`{"records":[]}`), "not an Avro object container file"},
		{"a header cut short", empty[:headerLen-5], "unexpected EOF"},
		{"a schema without a Body of bytes", notCapture, "not an Event Hubs Capture file"},
		{"a codec beyond null, deflate and snappy", capturetest.File(t, ocf.ZStandard, 0), `avro codec "zstandard" is not supported`},
		{"a block cut short", good[:len(good)-20], "avro block 1: "},
		{"a wrong sync marker", append(good[:len(good)-1:len(good)-1], good[len(good)-1]^0xff), "sync marker differs"},
		{"a negative block size", append(bytes.Clone(empty), slices.Concat(long(1), long(-3))...), "avro block 1: negative event count 1 or size -3"},
		{"a block size beyond the file", append(bytes.Clone(empty), slices.Concat(long(1), long(1<<40))...), "unexpected EOF"},
		{"more events than the block holds", withByte(good, headerLen, 6), "avro block 1 event 3: unexpected EOF"},
		{"a map naming more entries than the block holds", block(1, slices.Concat([]byte{0, 0, 0}, long(1<<60))...), "avro block 1 event 1: unexpected EOF"},
		{"a body longer than 16 MiB, the longest message", block(1, slices.Concat(head, long(1), long(16<<20+1))...), "avro block 1 event 1: Body: avro: ReadBYTES: size is greater than"},
		{"a body whose union branch does not exist", block(1, slices.Concat(head, long(7))...), "avro block 1 event 1: Body: avro: decode union type: unknown union type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readCapture(tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// withByte returns a copy of b with b[i] set to v.
func withByte(b []byte, i int, v byte) []byte {
	b = bytes.Clone(b)
	b[i] = v
	return b
}

func FuzzCapture(f *testing.F) {
	f.Add(capturetest.File(f, ocf.Null, 2, []byte(`{"records":[]}`), nil, []byte("x")))
	f.Add(capturetest.File(f, ocf.Deflate, 1, []byte(`{"a":1}`), []byte(`{"b":2}`)))
	f.Add(capturetest.File(f, ocf.Snappy, 1, []byte(`{"a":1}`), []byte(`{"b":2}`)))
	f.Add(capturetest.File(f, ocf.Null, 0))
	f.Add([]byte("Obj\x01"))
	f.Fuzz(func(t *testing.T, file []byte) {
		readCapture(file) // must end, with an error or not, and never panic
	})
}
