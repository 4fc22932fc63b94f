package svm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/batchscore/batchscore/internal/pickle"
)

// ErrUnknownFormat is wrapped by the error Load returns when the bytes are
// not a model in any supported format (including compressions it does not
// read).
var ErrUnknownFormat = errors.New("svm: not a model file")

// supported names the formats Load reads, for its error messages.
const supported = "supported: scikit-learn pickle, joblib (raw or " + supportedCompressions + "), libsvm text model, batchscore JSON"

// Format is a model file format as Load detects it from the first bytes.
type Format int

// The formats Detect tells apart.
const (
	FormatUnknown Format = iota
	FormatPickle         // a pickle stream: protocol 2+ (0x80 byte) or protocol 0/1 opcodes
	FormatJoblib         // a joblib file: a pickle with joblib's array wrappers, or zlib/gzip compressed
	FormatLibSVM         // a libsvm text model (svm-train output)
	FormatJSON           // this project's JSON model (see docs/models.md)
)

var formatNames = [...]string{
	FormatUnknown: "unknown",
	FormatPickle:  "pickle",
	FormatJoblib:  "joblib",
	FormatLibSVM:  "libsvm",
	FormatJSON:    "json",
}

// String returns a short lower-case name of the format.
func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return fmt.Sprintf("Format(%d)", int(f))
	}
	return formatNames[f]
}

// Load reads a model in any supported format, chosen from the bytes
// themselves (never from a file name):
//
//   - 0x80 followed by a protocol number 2..5, or a protocol 0/1 pickle
//     (text opcodes ending with the STOP opcode '.'): LoadPickle, or
//     LoadJoblib when the pickle refers to joblib's NumpyArrayWrapper;
//   - a zlib header (0x78 0x01/0x5e/0x9c/0xda), gzip (1f 8b), or joblib's
//     old "ZF" prefix: LoadJoblib;
//   - "svm_type" at the start: LoadLibSVM;
//   - "{" at the start: LoadJSON.
//
// (Text formats may start with white space and a UTF-8 byte order mark.)
//
// A gzip or zlib stream that holds a libsvm or JSON model (model.json.gz)
// is decompressed and read as that model.
//
// xz, lzma, bz2, lz4 and zstd compressed files are recognised and refused
// with "unsupported compression NAME". Anything else is refused with one line
// saying what the bytes look like and what is supported; those errors wrap
// ErrUnknownFormat. Load never panics, whatever the input.
func Load(data []byte) (*Model, error) {
	f, err := Detect(data)
	if err != nil {
		return nil, err
	}
	switch f {
	case FormatPickle:
		return LoadPickle(data)
	case FormatJoblib:
		text, err := compressedText(data)
		if err != nil {
			return nil, err
		}
		if text != nil {
			return Load(text)
		}
		return LoadJoblib(data)
	case FormatLibSVM:
		return LoadLibSVM(bytes.NewReader(bytes.TrimPrefix(data, utf8BOM)))
	case FormatJSON:
		return LoadJSON(bytes.NewReader(bytes.TrimPrefix(data, utf8BOM)))
	}
	return nil, fmt.Errorf("%w: unhandled format %v; %s", ErrUnknownFormat, f, supported)
}

