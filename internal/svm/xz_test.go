package svm

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// xzBlock is one block of a stream craftXZ builds.
type xzBlock struct {
	dict  byte   // the LZMA2 dictionary-size byte of the block header (lzma.EncodeDictCap)
	data  []byte // the block's data, stored in LZMA2 uncompressed chunks
	sizes bool   // name the compressed and uncompressed sizes in the block header
}

// craftXZ builds an xz stream (CRC32 check) by hand, so that a block header
// can ask for any dictionary: the xz writers refuse to.
func craftXZ(blocks ...xzBlock) []byte {
	le32 := func(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
	pad := func(b []byte) []byte {
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	flags := []byte{0, 0x01} // CRC32
	out := append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, flags...)
	out = le32(out, crc32.ChecksumIEEE(flags))
	var index []byte
	for _, b := range blocks {
		var lzma2 []byte
		for i, rest := 0, b.data; len(rest) > 0; i++ {
			n := min(len(rest), 1<<16)
			ctl := byte(0x02)
			if i == 0 {
				ctl = 0x01 // dictionary reset
			}
			lzma2 = append(lzma2, ctl, byte((n-1)>>8), byte(n-1))
			lzma2 = append(lzma2, rest[:n]...)
			rest = rest[n:]
		}
		lzma2 = append(lzma2, 0x00) // end of the LZMA2 data
		h := []byte{0, 0x00}
		if b.sizes {
			h[1] = 0xc0
			h = binary.AppendUvarint(h, uint64(len(lzma2)))
			h = binary.AppendUvarint(h, uint64(len(b.data)))
		}
		h = append(h, 0x21, 0x01, b.dict) // one filter: LZMA2 with its dictionary byte
		h = pad(h)
		h[0] = byte(len(h) / 4) // the header with its CRC32 is (h[0]+1)*4 bytes
		h = le32(h, crc32.ChecksumIEEE(h))
		out = append(out, h...)
		out = pad(append(out, lzma2...))
		out = le32(out, crc32.ChecksumIEEE(b.data))
		index = binary.AppendUvarint(index, uint64(len(h)+len(lzma2)+4))
		index = binary.AppendUvarint(index, uint64(len(b.data)))
	}
	index = pad(append(binary.AppendUvarint([]byte{0}, uint64(len(blocks))), index...))
	index = le32(index, crc32.ChecksumIEEE(index))
	out = append(out, index...)
	footer := le32(nil, uint32(len(index)/4-1))
	footer = append(footer, flags...)
	out = le32(out, crc32.ChecksumIEEE(footer))
	return append(append(out, footer...), 'Y', 'Z')
}

// TestXZBlocks reads multi-block xz streams: crafted ones, the xz writer's
// with each check, and the xz command's (single- and multi-threaded).
func TestXZBlocks(t *testing.T) {
	payload := bytes.Repeat([]byte("\x80\x04N.0123456789abcdef"), 10000) // 200 kB
	tests := []struct {
		name string
		data []byte
	}{
		{"crafted, one block", craftXZ(xzBlock{0, payload, false})},
		{"crafted, three blocks", craftXZ(xzBlock{0, payload[:5], false}, xzBlock{8, payload[5:70000], false}, xzBlock{1, payload[70000:], false})},
		{"crafted, three blocks with sizes", craftXZ(xzBlock{0, payload[:5], true}, xzBlock{8, payload[5:70000], true}, xzBlock{1, payload[70000:], true})},
	}
	for _, c := range []struct {
		name  string
		check byte
		none  bool
	}{{"CRC64", xz.CRC64, false}, {"CRC32", xz.CRC32, false}, {"SHA-256", xz.SHA256, false}, {"no check", 0, true}} {
		cfg := xz.WriterConfig{BlockSize: 30000, CheckSum: c.check, NoCheckSum: c.none}
		tests = append(tests, struct {
			name string
			data []byte
		}{"xz writer, blocks, " + c.name, compressed(t, payload, cfg.NewWriter)})
	}
	if cli, err := exec.LookPath("xz"); err == nil {
		for _, args := range [][]string{{"-6"}, {"-9e", "-T1", "--block-size=50000", "--check=sha256"}, {"-3", "-T2", "--block-size=40000"}, {"--lzma2=dict=4KiB", "-T1", "--block-size=30000", "--check=none"}} {
			cmd := exec.CommandContext(t.Context(), cli, append([]string{"-c"}, args...)...)
			cmd.Stdin = bytes.NewReader(payload)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("xz %s: %v", strings.Join(args, " "), err)
			}
			tests = append(tests, struct {
				name string
				data []byte
			}{"xz " + strings.Join(args, " "), out})
		}
	} else {
		t.Log("the xz command is not installed (Debian xz-utils): its files are not read")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := joblibDecompress(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("got %d bytes, want the %d-byte payload", len(got), len(payload))
			}
		})
	}
}

