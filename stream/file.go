package stream

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
)

// gzipMagic starts every gzip stream (RFC 1952).
var gzipMagic = []byte{0x1f, 0x8b}

// OpenInput opens path for reading ("-" is stdin) and transparently
// decompresses gzip, detected by its magic bytes rather than the file name.
func OpenInput(path string, stdin io.Reader) (io.ReadCloser, error) {
	in, err := openInput(path, stdin)
	if err != nil {
		return nil, err
	}
	return readCloser{in.r, in.closer}, nil
}

// input is an opened file: r reads its content, decompressed, and counted
// counts the bytes read from the file itself.
type input struct {
	r       *bufio.Reader
	closer  io.Closer
	counted *countingReader
}

func openInput(path string, stdin io.Reader) (input, error) {
	var f io.ReadCloser = io.NopCloser(stdin)
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return input{}, fmt.Errorf("open input: %w", err)
		}
		f = file
	}
	counted := &countingReader{r: f}
	br := bufio.NewReaderSize(counted, 1<<16)
	head, err := br.Peek(len(gzipMagic))
	if err != nil && err != io.EOF {
		f.Close()
		return input{}, fmt.Errorf("read input %s: %w", path, err)
	}
	if !bytes.Equal(head, gzipMagic) {
		return input{br, f, counted}, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		f.Close()
		return input{}, fmt.Errorf("open gzip input %s: %w", path, err)
	}
	return input{bufio.NewReaderSize(zr, 1<<16), multiCloser{zr, f}, counted}, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// CreateOutput creates path for writing ("-" is stdout, which is not closed).
func CreateOutput(path string, stdout io.Writer) (io.WriteCloser, error) {
	if path == "-" || path == "" {
		return nopWriteCloser{stdout}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create output: %w", err)
	}
	return f, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var first error
	for _, c := range m {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
