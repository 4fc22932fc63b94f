package svm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"math"

	"github.com/ulikunitz/xz/lzma"
)

// maxXZDictsBytes bounds the dictionaries all blocks of an xz stream ask for
// together: each block allocates its own, so a small file of many tiny
// blocks asking for 64 MiB each would otherwise cost gigabytes of zeroing.
const maxXZDictsBytes = 1 << 30

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

// xzReader reads one xz stream (the .xz file format, version 1.2.0) block by
// block, decoding each block's LZMA2 data with lzma.Reader2 from
// github.com/ulikunitz/xz. That module's own xz reader allocates the
// dictionary each block header names, up to 4 GiB, before reading the
// block's data (its ReaderConfig.DictCap is a floor, not a ceiling), so a
// small file whose second block asks for gigabytes would exhaust memory.
// Here every block header is read and checked first: a dictionary over
// maxDictBytes, or over maxXZDictsBytes for all blocks together, is refused
// before anything is allocated, and a block that names its uncompressed
// size gets no larger dictionary than that. Streams of several blocks (the
// xz command writes them when multi-threaded, or with --block-size) are
// read; Python's lzma module, which joblib uses, writes one block. The
// checks (none, CRC32, CRC64, SHA-256), sizes, index and footer are
// verified; the only filter is LZMA2 (as with the module's reader), and
// nothing may follow the stream.
type xzReader struct {
	data    []byte // the whole stream
	pos     int    // offset in data of the next block header, or of the current block's LZMA2 data
	flags   []byte // the stream flags: data[6:8]
	records []xzRecord
	dicts   int64 // dictionary bytes of all blocks so far

	// the current block
	lz      io.Reader     // its LZMA2 reader; nil between blocks
	src     *bytes.Reader // its LZMA2 data
	hash    hash.Hash     // its check; nil for none
	hdrLen  int64
	cSize   int64 // compressed and uncompressed sizes from the header, -1 if absent
	uSize   int64
	written int64 // bytes decompressed

	err error
}

// xzRecord is an index record: a block's unpadded and uncompressed sizes.
type xzRecord struct{ unpadded, uncompressed int64 }

// newXZReader checks the stream header of data, which starts with xzMagic.
func newXZReader(data []byte) (*xzReader, error) {
	if len(data) < 12 {
		return nil, errors.New("truncated stream header")
	}
	x := &xzReader{data: data, pos: 12, flags: data[6:8]}
	switch {
	case crc32.ChecksumIEEE(x.flags) != binary.LittleEndian.Uint32(data[8:12]):
		return nil, errors.New("stream header: CRC32 mismatch")
	case x.flags[0] != 0 || x.flags[1]&0xf0 != 0:
		return nil, fmt.Errorf("stream header: unsupported flags %#x", x.flags)
	}
	if _, err := x.newHash(); err != nil {
		return nil, err
	}
	return x, nil
}

// newHash returns the hash of the stream's check type.
func (x *xzReader) newHash() (hash.Hash, error) {
	switch x.flags[1] {
	case 0x00:
		return nil, nil
	case 0x01:
		return crc32.NewIEEE(), nil
	case 0x04:
		return crc64.New(crc64.MakeTable(crc64.ECMA)), nil
	case 0x0a:
		return sha256.New(), nil
	}
	return nil, fmt.Errorf("stream header: check type %#x is not supported (none, CRC32, CRC64, SHA-256)", x.flags[1])
}

