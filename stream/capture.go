package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
)

// avroMagic starts every Avro object container file, the format Event Hubs
// Capture writes.
var avroMagic = [4]byte{'O', 'b', 'j', 1}

// captureAPI decodes Capture files. A length read from a corrupt file
// allocates at most maxMessage bytes before the read fails.
var captureAPI = avro.Config{MaxByteSliceSize: maxMessage}.Freeze()

// CaptureSchema is the schema of every Event Hubs Capture file: a record
// EventData per event.
var CaptureSchema = avro.MustParse(`{
	"type": "record",
	"name": "EventData",
	"namespace": "Microsoft.ServiceBus.Messaging",
	"fields": [
		{"name": "SequenceNumber", "type": "long"},
		{"name": "Offset", "type": "string"},
		{"name": "EnqueuedTimeUtc", "type": "string"},
		{"name": "SystemProperties", "type": {"type": "map", "values": ["long", "double", "string", "bytes"]}},
		{"name": "Properties", "type": {"type": "map", "values": ["long", "double", "string", "bytes", "null"]}},
		{"name": "Body", "type": ["null", "bytes"]}
	]
}`)

// CaptureEvent is one EventData record of CaptureSchema. Map values are
// int64, float64, string, []byte or nil.
type CaptureEvent struct {
	SequenceNumber   int64          `avro:"SequenceNumber"`
	Offset           string         `avro:"Offset"`
	EnqueuedTimeUtc  string         `avro:"EnqueuedTimeUtc"`
	SystemProperties map[string]any `avro:"SystemProperties"`
	Properties       map[string]any `avro:"Properties"`
	Body             []byte         `avro:"Body"`
}

// CaptureReader reads the events of an Event Hubs Capture file: an Avro
// object container file of EventData records (namespace
// Microsoft.ServiceBus.Messaging). It frames blocks itself rather than
// through ocf.Decoder, which allocates whatever block size a corrupt file
// names (and panics on a negative one); a block here grows only as its
// bytes arrive. Blocks may be compressed with the codecs the ocf package
// implements without options: null, deflate and snappy.
type CaptureReader struct {
	in     *avro.Reader // the file: header, then blocks
	sync   [16]byte
	codec  ocf.Codec
	raw    []byte       // the current block as stored, reused
	block  *avro.Reader // the current block, decompressed
	left   int64        // events left in the current block
	blocks int          // blocks read, for errors
	events int64        // events read from the current block, for errors
	// ev is reused, maps and all. Every field is decoded, none skipped: the
	// library's skip decoders loop over whatever item count a corrupt map
	// names, even past the end of the data.
	ev CaptureEvent
}

// NewCaptureReader reads the header of a Capture file from r and checks
// that its schema is CaptureSchema.
func NewCaptureReader(r io.Reader) (*CaptureReader, error) {
	// Check the magic first, so that any other file gets this error rather
	// than one from decoding its bytes as a header.
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read avro header: %w", err)
	}
	if magic != avroMagic {
		return nil, errors.New("read avro header: not an Avro object container file")
	}
	in := avro.NewReader(io.MultiReader(bytes.NewReader(magic[:]), r), 64<<10, avro.WithReaderConfig(captureAPI))
	var h ocf.Header
	if in.ReadVal(ocf.HeaderSchema, &h); in.Error != nil {
		return nil, fmt.Errorf("read avro header: %w", unexpectedEOF(in.Error))
	}
	// A cache per file: the shared default would keep every schema ever seen.
	schema, err := avro.ParseBytesWithCache(h.Meta["avro.schema"], "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("read avro schema: %w", err)
	}
	if schema.Fingerprint() != CaptureSchema.Fingerprint() {
		return nil, errors.New("not an Event Hubs Capture file: the schema is not Microsoft.ServiceBus.Messaging.EventData's")
	}
	codec, err := captureCodec(string(h.Meta["avro.codec"]))
	if err != nil {
		return nil, err
	}
	return &CaptureReader{
		in:    in,
		sync:  h.Sync,
		codec: codec,
		block: avro.NewReader(nil, 0, avro.WithReaderConfig(captureAPI)),
	}, nil
}

// captureCodec returns the block codec a file's header names.
func captureCodec(name string) (ocf.Codec, error) {
	switch ocf.CodecName(name) {
	case "", ocf.Null:
		return &ocf.NullCodec{}, nil
	case ocf.Deflate:
		return &ocf.DeflateCodec{}, nil
	case ocf.Snappy:
		return &ocf.SnappyCodec{}, nil
	}
	return nil, fmt.Errorf("avro codec %q is not supported (null, deflate and snappy are)", name)
}

// Next returns the Body of the next event, empty for an event without one,
// or io.EOF after the last. The slice is the caller's to keep. A file of a
// header and no blocks, as Capture writes for a quiet interval, has no
// events.
func (c *CaptureReader) Next() ([]byte, error) {
	for c.left == 0 {
		if err := c.nextBlock(); err != nil {
			return nil, err
		}
	}
	c.left--
	c.events++
	c.ev.Body = nil
	clear(c.ev.SystemProperties)
	clear(c.ev.Properties)
	c.block.ReadVal(CaptureSchema, &c.ev)
	if c.block.Error != nil {
		return nil, fmt.Errorf("avro block %d event %d: %w", c.blocks, c.events, unexpectedEOF(c.block.Error))
	}
	// Capped: the decoder hands out small values from a shared slab, and an
	// append must not write into the next body.
	return c.ev.Body[:len(c.ev.Body):len(c.ev.Body)], nil
}

// nextBlock reads the next block: its event count, its size, its bytes and
// the sync marker that must end it.
func (c *CaptureReader) nextBlock() error {
	if c.in.Peek(); errors.Is(c.in.Error, io.EOF) {
		return io.EOF
	}
	c.blocks++
	c.events = 0
	count := c.in.ReadLong()
	size := c.in.ReadLong()
	switch {
	case c.in.Error != nil:
		return c.blockError(unexpectedEOF(c.in.Error))
	case count < 0 || size < 0:
		return c.blockError(fmt.Errorf("negative event count %d or size %d", count, size))
	}
	c.raw = c.raw[:0]
	for remaining := size; remaining > 0; {
		n := int(min(remaining, 1<<20))
		c.raw = slices.Grow(c.raw, n)[:len(c.raw)+n]
		if c.in.Read(c.raw[len(c.raw)-n:]); c.in.Error != nil {
			return c.blockError(fmt.Errorf("%d bytes announced: %w", size, unexpectedEOF(c.in.Error)))
		}
		remaining -= int64(n)
	}
	var sync [16]byte
	if c.in.Read(sync[:]); c.in.Error != nil {
		return c.blockError(fmt.Errorf("read sync marker: %w", unexpectedEOF(c.in.Error)))
	}
	if sync != c.sync {
		return c.blockError(errors.New("sync marker differs from the header's: the file is corrupt"))
	}
	data, err := c.codec.Decode(c.raw)
	if err != nil {
		return c.blockError(fmt.Errorf("decompress: %w", err))
	}
	c.block.Reset(data)
	c.left = count
	return nil
}

func (c *CaptureReader) blockError(err error) error {
	return fmt.Errorf("avro block %d: %w", c.blocks, err)
}

// unexpectedEOF turns the io.EOF of a value cut short into
// io.ErrUnexpectedEOF: only a file that ends between blocks ends well.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
