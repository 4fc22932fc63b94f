package pickle

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// protocolPickles are pickle.dumps(obj, protocol=N) for N = 0..5 (CPython
// 3.11), with
//
//	shared = [7]
//	obj = {'a': [1, -2, 300, 70000, -2**31, 2**40, 2**70, -2**70, 1.5, -0.25, True, False, None],
//	       'b': (b'\x00\xff\\\n', 'h\u00e9llo \u20ac\\\n'), 'c': (), 'd': (shared, shared), 'e': {'x': {}}}
var protocolPickles = []string{
	"286470300a56610a70310a286c70320a49310a61492d320a61493330300a614937303030300a61492d323134373438333634380a614c313039393531313632373737364c0a614c313138303539313632303731373431313330333432344c0a614c2d313138303539313632303731373431313330333432344c0a6146312e350a61462d302e32350a614930310a614930300a614e617356620a70330a28635f636f646563730a656e636f64650a70340a28565c7530303030ff5c75303035635c75303030610a70350a566c6174696e310a70360a7470370a5270380a5668e96c6c6f205c75323061635c75303035635c75303030610a70390a747031300a7356630a7031310a28747356640a7031320a28286c7031330a49370a616731330a747031340a7356650a7031350a28647031360a56780a7031370a28647031380a73732e",
	"7d71002858010000006171015d7102284b014afeffffff4d2c014a701101004a000000804c313039393531313632373737364c0a4c313138303539313632303731373431313330333432344c0a4c2d313138303539313632303731373431313330333432344c0a473ff800000000000047bfd00000000000004930310a4930300a4e65580100000062710328635f636f646563730a656e636f64650a710428580500000000c3bf5c0a710558060000006c6174696e317106747107527108580c00000068c3a96c6c6f20e282ac5c0a710974710a580100000063710b29580100000064710c285d710d4b0761680d74710e580100000065710f7d711058010000007871117d711273752e",
	"80027d71002858010000006171015d7102284b014afeffffff4d2c014a701101004a000000808a060000000000018a090000000000000000408a090000000000000000c0473ff800000000000047bfd000000000000088894e655801000000627103635f636f646563730a656e636f64650a7104580500000000c3bf5c0a710558060000006c6174696e317106867107527108580c00000068c3a96c6c6f20e282ac5c0a710986710a580100000063710b29580100000064710c5d710d4b0761680d86710e580100000065710f7d711058010000007871117d711273752e",
	"80037d71002858010000006171015d7102284b014afeffffff4d2c014a701101004a000000808a060000000000018a090000000000000000408a090000000000000000c0473ff800000000000047bfd000000000000088894e655801000000627103430400ff5c0a7104580c00000068c3a96c6c6f20e282ac5c0a710586710658010000006371072958010000006471085d71094b0761680986710a580100000065710b7d710c580100000078710d7d710e73752e",
	"8004958f000000000000007d94288c0161945d94284b014afeffffff4d2c014a701101004a000000808a060000000000018a090000000000000000408a090000000000000000c0473ff800000000000047bfd000000000000088894e658c016294430400ff5c0a948c0c68c3a96c6c6f20e282ac5c0a9486948c016394298c0164945d944b0761680986948c0165947d948c0178947d9473752e",
	"8005958f000000000000007d94288c0161945d94284b014afeffffff4d2c014a701101004a000000808a060000000000018a090000000000000000408a090000000000000000c0473ff800000000000047bfd000000000000088894e658c016294430400ff5c0a948c0c68c3a96c6c6f20e282ac5c0a9486948c016394298c0164945d944b0761680986948c0165947d948c0178947d9473752e",
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func allowOnly(names ...string) func(Global) bool {
	return func(g Global) bool {
		for _, n := range names {
			if g.String() == n {
				return true
			}
		}
		return false
	}
}

var cmpOpts = []cmp.Option{
	cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 }),
	cmpopts.IgnoreUnexported(Dict{}),
	cmpopts.EquateEmpty(),
}