// TestXZHostile feeds xz streams that must be refused with a one-line error
// after allocating little: above all a block after the first that asks for
// a dictionary of gigabytes, which the reader must not allocate.
func TestXZHostile(t *testing.T) {
	small := []byte("\x80\x04N.")
	good := craftXZ(xzBlock{0, small, false}, xzBlock{0, small, false})
	flip := func(i int) []byte { // good with byte i changed
		b := bytes.Clone(good)
		b[i] ^= 0x10
		return b
	}
	var many []xzBlock // every block asks for the 64 MiB limit
	for range 20 {
		many = append(many, xzBlock{lzma.EncodeDictCap(64 << 20), small, false})
	}
	tests := []struct {
		name     string
		data     []byte
		want     string
		maxAlloc uint64 // bytes; 0 means 2 MiB
	}{
		{"second block asks for 3 GiB", craftXZ(xzBlock{0, small, false}, xzBlock{39, small, false}), "xz: block 2: dictionary of 3221225472 bytes is over the limit of 67108864", 0},
		{"third block asks for 4 GiB", craftXZ(xzBlock{0, small, true}, xzBlock{0, small, true}, xzBlock{40, small, true}), "xz: block 3: dictionary of 4294967295 bytes is over the limit of 67108864", 0},
		{"first block asks for 1.5 GiB", craftXZ(xzBlock{37, small, false}), "xz: block 1: dictionary of 1610612736 bytes is over the limit of 67108864", 0},
		{"dictionary byte over 40", craftXZ(xzBlock{41, small, false}), "xz: block 1: bad dictionary size", 0},
		{"blocks ask for over 1 GiB in all", craftXZ(many...), "xz: block 17: the blocks' dictionaries ask for over 1073741824 bytes in all", 1<<30 + 2<<20},
		{"bad stream header CRC", flip(8), "xz: stream header: CRC32 mismatch", 0},
		{"bad block header CRC", flip(12 + 6), "xz: block 1: header CRC32 mismatch", 0},
		{"bad block check", flip(12 + 12 + 3), "xz: block 1: CRC32 mismatch", 0},
		{"bad index", flip(len(good) - 12 - 5), "xz: index", 0},
		{"bad footer", flip(len(good) - 3), "xz: stream footer", 0},
		{"data after the stream", append(bytes.Clone(good), 0, 0, 0, 0), "xz: 4 bytes after the stream", 0},
		{"truncated in the index", good[:len(good)-14], "xz: ", 0},
		{"truncated in a block", good[:30], "xz: truncated data: block 1: ", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			got, err := joblibDecompress(tc.data)
			runtime.ReadMemStats(&after)
			if tc.maxAlloc == 0 {
				tc.maxAlloc = 2 << 20
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > tc.maxAlloc {
				t.Errorf("allocated %d bytes for a %d-byte stream", grew, len(tc.data))
			}
			if err == nil {
				t.Fatalf("read %d bytes, want an error", len(got))
			}
			if !strings.HasPrefix(err.Error(), tc.want) || strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error %q, want one line starting %q", err, tc.want)
			}
		})
	}
}

// TestXZHostileFile keeps the stream whose second block asks for 3 GiB in
// testdata/errors (its Load error in errors.golden, a seed of FuzzLoad).
func TestXZHostileFile(t *testing.T) {
	want := craftXZ(xzBlock{0, []byte("\x80\x04N."), false}, xzBlock{39, []byte("\x80\x04N."), false})
	p := filepath.Join("testdata", "errors", "second_block_dict_3gib.joblib.xz")
	if updating() {
		if err := os.WriteFile(p, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s is not craftXZ's stream (-want +got):\n%s", p, diff)
	}
}

// TestXZReadEmpty: a read into an empty buffer returns at once (io.Reader's
// contract), before and after the stream's end.
func TestXZReadEmpty(t *testing.T) {
	r, err := newXZReader(craftXZ(xzBlock{0, []byte("data"), false}))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
	if got, err := io.ReadAll(r); err != nil || string(got) != "data" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if n, err := r.Read(nil); n != 0 || err != io.EOF {
		t.Fatalf("Read(nil) at the end = %d, %v; want 0, EOF", n, err)
	}
}