// LoadFile reads the file at path and calls Load on its bytes. Its errors
// name the path.
func LoadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	defer f.Close()
	// Read at most one byte more than a model may have, so that a huge file
	// is refused without reading it all.
	data, err := io.ReadAll(io.LimitReader(f, int64(maxModelFileBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if len(data) > maxModelFileBytes {
		return nil, fmt.Errorf("load model %s: %w: file over the limit of %d bytes", path, ErrInvalidModel, maxModelFileBytes)
	}
	m, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return m, nil
}

// MaxModelBytes is the largest model LoadFile reads, and the largest model
// blob the score-sensor function downloads: the pickle machine's input limit.
const MaxModelBytes = pickle.DefaultMaxInput

// maxModelFileBytes is the limit LoadFile applies (MaxModelBytes; a variable
// for the tests).
var maxModelFileBytes = MaxModelBytes

// maxTextModelBytes bounds the decompressed size of a compressed text model.
const maxTextModelBytes = 1 << 30

// compressedText returns the decompressed bytes of a compressed stream
// that holds a text model (libsvm or JSON), or nil if the stream holds
// anything else or is not readable (LoadJoblib then reports it).
func compressedText(data []byte) ([]byte, error) {
	zr, _, err := decompressor(data)
	if err != nil || zr == nil {
		return nil, nil
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(zr, head)
	head = head[:n]
	if f, err := Detect(head); err != nil || (f != FormatLibSVM && f != FormatJSON) {
		return nil, nil
	}
	rest, err := io.ReadAll(io.LimitReader(zr, maxTextModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: compressed text model: %w", ErrInvalidModel, err)
	}
	if len(head)+len(rest) > maxTextModelBytes {
		return nil, fmt.Errorf("%w: compressed text model over %d bytes", ErrInvalidModel, maxTextModelBytes)
	}
	return append(head, rest...), nil
}

// utf8BOM is the UTF-8 byte order mark some editors put before text.
var utf8BOM = []byte("\xef\xbb\xbf")

// compressions are the magic numbers of compressed streams Load refuses
// (none of them is a joblib compression).
var compressions = []struct {
	magic []byte
	name  string
}{
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, "zstd"},
	{[]byte("PK\x03\x04"), "zip"},
	{[]byte("7z\xbc\xaf\x27\x1c"), "7z"},
}

// Detect returns the format of a model file from its first bytes, or an
// error (wrapping ErrUnknownFormat) that says what the bytes look like.
func Detect(data []byte) (Format, error) {
	if len(data) == 0 {
		return FormatUnknown, fmt.Errorf("%w: empty input; %s", ErrUnknownFormat, supported)
	}
	// Binary signatures first: they are exact.
	switch {
	case len(data) >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5:
		if isJoblibPickle(data) {
			return FormatJoblib, nil
		}
		return FormatPickle, nil
	case bytes.HasPrefix(data, []byte("ZF0x")):
		return FormatJoblib, nil // joblib < 0.10 compressed file
	}
	if compressionOf(data) != "" {
		return FormatJoblib, nil // zlib, gzip, bz2, xz, lzma or lz4 (joblib's compressions)
	}
	for _, c := range compressions {
		if bytes.HasPrefix(data, c.magic) {
			return FormatUnknown, fmt.Errorf("%w: unsupported compression %s; %s", ErrUnknownFormat, c.name, supported)
		}
	}
	if isProto01Pickle(data) {
		return FormatPickle, nil
	}
	text := bytes.TrimPrefix(data, utf8BOM)
	text = bytes.TrimLeft(text, " \t\r\n")
	switch {
	case bytes.HasPrefix(text, []byte("svm_type")):
		return FormatLibSVM, nil
	case bytes.HasPrefix(text, []byte("{")):
		return FormatJSON, nil
	}
	return FormatUnknown, fmt.Errorf("%w: %s; %s", ErrUnknownFormat, describeBytes(data), supported)
}

// isJoblibPickle reports whether a protocol 2+ pickle refers to joblib's
// array wrapper, which stores array bytes after the pickle's opcodes.
func isJoblibPickle(data []byte) bool {
	head := data[:min(len(data), 4096)]
	return bytes.Contains(head, []byte("NumpyArrayWrapper")) || bytes.Contains(head, []byte("joblib.numpy_pickle"))
}

// isProto01Pickle reports whether data looks like a protocol 0 or 1 pickle:
// a GLOBAL opcode "cmodule\nname\n" or a MARK/empty-container opcode at the
// start, and the STOP opcode '.' as the last byte (protocol 0/1 pickles have
// nothing after it).
func isProto01Pickle(data []byte) bool {
	if len(data) < 2 || data[len(data)-1] != '.' {
		return false
	}
	switch data[0] {
	case 'c': // GLOBAL module\nname\n
		rest := data[1:]
		for range 2 {
			i := bytes.IndexByte(rest, '\n')
			if i <= 0 || !isDottedName(rest[:i]) {
				return false
			}
			rest = rest[i+1:]
		}
		return true
	case '(', ']', '}', ')': // MARK, EMPTY_LIST, EMPTY_DICT, EMPTY_TUPLE
		return bytes.IndexByte([]byte("(.0FIJKLMNPRSTUVXabcdeghijlopqrstu}])"), data[1]) >= 0
	}
	return false
}

func isDottedName(b []byte) bool {
	for _, c := range b {
		if !(c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// describeBytes says in a few words what data looks like, for the error of Detect.
func describeBytes(data []byte) string {
	head := data[:min(len(data), 4096)]
	if !utf8.Valid(trimIncompleteRune(head)) || bytes.IndexByte(head, 0) >= 0 {
		return fmt.Sprintf("binary data starting % x", data[:min(len(data), 8)])
	}
	text := bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	if len(text) == 0 {
		return "only white space"
	}
	first := text
	if i := bytes.IndexAny(first, "\r\n"); i >= 0 {
		first = first[:i]
	}
	switch {
	case bytes.HasPrefix(text, []byte("[")):
		return "looks like a JSON array, not a model object"
	case bytes.HasPrefix(text, []byte("<")):
		return "looks like an XML or HTML document"
	case bytes.Count(first, []byte(",")) >= 1:
		return "looks like a CSV text file"
	case bytes.Count(first, []byte("\t")) >= 1:
		return "looks like a tab-separated text file"
	}
	return fmt.Sprintf("text starting %q", first[:min(len(first), 24)])
}

// trimIncompleteRune drops a UTF-8 sequence cut at the end of b.
func trimIncompleteRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			break
		}
	}
	return b
}
