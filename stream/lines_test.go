package stream

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// collect reads every chunk and returns the lines seen, with "<N>" standing
// for an oversized line of N bytes, and the total line count.
func collect(t *testing.T, r io.Reader, chunkSize, maxLine int) ([]string, int64) {
	t.Helper()
	return collectRaw(t, r, chunkSize, maxLine)
}

func collectRaw(t *testing.T, r io.Reader, chunkSize, maxLine int) ([]string, int64) {
	t.Helper()
	c := NewLineChunker(r, chunkSize, maxLine, 2)
	var lines []string
	var total int64
	var seq uint64
	for {
		ch, err := c.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Seq != seq {
			t.Fatalf("seq = %d, want %d", ch.Seq, seq)
		}
		seq++
		if o := ch.Oversized; o != nil {
			if len(o.Head) > headSize || int64(len(o.Head)) > o.Size {
				t.Fatalf("oversized head of %d bytes for a line of %d", len(o.Head), o.Size)
			}
			lines = append(lines, "<"+strconv.FormatInt(o.Size, 10)+">")
		}
		if len(ch.Data) > 0 {
			for _, l := range strings.SplitAfter(string(ch.Data), "\n") {
				if l != "" {
					lines = append(lines, strings.TrimSuffix(l, "\n"))
				}
			}
		}
		total += int64(countLines(ch.Data))
		if ch.Oversized != nil {
			total++
		}
		c.Release(ch)
	}
	return lines, total
}

func TestLineChunker(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name      string
		in        string
		chunkSize int
		maxLine   int
		want      []string
	}{
		{"lines with newlines", "a\nbb\nccc\n", 4, 8, []string{"a", "bb", "ccc"}},
		{"the last line may lack a newline", "a\nbb", 4, 8, []string{"a", "bb"}},
		{"blank lines are lines", "a\n\nb\n", 2, 8, []string{"a", "", "b"}},
		{"an empty input has no chunk", "", 4, 8, nil},
		{"a line of exactly the limit is kept", "12345678\nz\n", 4, 8, []string{"12345678", "z"}},
		{"an oversized line in the middle is reported, not kept", "a\n" + long + "\nb\n", 4, 8, []string{"a", "<100>", "b"}},
		{"an oversized line at the end without newline", "a\n" + long, 4, 8, []string{"a", "<100>"}},
		{"two oversized lines in a row", long + "\n" + long + "\n", 4, 8, []string{"<100>", "<100>"}},
		{"chunks larger than the input", "a\nb\n", 1 << 10, 1 << 10, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, total := collect(t, r, tt.chunkSize, tt.maxLine)
				if strings.Join(got, "|") != strings.Join(tt.want, "|") {
					t.Fatalf("lines = %q, want %q", got, tt.want)
				}
				if total != int64(len(tt.want)) {
					t.Fatalf("line count = %d, want %d", total, len(tt.want))
				}
			}
		})
	}
}

func TestLineChunkerReportsReadErrors(t *testing.T) {
	c := NewLineChunker(iotest.ErrReader(errors.New("disk on fire")), 4, 8, 1)
	if _, err := c.Next(); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v", err)
	}
}

// FuzzLineChunker checks that chunking loses and invents nothing: every line
// comes out whole, or, when longer than the maximum, possibly as an
// oversized report of its size.
func FuzzLineChunker(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), uint8(3), uint8(4))
	f.Add([]byte(strings.Repeat("x", 40)+"\ny\n"), uint8(4), uint8(8))
	f.Fuzz(func(t *testing.T, in []byte, chunk, max uint8) {
		chunkSize, maxLine := int(chunk%32)+1, int(max%32)+1
		var want []string
		if len(in) > 0 {
			want = strings.Split(strings.TrimSuffix(string(in), "\n"), "\n")
		}
		got, total := collectRaw(t, bytes.NewReader(in), chunkSize, maxLine)
		if len(got) != len(want) || total != int64(len(want)) {
			t.Fatalf("chunk %d max %d: got %q (%d lines), want %q", chunkSize, maxLine, got, total, want)
		}
		for i := range want {
			if got[i] != want[i] && (len(want[i]) <= maxLine || got[i] != "<"+strconv.Itoa(len(want[i]))+">") {
				t.Fatalf("chunk %d max %d: line %d is %q, want %q", chunkSize, maxLine, i, got[i], want[i])
			}
		}
	})
}

// countLines returns the number of lines in chunk data: newlines, plus one
// for a final line without a newline.
func countLines(data []byte) int {
	n := bytes.Count(data, []byte{'\n'})
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}