func dictOf(kv ...Value) *Dict {
	d := NewDict()
	for i := 0; i < len(kv); i += 2 {
		d.Set(kv[i], kv[i+1])
	}
	return d
}

func TestLoadProtocols(t *testing.T) {
	two70, _ := new(big.Int).SetString("1180591620717411303424", 10)
	shared := &List{Items: []Value{int64(7)}}
	want := dictOf(
		"a", &List{Items: []Value{int64(1), int64(-2), int64(300), int64(70000), int64(-1 << 31), int64(1 << 40),
			two70, new(big.Int).Neg(two70), 1.5, -0.25, true, false, nil}},
		"b", Tuple{[]byte{0, 0xff, '\\', '\n'}, "h\u00e9llo \u20ac\\\n"},
		"c", Tuple{},
		"d", Tuple{shared, shared},
		"e", dictOf("x", NewDict()),
	)
	for proto, h := range protocolPickles {
		t.Run("protocol"+string(rune('0'+proto)), func(t *testing.T) {
			got, err := Load(unhex(t, h), Options{Allow: allowOnly("_codecs.encode")})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			d := got.(*Dict)
			v, _ := d.Get("d")
			pair := v.(Tuple)
			if pair[0] != pair[1] {
				t.Errorf("the shared list was copied: %p != %p", pair[0], pair[1])
			}
		})
	}
}