// Read reads decompressed data; io.EOF follows a verified index and footer.
func (x *xzReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, x.err
	}
	for x.err == nil {
		if x.lz == nil {
			x.err = x.next()
			continue
		}
		n, err := x.lz.Read(p)
		if x.hash != nil {
			x.hash.Write(p[:n])
		}
		x.written += int64(n)
		if x.uSize >= 0 && x.written > x.uSize {
			err = fmt.Errorf("more data than the %d bytes the header names", x.uSize)
		}
		if err == io.EOF {
			err = x.endBlock()
			x.lz = nil
		}
		if err != nil {
			x.err = fmt.Errorf("block %d: %w", len(x.records)+1, err)
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, x.err
}

// next starts the next block, or reads the index and footer and returns
// io.EOF.
func (x *xzReader) next() error {
	if x.pos >= len(x.data) {
		return fmt.Errorf("block %d: %w", len(x.records)+1, io.ErrUnexpectedEOF)
	}
	if x.data[x.pos] == 0 {
		return x.readIndex()
	}
	if err := x.startBlock(); err != nil {
		return fmt.Errorf("block %d: %w", len(x.records)+1, err)
	}
	return nil
}

// startBlock reads the block header at x.pos, checks its dictionary and
// sets up the block's LZMA2 reader.
func (x *xzReader) startBlock() error {
	size := (int(x.data[x.pos]) + 1) * 4
	if size > len(x.data)-x.pos {
		return io.ErrUnexpectedEOF
	}
	h := x.data[x.pos : x.pos+size]
	if crc32.ChecksumIEEE(h[:size-4]) != binary.LittleEndian.Uint32(h[size-4:]) {
		return errors.New("header CRC32 mismatch")
	}
	flags, r := h[1], h[2:size-4]
	switch {
	case flags&0x3c != 0:
		return fmt.Errorf("unsupported block flags %#x", flags)
	case flags&0x03 != 0:
		return fmt.Errorf("%d filters: only LZMA2 alone is supported", flags&0x03+1)
	}
	x.cSize, x.uSize = -1, -1
	var ok bool
	if flags&0x40 != 0 {
		if x.cSize, ok = xzUvarint(&r); !ok || x.cSize == 0 {
			return errors.New("bad compressed size in the header")
		}
	}
	if flags&0x80 != 0 {
		if x.uSize, ok = xzUvarint(&r); !ok {
			return errors.New("bad uncompressed size in the header")
		}
	}
	id, ok1 := xzUvarint(&r)
	props, ok2 := xzUvarint(&r)
	switch {
	case !ok1 || !ok2:
		return errors.New("bad filter flags")
	case id != 0x21:
		return fmt.Errorf("filter %#x is not supported (only LZMA2)", id)
	case props != 1 || len(r) < 1:
		return errors.New("bad LZMA2 properties")
	case !allZero(r[1:]):
		return errors.New("non-zero header padding")
	}
	dict, err := lzma.DecodeDictCap(r[0])
	if err != nil {
		return fmt.Errorf("bad dictionary size: %w", err)
	}
	if dict > maxDictBytes {
		return fmt.Errorf("dictionary of %d bytes is over the limit of %d", dict, maxDictBytes)
	}
	if x.uSize >= 0 { // a block never looks back further than its own data
		dict = max(min(dict, x.uSize), lzma.MinDictCap)
	}
	if x.dicts += dict; x.dicts > maxXZDictsBytes {
		return fmt.Errorf("the blocks' dictionaries ask for over %d bytes in all", maxXZDictsBytes)
	}
	x.pos += size
	end := len(x.data)
	if x.cSize >= 0 {
		if x.cSize > int64(end-x.pos) {
			return io.ErrUnexpectedEOF
		}
		end = x.pos + int(x.cSize)
	}
	x.src = bytes.NewReader(x.data[x.pos:end])
	if x.lz, err = (lzma.Reader2Config{DictCap: int(dict)}).NewReader2(x.src); err != nil {
		return err
	}
	x.hash, _ = x.newHash()
	x.hdrLen, x.written = int64(size), 0
	return nil
}

// endBlock checks the sizes, padding and check of the block whose LZMA2
// data has ended, and records it.
func (x *xzReader) endBlock() error {
	c := x.src.Size() - int64(x.src.Len())
	switch {
	case x.cSize >= 0 && c != x.cSize:
		return fmt.Errorf("%d bytes of compressed data, the header names %d", c, x.cSize)
	case x.uSize >= 0 && x.written != x.uSize:
		return fmt.Errorf("%d bytes of data, the header names %d", x.written, x.uSize)
	}
	x.pos += int(c)
	pad := int(-c & 3)
	var sum []byte
	switch h := x.hash.(type) {
	case nil:
	case hash.Hash32:
		sum = binary.LittleEndian.AppendUint32(nil, h.Sum32())
	case hash.Hash64:
		sum = binary.LittleEndian.AppendUint64(nil, h.Sum64())
	default:
		sum = h.Sum(nil)
	}
	if pad+len(sum) > len(x.data)-x.pos {
		return io.ErrUnexpectedEOF
	}
	if !allZero(x.data[x.pos : x.pos+pad]) {
		return errors.New("non-zero padding")
	}
	x.pos += pad
	if !bytes.Equal(x.data[x.pos:x.pos+len(sum)], sum) {
		return fmt.Errorf("%s mismatch", map[int]string{4: "CRC32", 8: "CRC64", 32: "SHA-256"}[len(sum)])
	}
	x.pos += len(sum)
	x.records = append(x.records, xzRecord{x.hdrLen + c + int64(len(sum)), x.written})
	return nil
}

// readIndex checks the index at x.pos against the blocks read, then the
// stream footer, and returns io.EOF.
func (x *xzReader) readIndex() error {
	start := x.pos
	r := x.data[start+1:]
	n, ok := xzUvarint(&r)
	if !ok {
		return fmt.Errorf("index: bad record count: %w", io.ErrUnexpectedEOF)
	}
	if n != int64(len(x.records)) {
		return fmt.Errorf("index: %d records for %d blocks", n, len(x.records))
	}
	for i, rec := range x.records {
		u, ok1 := xzUvarint(&r)
		c, ok2 := xzUvarint(&r)
		if !ok1 || !ok2 {
			return fmt.Errorf("index: record %d: %w", i+1, io.ErrUnexpectedEOF)
		}
		if (xzRecord{u, c}) != rec {
			return fmt.Errorf("index: record %d is %v, the block is %v", i+1, xzRecord{u, c}, rec)
		}
	}
	pos := len(x.data) - len(r)
	end := pos + (-(pos - start) & 3) + 4 // padding, CRC32
	if end > len(x.data) {
		return fmt.Errorf("index: %w", io.ErrUnexpectedEOF)
	}
	if !allZero(x.data[pos : end-4]) {
		return errors.New("index: non-zero padding")
	}
	if crc32.ChecksumIEEE(x.data[start:end-4]) != binary.LittleEndian.Uint32(x.data[end-4:end]) {
		return errors.New("index: CRC32 mismatch")
	}
	if len(x.data)-end < 12 {
		return fmt.Errorf("stream footer: %w", io.ErrUnexpectedEOF)
	}
	f := x.data[end : end+12]
	switch {
	case crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f[:4]):
		return errors.New("stream footer: CRC32 mismatch")
	case (int64(binary.LittleEndian.Uint32(f[4:8]))+1)*4 != int64(end-start):
		return errors.New("stream footer: wrong index size")
	case !bytes.Equal(f[8:10], x.flags):
		return errors.New("stream footer: flags differ from the header's")
	case string(f[10:]) != "YZ":
		return errors.New("stream footer: bad magic")
	}
	if rest := len(x.data) - end - 12; rest > 0 {
		return fmt.Errorf("%d bytes after the stream", rest)
	}
	return io.EOF
}

// xzUvarint reads a multibyte integer from the front of *r.
func xzUvarint(r *[]byte) (int64, bool) {
	v, n := binary.Uvarint(*r)
	if n <= 0 || n > 9 || v > math.MaxInt64 {
		return 0, false
	}
	*r = (*r)[n:]
	return int64(v), true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
