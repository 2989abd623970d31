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
			if len(o.Head) > HeadSize || int64(len(o.Head)) > o.Size {
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
		{"a message of the limit ending in CRLF", "12345678\r\nz\r\n", 4, 8, []string{"12345678", "z"}},
		{"trailing whitespace does not count", "{}" + strings.Repeat(" ", 100) + "\n{}\n", 4, 8, []string{"{}", "{}"}},
		{"leading whitespace does not count", strings.Repeat(" \t", 50) + "12345678\n", 4, 8, []string{"12345678"}},
		{"a line of whitespace only", strings.Repeat(" ", 100) + "\na\n", 4, 8, []string{"", "a"}},
		{"inner whitespace counts", "a" + strings.Repeat(" ", 100) + "b \n", 4, 8, []string{"<102>"}},
		{"an oversized message keeps its size without whitespace", "  " + long + "  \r\n", 4, 8, []string{"<100>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{
				strings.NewReader(tt.in),
				iotest.OneByteReader(strings.NewReader(tt.in)),
				&scheduledReader{r: strings.NewReader(tt.in), sizes: []byte{8, 0, 2}},
			} {
				got, total := collect(t, r, tt.chunkSize, tt.maxLine)
				for i := range got {
					got[i] = outcome(got[i], tt.maxLine)
				}
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

// FuzzLineChunker checks that chunking loses and invents nothing, and that
// what becomes of a line never depends on how reads split the input: with
// reads of every size the fuzzer picks, each line comes out as its message
// (TrimMessage), or, exactly when that is longer than the maximum, as a
// line the consumer rejects or an oversized report of the same size.
func FuzzLineChunker(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), uint8(3), uint8(4), []byte{1, 2, 3})
	f.Add([]byte(strings.Repeat("x", 40)+"\ny\n"), uint8(4), uint8(8), []byte{7})
	f.Add([]byte("{\"a\":1}\r\n  {}   \t\n"+strings.Repeat(" ", 50)+"{}"+strings.Repeat(" ", 50)), uint8(2), uint8(7), []byte{1, 9})
	f.Add([]byte("12345678\r\n"), uint8(1), uint8(8), []byte{9, 1})
	f.Fuzz(func(t *testing.T, in []byte, chunk, max uint8, reads []byte) {
		chunkSize, maxLine := int(chunk%32)+1, int(max%32)+1
		var want []string
		if len(in) > 0 {
			for _, l := range strings.Split(strings.TrimSuffix(string(in), "\n"), "\n") {
				want = append(want, outcome(l, maxLine))
			}
		}
		for _, r := range []io.Reader{bytes.NewReader(in), &scheduledReader{r: bytes.NewReader(in), sizes: reads}} {
			got, total := collectRaw(t, r, chunkSize, maxLine)
			if len(got) != len(want) || total != int64(len(want)) {
				t.Fatalf("chunk %d max %d: got %q (%d lines), want %q", chunkSize, maxLine, got, total, want)
			}
			for i := range want {
				if g := got[i]; outcome(g, maxLine) != want[i] && g != want[i] {
					t.Fatalf("chunk %d max %d: line %d is %q, want %q", chunkSize, maxLine, i, g, want[i])
				}
			}
		}
	})
}

// outcome is what a consumer makes of a line: its message, or "<N>" when
// the message's N bytes exceed maxLine.
func outcome(line string, maxLine int) string {
	m := TrimMessage([]byte(line))
	if len(m) > maxLine {
		return "<" + strconv.Itoa(len(m)) + ">"
	}
	return string(m)
}

// scheduledReader returns reads of the sizes listed (1 to 256 bytes,
// cycling), as pipes and decompressors split their output.
type scheduledReader struct {
	r     io.Reader
	sizes []byte
	n     int
}

func (s *scheduledReader) Read(p []byte) (int, error) {
	size := len(p)
	if len(s.sizes) > 0 {
		size = min(size, int(s.sizes[s.n%len(s.sizes)])+1)
		s.n++
	}
	return s.r.Read(p[:size])
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