func TestLoadSetsAndByteArray(t *testing.T) {
	// pickle.dumps([{1, 2}, frozenset([3]), bytearray(b'xy')], protocol=5)
	got, err := Load(unhex(t, "8005951e000000000000005d94288f94284b014b0290284b039194960200000000000000787994652e"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := &List{Items: []Value{&Set{Items: []Value{int64(1), int64(2)}}, &Set{Items: []Value{int64(3)}, Frozen: true}, []byte("xy")}}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestReductions(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		allow []string
		want  Value
	}{
		{"protocol 2 empty bytes", "\x80\x02c__builtin__\nbytes\n)R.", []string{"__builtin__.bytes"}, []byte{}},
		{"bytearray from latin-1", "\x80\x02cbuiltins\nbytearray\nX\x03\x00\x00\x00\xc3\xbfaX\x06\x00\x00\x00latin1\x86R.", []string{"builtins.bytearray"}, []byte{0xff, 'a'}},
		{"copyreg reconstructor", "ccopy_reg\n_reconstructor\n(cm\nC\nc__builtin__\nobject\nNtR}S'k'\nI1\nsb.",
			[]string{"copy_reg._reconstructor", "m.C", "__builtin__.object"},
			&Object{Callable: Global{"m", "C"}, New: true, State: dictOf([]byte("k"), int64(1)), HasState: true}},
		{"reduce kept as a node", "\x80\x04\x8c\x01m\x8c\x01f\x93K\x01\x85R.", []string{"m.f"},
			&Object{Callable: Global{"m", "f"}, Args: Tuple{int64(1)}}},
		{"newobj_ex", "\x80\x04\x8c\x01m\x8c\x01C\x93)}\x8c\x01k\x88s\x92.", []string{"m.C"},
			&Object{Callable: Global{"m", "C"}, New: true, Args: Tuple{}, Kwargs: dictOf("k", true)}},
		{"setitems on an object", "\x80\x04\x8c\x0bcollections\x8c\x0bOrderedDict\x93)R(K\x01K\x02u.", []string{"collections.OrderedDict"},
			&Object{Callable: Global{"collections", "OrderedDict"}, Args: Tuple{}, DictItems: dictOf(int64(1), int64(2))}},
		{"inst", "(I3\nim\nC\n.", []string{"m.C"}, &Object{Callable: Global{"m", "C"}, New: true, Args: Tuple{int64(3)}}},
		{"obj", "(cm\nC\nI3\no.", []string{"m.C"}, &Object{Callable: Global{"m", "C"}, New: true, Args: Tuple{int64(3)}}},
		{"python 2 string", "S'a\\x00\\n\\'b'\np0\n.", nil, []byte("a\x00\n'b")},
		{"long1 negative", "\x80\x02\x8a\x02\x00\xff.", nil, int64(-256)},
		{"dup pop", "\x80\x02K\x012K\x020.", nil, int64(1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Load([]byte(tc.data), Options{Allow: allowOnly(tc.allow...)})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpOpts...); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSparseMemo(t *testing.T) {
	// LONG_BINPUT at index 2^31-1, then LONG_BINGET of it.
	data := []byte("\x80\x04K\x07r\xff\xff\xff\x7f0j\xff\xff\xff\x7f.")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	v, err := Load(data, Options{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if v != int64(7) {
		t.Errorf("got %v, want 7", v)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
		t.Errorf("a far memo index allocated %d bytes", grew)
	}
}

// TestMemoGrowthBounded stores memo entries 1,000 indexes apart: the memo
// must not grow with the indexes, only with the entries.
func TestMemoGrowthBounded(t *testing.T) {
	var b []byte
	b = append(b, 0x80, 0x04, 'N')
	for i := 1; i <= 5000; i++ {
		idx := uint32(i * 1000)
		b = append(b, 'r', byte(idx), byte(idx>>8), byte(idx>>16), byte(idx>>24))
	}
	b = append(b, '.')
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Load(b, Options{MaxMemo: 1 << 18})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("5,000 memo entries at spread indexes allocated %d bytes", grew)
	}
}

func TestDictGet(t *testing.T) {
	d := dictOf("a", int64(1), []byte("b"), int64(2), int64(3), int64(4), "a", int64(5))
	for _, tc := range []struct {
		key  string
		want Value
		ok   bool
	}{{"a", int64(5), true}, {"b", int64(2), true}, {"3", nil, false}} {
		got, ok := d.Get(tc.key)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Get(%q) = %v, %v; want %v, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
	if d.Len() != 3 {
		t.Errorf("Len() = %d, want 3", d.Len())
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		opt  Options
		want string
	}{
		{"refused global", "cos\nsystem\n(S'x'\ntR.", Options{}, "pickle: global os.system is not allowed"},
		{"refused stack global", "\x80\x04\x8c\x08builtins\x8c\x04eval\x93.", Options{Allow: allowOnly("builtins.exec")}, "pickle: global builtins.eval is not allowed"},
		{"empty", "", Options{}, "pickle: unexpected end of data: no pickle at offset 0"},
		{"no stop", "\x80\x02K\x01", Options{}, "pickle: unexpected end of data: no STOP opcode"},
		{"short binint", "\x80\x02J\x01\x02", Options{}, "unexpected end of data"},
		{"string length past end", "\x80\x03X\xff\x00\x00\x00ab.", Options{}, "length 255 at offset 3, 3 bytes left"},
		{"protocol 6", "\x80\x06N.", Options{}, "unsupported protocol 6"},
		{"unknown opcode", "\x80\x02\xffN.", Options{}, "unknown opcode 0xff"},
		{"reduce of a string", "\x80\x04\x8c\x01fK\x01\x85R.", Options{}, "REDUCE of str, not a global"},
		{"build on int", "\x80\x02K\x01}b.", Options{}, "BUILD on int"},
		{"append to dict", "\x80\x02}K\x01a.", Options{}, "APPEND to dict"},
		{"stop with open mark", "\x80\x02(N.", Options{}, "1 unclosed MARKs"},
		{"stop on empty stack", "\x80\x02.", Options{}, "empty stack"},
		{"tuple without mark", "\x80\x02Nt.", Options{}, "no MARK"},
		{"memo limit", "\x80\x04N\x94\x94\x94.", Options{MaxMemo: 2}, "memo over the limit of 2 entries"},
		{"sparse memo limit", "\x80\x04Nr\x00\x00\x01\x00r\x00\x00\x02\x00r\x00\x00\x03\x00.", Options{MaxMemo: 2}, "memo over the limit of 2 entries"},
		{"value limit", "\x80\x04]NaNaNa.", Options{MaxValues: 3}, "more than 3 values"},
		{"stack limit", "\x80\x04NNNN.", Options{MaxStack: 3}, "stack over the limit of 3 values"},
		{"input limit", "\x80\x04NNNN.", Options{MaxInput: 5}, "input of 7 bytes is over the limit of 5"},
		{"number limit", "\x80\x02\x8a\x41" + strings.Repeat("\x01", 65) + ".", Options{}, "integer of 65 bytes is over the limit of 64"},
		{"out-of-band buffer", "\x80\x05\x97.", Options{}, "out-of-band buffers are not supported"},
		{"odd setitems", "\x80\x02}(K\x01u.", Options{}, "odd number of dict items"},
		{"dict key bytes", "\x80\x04}\x8c\x28" + strings.Repeat("k", 40) + "\x94Ns" + strings.Repeat("h\x00Ns", 10) + ".", Options{MaxInput: 100}, "over 200 bytes copied from dict keys and strings in all"},
		{"latin-1 copies", "\x80\x04\x8c\x07_codecs\x8c\x06encode\x93\x94\x8c\x28" + strings.Repeat("k", 40) + "\x94\x8c\x06latin1\x94\x86R0" +
			strings.Repeat("h\x00h\x01h\x02\x86R0", 10) + "N.", Options{MaxInput: 200, Allow: allowOnly("_codecs.encode")}, "over 400 bytes copied from dict keys and strings in all"},
		{"global with a newline", "\x80\x04\x8c\x03o\ns\x8c\x06system\x93.", Options{}, `pickle: global "o\ns.system" is not allowed`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Load([]byte(tc.data), tc.opt)
			if err == nil {
				t.Fatalf("loaded %v, want an error containing %q", v, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
	var ge *GlobalError
	_, err := Load([]byte("cos\nsystem\n."), Options{})
	if !errors.As(err, &ge) || ge.Global != (Global{"os", "system"}) {
		t.Errorf("error %v is not a GlobalError for os.system", err)
	}
}

// TestTruncations loads every proper prefix of every test pickle: each must
// fail with an error, never panic.
func TestTruncations(t *testing.T) {
	for _, h := range protocolPickles {
		data := unhex(t, h)
		for n := 0; n < len(data); n++ {
			if _, err := Load(data[:n], Options{Allow: allowOnly("_codecs.encode")}); err == nil {
				t.Errorf("prefix of %d of %d bytes loaded without error", n, len(data))
			}
		}
	}
}

func TestOnBuildReadsRawBytes(t *testing.T) {
	// NEWOBJ of m.W, BUILD with {'n': 3}, then 3 raw bytes, then STOP.
	data := []byte("\x80\x04\x8c\x01m\x8c\x01W\x93)\x81}\x8c\x01n\x94K\x03sbabc.")
	var seen *Object
	v, err := Load(data, Options{
		Allow: allowOnly("m.W"),
		OnBuild: func(d *Decoder, o *Object) (Value, bool, error) {
			seen = o
			n, _ := o.State.(*Dict).Get("n")
			raw, err := d.ReadRaw(int(n.(int64)))
			return raw, true, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]byte("abc"), v); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if seen == nil || seen.Callable != (Global{"m", "W"}) {
		t.Errorf("OnBuild saw %v", seen)
	}
}

// FuzzMachine checks that no input makes the machine panic or loop, and
// that globals are refused unless allowed.
func FuzzMachine(f *testing.F) {
	for _, h := range protocolPickles {
		f.Add(unhex(f, h))
	}
	f.Add(unhex(f, "8005951e000000000000005d94288f94284b014b0290284b039194960200000000000000787994652e"))
	f.Add([]byte("cos\nsystem\n(S'x'\ntR."))
	f.Add([]byte("\x80\x04\x8c\x0bcollections\x8c\x0bOrderedDict\x93)R(K\x01K\x02u."))
	f.Add([]byte("(I3\nim\nC\n."))
	// Real scikit-learn model pickles (protocols 2 and 5).
	for _, file := range []string{"reference/models/model_1_1", "sklearn/models/rbf_nf4_every_pickle5.pkl"} {
		data, err := os.ReadFile(filepath.Join("..", "svm", "testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		opt := Options{Allow: allowOnly("_codecs.encode", "collections.OrderedDict", "m.C",
			"sklearn.pipeline.Pipeline", "numpy.core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype"),
			MaxMemo: 1000, MaxStack: 10000}
		v, err := Load(data, opt)
		var ge *GlobalError
		if errors.As(err, &ge) && opt.Allow(ge.Global) {
			t.Errorf("allowed global %v refused", ge.Global)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
		// Whatever loads can be printed: no nesting deep enough to
		// overflow fmt's recursion.
		_ = fmt.Sprint(v)
	})
}

// TestDepthLimit nests containers one more than MaxDepth deep in every way a
// stream can (a million deep would overflow the stack of any code that walks
// the tree recursively, fmt's %v among them): each is refused, and the same
// nesting at MaxDepth loads.
func TestDepthLimit(t *testing.T) {
	const limit = 5
	rep := func(s string, n int) string { return strings.Repeat(s, n) }
	// Each builds a container holding n nested containers of its kind.
	nest := map[string]func(n int) string{
		"TUPLE1":      func(n int) string { return "N" + rep("\x85", n) },
		"TUPLE":       func(n int) string { return rep("(", n) + "N" + rep("t", n) },
		"EMPTY_TUPLE": func(n int) string { return ")" + rep("\x85", n-1) },
		"LIST":        func(n int) string { return rep("(", n) + rep("l", n) },
		"APPEND":      func(n int) string { return rep("]", n) + rep("a", n-1) },
		"APPENDS":     func(n int) string { return rep("](", n) + rep("e", n-1) + "1" },
		"SETITEM":     func(n int) string { return rep("}K\x01", n-1) + "}" + rep("s", n-1) },
		"DICT":        func(n int) string { return rep("(K\x01", n-1) + "(d" + rep("d", n-1) },
		"FROZENSET":   func(n int) string { return rep("(", n) + rep("\x91", n) },
		"ADDITEMS":    func(n int) string { return rep("\x8f(", n-1) + "\x8f" + rep("\x90", n-1) },
		"REDUCE": func(n int) string {
			return rep("\x8c\x01m\x8c\x01f\x93", n/2) + ")" + rep("R\x85", n/2-1) + "R"
		},
		// An object made by NEWOBJ with () is already two deep.
		"BUILD": func(n int) string { return rep("\x8c\x01m\x8c\x01f\x93)\x81", n-1) + rep("b", n-2) },
		"MEMO": func(n int) string {
			s := "N\x85\x94"
			for i := range n - 1 {
				s += "0h" + string(rune(i)) + "\x85\x94"
			}
			return s
		},
		"DUP": func(n int) string { return "N" + rep("\x852", n) + rep("0", n) },
		"OBJ": func(n int) string { return rep("(\x8c\x01m\x8c\x01f\x93", n/2) + "N" + rep("o", n/2) },
		"SETITEMS": func(n int) string {
			return rep("}(K\x01", n-1) + "}" + rep("u", n-1)
		},
	}
	opt := Options{MaxDepth: limit, Allow: allowOnly("m.f")}
	for name, f := range nest {
		t.Run(name, func(t *testing.T) {
			ok := "\x80\x04" + f(limit) + "."
			if _, err := Load([]byte(ok), opt); err != nil {
				t.Errorf("depth %d: %v", limit, err)
			}
			deep := "\x80\x04" + f(limit+2) + "."
			v, err := Load([]byte(deep), opt)
			if err == nil || !strings.Contains(err.Error(), "containers nested more than 5 deep") {
				t.Errorf("depth %d: loaded %v, error %v; want the depth limit", limit+2, v, err)
			}
		})
	}
	// The default limit, against a million nested tuples in a 1 MB stream.
	_, err := Load([]byte("\x80\x04N"+rep("\x85", 1<<20)+"."), Options{})
	if err == nil || !strings.Contains(err.Error(), "containers nested more than 200 deep") {
		t.Errorf("a million nested tuples: %v", err)
	}
}
