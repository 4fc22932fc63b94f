package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Default limits, used when the Options field is 0.
const (
	DefaultMaxInput       = 512 << 20 // bytes of input
	DefaultMaxMemo        = 1 << 18   // memo entries
	DefaultMaxStack       = 1 << 20   // values on the stack (all marks together)
	DefaultMaxValues      = 1 << 20   // values pushed in all (made or fetched from the memo)
	DefaultMaxMarks       = 256       // MARKs open at once
	DefaultMaxNumberBytes = 64        // bytes of a LONG1/LONG4, digits of a text number
	DefaultMaxNested      = 4         // Decode called from OnBuild inside Decode
	DefaultMaxDepth       = 200       // containers inside containers
)

// ErrTruncated is wrapped by the error returned when the stream ends before
// its STOP opcode or in the middle of an opcode's argument.
var ErrTruncated = errors.New("pickle: unexpected end of data")

// GlobalError is returned when the stream names a global that is not on the
// allow-list.
type GlobalError struct {
	Global Global
}

func (e *GlobalError) Error() string {
	return "pickle: global " + e.Global.String() + " is not allowed"
}

// Options configure a Decoder. The zero value allows no global at all.
type Options struct {
	// Allow reports whether a global may appear in the stream. Nothing is
	// ever imported or called: an allowed global only becomes a Global value.
	Allow func(Global) bool

	// Limits; 0 means the default.
	MaxInput       int
	MaxMemo        int
	MaxStack       int
	MaxValues      int
	MaxMarks       int
	MaxNumberBytes int
	// MaxDepth bounds how deeply containers (tuples, lists, dicts, sets,
	// objects) nest, as they are built: a container is one deeper than the
	// deepest value put into it. Code that walks the tree recursively
	// (fmt's %v of nested tuples, for one) then cannot overflow the stack.
	MaxDepth int

	// OnBuild, if set, is called after each BUILD with the object it
	// applied to (only *Object targets). When it returns replace=true, v
	// takes the object's place on the stack (as joblib's unpickler replaces
	// its array wrappers with arrays). It may read raw bytes that follow the
	// BUILD opcode with d.ReadRaw, or a nested pickle with d.Decode.
	OnBuild func(d *Decoder, obj *Object) (v Value, replace bool, err error)
}

// Decoder reads pickles from a byte slice.
type Decoder struct {
	data   []byte
	pos    int
	opt    Options
	nested int
	depth  int // nesting depth of the value the last Decode returned
}

// NewDecoder returns a decoder reading data from its start.
func NewDecoder(data []byte, opt Options) *Decoder {
	if opt.MaxInput <= 0 {
		opt.MaxInput = DefaultMaxInput
	}
	if opt.MaxMemo <= 0 {
		opt.MaxMemo = DefaultMaxMemo
	}
	if opt.MaxStack <= 0 {
		opt.MaxStack = DefaultMaxStack
	}
	if opt.MaxValues <= 0 {
		opt.MaxValues = DefaultMaxValues
	}
	if opt.MaxMarks <= 0 {
		opt.MaxMarks = DefaultMaxMarks
	}
	if opt.MaxNumberBytes <= 0 {
		opt.MaxNumberBytes = DefaultMaxNumberBytes
	}
	if opt.MaxDepth <= 0 {
		opt.MaxDepth = DefaultMaxDepth
	}
	return &Decoder{data: data, opt: opt}
}

// Load decodes the one pickle at the start of data. Bytes after its STOP
// opcode are ignored, as Python's pickle.loads ignores them.
func Load(data []byte, opt Options) (Value, error) {
	return NewDecoder(data, opt).Decode()
}

// Offset returns the offset of the next byte to read.
func (d *Decoder) Offset() int { return d.pos }

// Remaining returns the number of bytes left after Offset.
func (d *Decoder) Remaining() int { return len(d.data) - d.pos }

// ReadRaw returns the next n bytes (a sub-slice of the input, not a copy)
// and moves past them.
func (d *Decoder) ReadRaw(n int) ([]byte, error) {
	if n < 0 || n > len(d.data)-d.pos {
		return nil, fmt.Errorf("%w: %d bytes wanted at offset %d, %d left", ErrTruncated, n, d.pos, len(d.data)-d.pos)
	}
	b := d.data[d.pos : d.pos+n : d.pos+n]
	d.pos += n
	return b, nil
}

// Decode reads one pickle from the current offset up to and including its
// STOP opcode and returns the value it holds.
func (d *Decoder) Decode() (Value, error) {
	if len(d.data) > d.opt.MaxInput {
		return nil, fmt.Errorf("pickle: input of %d bytes is over the limit of %d", len(d.data), d.opt.MaxInput)
	}
	if d.nested >= DefaultMaxNested {
		return nil, errors.New("pickle: nested pickles too deep")
	}
	if d.pos >= len(d.data) {
		return nil, fmt.Errorf("%w: no pickle at offset %d", ErrTruncated, d.pos)
	}
	d.nested++
	defer func() { d.nested-- }()
	m := machine{d: d}
	v, depth, err := m.run()
	d.depth = depth
	return v, err
}

type machine struct {
	d      *Decoder
	stack  []Value
	depths []int // depths[i] is the nesting depth of stack[i] if it is a Tuple
	marks  []int
	memo   []memoEntry       // dense part of the memo, indexed by memo index
	sparse map[int]memoEntry // memo indexes far beyond the dense part
	nmemo  int               // entries stored, the index MEMOIZE uses
	pushes int               // values pushed so far (bounded by MaxValues)
	copied int               // bytes copied from values already made (see copyBudget)
	proto  int
	// cdepth is the nesting depth of each list, dict, set and object made
	// (they may grow after they are pushed); a tuple's depth travels with it
	// on the stack and in the memo.
	cdepth map[Value]int
}

// push pushes a value that is not a Tuple (see pushDepth).
func (m *machine) push(v Value) error {
	return m.pushDepth(v, m.depthOf(v))
}

// pushDepth pushes v, whose nesting depth is depth.
func (m *machine) pushDepth(v Value, depth int) error {
	if len(m.stack) >= m.d.opt.MaxStack {
		return fmt.Errorf("stack over the limit of %d values", m.d.opt.MaxStack)
	}
	if m.pushes >= m.d.opt.MaxValues {
		return fmt.Errorf("more than %d values", m.d.opt.MaxValues)
	}
	if depth > m.d.opt.MaxDepth {
		return fmt.Errorf("containers nested more than %d deep", m.d.opt.MaxDepth)
	}
	m.pushes++
	m.stack = append(m.stack, v)
	m.depths = append(m.depths, depth)
	return nil
}

// depthOf is the nesting depth of a value that is not a Tuple: 0 for a
// scalar, the recorded depth of a list, dict, set or object.
func (m *machine) depthOf(v Value) int {
	switch v.(type) {
	case *List, *Dict, *Set, *Object:
		return m.cdepth[v]
	}
	return 0
}

// container records the depth of a new list, dict, set or object: one more
// than the deepest of its items.
func (m *machine) container(v Value, itemDepth int) Value {
	if m.cdepth == nil {
		m.cdepth = make(map[Value]int)
	}
	m.cdepth[v] = itemDepth + 1
	return v
}

// grow records that items of depth itemDepth went into the container c.
func (m *machine) grow(c Value, itemDepth int) error {
	if m.cdepth == nil {
		m.cdepth = make(map[Value]int)
	}
	if d := itemDepth + 1; d > m.cdepth[c] {
		if d > m.d.opt.MaxDepth {
			return fmt.Errorf("containers nested more than %d deep", m.d.opt.MaxDepth)
		}
		m.cdepth[c] = d
	}
	return nil
}

// base is the stack index above the innermost mark.
func (m *machine) base() int {
	if len(m.marks) == 0 {
		return 0
	}
	return m.marks[len(m.marks)-1]
}

func (m *machine) pop() (Value, bool) {
	v, _, ok := m.popDepth()
	return v, ok
}

// popDepth pops a value and its nesting depth.
func (m *machine) popDepth() (Value, int, bool) {
	if len(m.stack) <= m.base() {
		return nil, 0, false
	}
	n := len(m.stack) - 1
	v, d := m.stack[n], m.stackDepth(n)
	m.stack[n] = nil
	m.stack, m.depths = m.stack[:n], m.depths[:n]
	return v, d, true
}

// stackDepth is the nesting depth of stack[i] now (a list, dict, set or
// object may have grown since it was pushed).
func (m *machine) stackDepth(i int) int {
	if _, isTuple := m.stack[i].(Tuple); isTuple {
		return m.depths[i]
	}
	return m.depthOf(m.stack[i])
}

// maxDepth is the depth of the deepest value from stack[i] up.
func (m *machine) maxDepth(i int) int {
	d := 0
	for ; i < len(m.stack); i++ {
		d = max(d, m.stackDepth(i))
	}
	return d
}

func (m *machine) top() (Value, bool) {
	if len(m.stack) <= m.base() {
		return nil, false
	}
	return m.stack[len(m.stack)-1], true
}

// popMark returns the values above the innermost mark (a fresh slice) and
// the depth of the deepest, and removes them and the mark.
func (m *machine) popMark() ([]Value, int, bool) {
	if len(m.marks) == 0 {
		return nil, 0, false
	}
	b := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := append([]Value(nil), m.stack[b:]...)
	depth := m.maxDepth(b)
	clear(m.stack[b:])
	m.stack, m.depths = m.stack[:b], m.depths[:b]
	return items, depth, true
}

func (m *machine) readByte() (byte, error) {
	b, err := m.d.ReadRaw(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (m *machine) readUint(n int) (uint64, error) {
	b, err := m.d.ReadRaw(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// readLen reads an n-byte little-endian length and checks it against the
// bytes present.
func (m *machine) readLen(n int) (int, error) {
	v, err := m.readUint(n)
	if err != nil {
		return 0, err
	}
	if v > uint64(m.d.Remaining()) {
		return 0, fmt.Errorf("%w: length %d at offset %d, %d bytes left", ErrTruncated, v, m.d.pos-n, m.d.Remaining())
	}
	return int(v), nil
}

// readLine reads up to and excluding the next '\n' (text opcodes).
func (m *machine) readLine() (string, error) {
	rest := m.d.data[m.d.pos:]
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		return "", fmt.Errorf("%w: no end of line after offset %d", ErrTruncated, m.d.pos)
	}
	m.d.pos += i + 1
	return string(rest[:i]), nil
}

type memoEntry struct {
	v     Value
	depth int
	ok    bool
}

func (m *machine) memoPut(idx int, v Value, depth int) error {
	if idx < 0 {
		return fmt.Errorf("negative memo index %d", idx)
	}
	if idx > 2*m.nmemo+1024 || idx >= m.d.opt.MaxMemo {
		// Far beyond the entries stored so far: keep it in a map, so that
		// the dense part stays within twice the entries (real pickles
		// number their entries 0, 1, 2, ...).
		if m.sparse == nil {
			m.sparse = make(map[int]memoEntry)
		}
		if _, ok := m.sparse[idx]; !ok {
			if m.nmemo >= m.d.opt.MaxMemo {
				return fmt.Errorf("memo over the limit of %d entries", m.d.opt.MaxMemo)
			}
			m.nmemo++
		}
		m.sparse[idx] = memoEntry{v: v, depth: depth, ok: true}
		return nil
	}
	if idx >= len(m.memo) {
		m.memo = slices.Grow(m.memo, idx+1-len(m.memo))[:idx+1]
	}
	if !m.memo[idx].ok {
		if m.nmemo >= m.d.opt.MaxMemo {
			return fmt.Errorf("memo over the limit of %d entries", m.d.opt.MaxMemo)
		}
		m.nmemo++
	}
	m.memo[idx] = memoEntry{v: v, depth: depth, ok: true}
	return nil
}

func (m *machine) memoGet(idx int) (memoEntry, error) {
	if idx >= 0 && idx < len(m.memo) && m.memo[idx].ok {
		return m.memo[idx], nil
	}
	if e, ok := m.sparse[idx]; ok {
		return e, nil
	}
	return memoEntry{}, fmt.Errorf("memo index %d was never stored", idx)
}

func (m *machine) global(mod, name string) (Value, error) {
	g := Global{Module: mod, Name: name}
	if m.d.opt.Allow == nil || !m.d.opt.Allow(g) {
		return nil, &GlobalError{Global: g}
	}
	return g, nil
}

// run executes opcodes up to STOP.
func (m *machine) run() (Value, int, error) {
	for {
		start := m.d.pos
		op, err := m.readByte()
		if err != nil {
			return nil, 0, fmt.Errorf("%w: no STOP opcode", ErrTruncated)
		}
		if op == opStop {
			v, depth, ok := m.popDepth()
			if !ok {
				return nil, 0, fmt.Errorf("pickle: opcode STOP at offset %d: empty stack", start)
			}
			if len(m.marks) != 0 {
				return nil, 0, fmt.Errorf("pickle: opcode STOP at offset %d: %d unclosed MARKs", start, len(m.marks))
			}
			return v, depth, nil
		}
		if err := m.step(op); err != nil {
			// Refused globals and truncation speak for themselves; every
			// other error gets the opcode and its offset.
			var ge *GlobalError
			if errors.As(err, &ge) || errors.Is(err, ErrTruncated) {
				return nil, 0, err
			}
			return nil, 0, fmt.Errorf("pickle: opcode %s at offset %d: %w", opName(op), start, err)
		}
	}
}

func (m *machine) step(op byte) error {
	switch op {
	case opProto:
		v, err := m.readByte()
		if err != nil {
			return err
		}
		if v > 5 {
			return fmt.Errorf("unsupported protocol %d", v)
		}
		m.proto = int(v)
		return nil
	case opFrame:
		_, err := m.readLen(8) // frames are only a read-ahead hint
		return err
	case opMark:
		if len(m.marks) >= m.d.opt.MaxMarks {
			return fmt.Errorf("more than %d nested MARKs", m.d.opt.MaxMarks)
		}
		m.marks = append(m.marks, len(m.stack))
		return nil
	case opPop:
		if _, ok := m.pop(); !ok {
			if len(m.marks) > 0 && len(m.stack) == m.base() {
				m.marks = m.marks[:len(m.marks)-1] // POP of a bare mark, as Python allows
				return nil
			}
			return errors.New("empty stack")
		}
		return nil
	case opPopMark:
		if _, _, ok := m.popMark(); !ok {
			return errors.New("no MARK")
		}
		return nil
	case opDup:
		v, ok := m.top()
		if !ok {
			return errors.New("empty stack")
		}
		return m.pushDepth(v, m.stackDepth(len(m.stack)-1))

	// Constants and numbers.
	case opNone:
		return m.push(nil)
	case opNewTrue:
		return m.push(true)
	case opNewFalse:
		return m.push(false)
	case opBinInt:
		v, err := m.readUint(4)
		if err != nil {
			return err
		}
		return m.push(int64(int32(uint32(v))))
	case opBinInt1:
		v, err := m.readUint(1)
		if err != nil {
			return err
		}
		return m.push(int64(v))
	case opBinInt2:
		v, err := m.readUint(2)
		if err != nil {
			return err
		}
		return m.push(int64(v))
	case opLong1, opLong4:
		w := 1
		if op == opLong4 {
			w = 4
		}
		n, err := m.readLen(w)
		if err != nil {
			return err
		}
		if n > m.d.opt.MaxNumberBytes {
			return fmt.Errorf("integer of %d bytes is over the limit of %d", n, m.d.opt.MaxNumberBytes)
		}
		b, err := m.d.ReadRaw(n)
		if err != nil {
			return err
		}
		return m.push(decodeLong(b))
	case opInt:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		switch line {
		case "00":
			return m.push(false)
		case "01":
			return m.push(true)
		}
		v, err := m.parseInt(line)
		if err != nil {
			return err
		}
		return m.push(v)
	case opLong:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		v, err := m.parseInt(strings.TrimSuffix(line, "L"))
		if err != nil {
			return err
		}
		return m.push(v)
	case opFloat:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		if len(line) > m.d.opt.MaxNumberBytes {
			return fmt.Errorf("float text of %d bytes is over the limit", len(line))
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
		if err != nil {
			return fmt.Errorf("bad float %q", line)
		}
		return m.push(f)
	case opBinFloat:
		v, err := m.d.ReadRaw(8)
		if err != nil {
			return err
		}
		return m.push(math.Float64frombits(binary.BigEndian.Uint64(v)))

	// Strings and bytes.
	case opBinUnicode, opShortBinUnicode, opBinUnicode8:
		n, err := m.readLen(lenWidth(op))
		if err != nil {
			return err
		}
		b, err := m.d.ReadRaw(n)
		if err != nil {
			return err
		}
		return m.push(string(b))
	case opUnicode:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		s, err := rawUnicodeEscape(line)
		if err != nil {
			return err
		}
		return m.push(s)
	case opBinBytes, opShortBinBytes, opBinBytes8, opByteArray8, opBinString, opShortBinString:
		n, err := m.readLen(lenWidth(op))
		if err != nil {
			return err
		}
		b, err := m.d.ReadRaw(n)
		if err != nil {
			return err
		}
		return m.push(b)
	case opString:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		b, err := pyStringLiteral(line)
		if err != nil {
			return err
		}
		return m.push(b)
	case opNextBuffer:
		return errors.New("out-of-band buffers are not supported")
	case opReadonlyBuffer:
		if _, ok := m.top(); !ok {
			return errors.New("empty stack")
		}
		return nil

	// Containers.
	case opEmptyTuple:
		return m.pushDepth(Tuple{}, 1)
	case opTuple:
		items, depth, ok := m.popMark()
		if !ok {
			return errors.New("no MARK")
		}
		return m.pushDepth(Tuple(items), depth+1)
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		if len(m.stack)-m.base() < n {
			return fmt.Errorf("stack has fewer than %d values", n)
		}
		k := len(m.stack) - n
		t := append(Tuple(nil), m.stack[k:]...)
		depth := m.maxDepth(k)
		clear(m.stack[k:])
		m.stack, m.depths = m.stack[:k], m.depths[:k]
		return m.pushDepth(t, depth+1)
	case opEmptyList:
		return m.push(m.container(&List{}, 0))
	case opList:
		items, depth, ok := m.popMark()
		if !ok {
			return errors.New("no MARK")
		}
		return m.push(m.container(&List{Items: items}, depth))
	case opAppend:
		v, depth, ok := m.popDepth()
		if !ok {
			return errors.New("empty stack")
		}
		return m.appendTo([]Value{v}, depth)
	case opAppends:
		items, depth, ok := m.popMark()
		if !ok {
			return errors.New("no MARK")
		}
		return m.appendTo(items, depth)
	case opEmptyDict:
		return m.push(m.container(NewDict(), 0))
	case opDict:
		items, depth, ok := m.popMark()
		if !ok {
			return errors.New("no MARK")
		}
		d := NewDict()
		if err := m.setItems(d, items); err != nil {
			return err
		}
		return m.push(m.container(d, depth))
	case opSetItem:
		if len(m.stack)-m.base() < 3 {
			return errors.New("SETITEM needs a target, a key and a value")
		}
		v, vd, _ := m.popDepth()
		k, kd, _ := m.popDepth()
		return m.setItemsOn([]Value{k, v}, max(kd, vd))
	case opSetItems:
		items, depth, ok := m.popMark()
		if !ok {
			return errors.New("no MARK")
		}
		return m.setItemsOn(items, depth)
	case opEmptySet:
		return m.push(m.container(&Set{}, 0))
	case opAddItems:
		items, depth, ok := m.popMark()
		if !ok {
			return errors.New("no MARK")
		}
		t, ok := m.top()
		if !ok {
			return errors.New("empty stack")
		}
		s, ok := t.(*Set)
		if !ok || s.Frozen {
			return fmt.Errorf("ADDITEMS on %s", TypeName(t))
		}
		s.Items = append(s.Items, items...)
		return m.grow(s, depth)
	case opFrozenSet:
		items, depth, ok := m.popMark()
		if !ok {
			return errors.New("no MARK")
		}
		return m.push(m.container(&Set{Items: items, Frozen: true}, depth))

	// Memo.
	case opPut:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		idx, err := strconv.Atoi(line)
		if err != nil {
			return fmt.Errorf("bad memo index %q", line)
		}
		return m.memoTop(idx)
	case opBinPut:
		v, err := m.readUint(1)
		if err != nil {
			return err
		}
		return m.memoTop(int(v))
	case opLongBinPut:
		v, err := m.readUint(4)
		if err != nil {
			return err
		}
		return m.memoTop(int(v))
	case opMemoize:
		return m.memoTop(m.nmemo)
	case opGet, opBinGet, opLongBinGet:
		var idx int
		switch op {
		case opGet:
			line, err := m.readLine()
			if err != nil {
				return err
			}
			i, err := strconv.Atoi(line)
			if err != nil {
				return fmt.Errorf("bad memo index %q", line)
			}
			idx = i
		case opBinGet:
			v, err := m.readUint(1)
			if err != nil {
				return err
			}
			idx = int(v)
		default:
			v, err := m.readUint(4)
			if err != nil {
				return err
			}
			idx = int(v)
		}
		e, err := m.memoGet(idx)
		if err != nil {
			return err
		}
		return m.pushDepth(e.v, m.entryDepth(e))

	// Globals, calls and instances.
	case opGlobal:
		mod, err := m.readLine()
		if err != nil {
			return err
		}
		name, err := m.readLine()
		if err != nil {
			return err
		}
		g, err := m.global(mod, name)
		if err != nil {
			return err
		}
		return m.push(g)
	case opStackGlobal:
		if len(m.stack)-m.base() < 2 {
			return errors.New("STACK_GLOBAL needs two strings")
		}
		nv, _ := m.pop()
		mv, _ := m.pop()
		mod, ok1 := mv.(string)
		name, ok2 := nv.(string)
		if !ok1 || !ok2 {
			return fmt.Errorf("STACK_GLOBAL of %s and %s, want two strings", TypeName(mv), TypeName(nv))
		}
		g, err := m.global(mod, name)
		if err != nil {
			return err
		}
		return m.push(g)
	case opReduce:
		g, args, depth, err := m.popCall("REDUCE")
		if err != nil {
			return err
		}
		v, err := m.reduce(g, args)
		if err != nil {
			return err
		}
		if o, isObj := v.(*Object); isObj {
			m.container(o, depth)
		}
		return m.push(v)
	case opNewObj:
		g, args, depth, err := m.popCall("NEWOBJ")
		if err != nil {
			return err
		}
		return m.push(m.container(&Object{Callable: g, New: true, Args: args}, depth))
	case opNewObjEx:
		if len(m.stack)-m.base() < 3 {
			return errors.New("NEWOBJ_EX needs a class, arguments and keywords")
		}
		kv, kd, _ := m.popDepth()
		kw, ok := kv.(*Dict)
		if !ok {
			return fmt.Errorf("NEWOBJ_EX keywords are %s, not a dict", TypeName(kv))
		}
		g, args, depth, err := m.popCall("NEWOBJ_EX")
		if err != nil {
			return err
		}
		return m.push(m.container(&Object{Callable: g, New: true, Args: args, Kwargs: kw}, max(depth, kd)))
	case opInst:
		mod, err := m.readLine()
		if err != nil {
			return err
		}
		name, err := m.readLine()
		if err != nil {
			return err
		}
		items, depth, ok := m.popMark()
		if !ok {
			return errors.New("no MARK")
		}
		g, err := m.global(mod, name)
		if err != nil {
			return err
		}
		// The arguments tuple is one level: the object is two above its items.
		return m.push(m.container(&Object{Callable: g.(Global), New: true, Args: Tuple(items)}, depth+1))
	case opObj:
		items, depth, ok := m.popMark()
		if !ok || len(items) == 0 {
			return errors.New("OBJ needs a MARK and a class")
		}
		g, ok := items[0].(Global)
		if !ok {
			return fmt.Errorf("OBJ of %s, not a global", TypeName(items[0]))
		}
		return m.push(m.container(&Object{Callable: g, New: true, Args: Tuple(items[1:])}, depth+1))
	case opBuild:
		if len(m.stack)-m.base() < 2 {
			return errors.New("BUILD needs an object and a state")
		}
		state, sd, _ := m.popDepth()
		target, _ := m.top()
		obj, ok := target.(*Object)
		if !ok {
			return fmt.Errorf("BUILD on %s", TypeName(target))
		}
		if obj.HasState {
			return fmt.Errorf("second BUILD on %s", obj.Callable)
		}
		obj.State, obj.HasState = state, true
		if err := m.grow(obj, sd); err != nil {
			return err
		}
		if m.d.opt.OnBuild != nil {
			m.d.depth = 0
			v, replace, err := m.d.opt.OnBuild(m.d, obj)
			if err != nil {
				return err
			}
			if replace {
				// v is the callback's own value or one it decoded with
				// d.Decode (whose depth d.depth holds).
				depth := m.d.depth
				if _, isTuple := v.(Tuple); !isTuple {
					depth = max(depth, m.depthOf(v))
				}
				m.stack[len(m.stack)-1] = v
				m.depths[len(m.depths)-1] = depth
			}
		}
		return nil
	case opPersID, opBinPersID:
		return errors.New("persistent ids are not supported")
	case opExt1, opExt2, opExt4:
		return errors.New("the extension registry is not supported")
	}
	return fmt.Errorf("unknown opcode 0x%02x", op)
}

// popCall pops the arguments tuple and the callable global of REDUCE,
// NEWOBJ and NEWOBJ_EX (op names the opcode in errors), and the arguments'
// nesting depth.
func (m *machine) popCall(op string) (Global, Tuple, int, error) {
	if len(m.stack)-m.base() < 2 {
		return Global{}, nil, 0, fmt.Errorf("%s needs a callable and arguments", op)
	}
	av, depth, _ := m.popDepth()
	fv, _ := m.pop()
	g, ok := fv.(Global)
	if !ok {
		return Global{}, nil, 0, fmt.Errorf("%s of %s, not a global", op, TypeName(fv))
	}
	args, ok := av.(Tuple)
	if !ok {
		return Global{}, nil, 0, fmt.Errorf("%s arguments are %s, not a tuple", op, TypeName(av))
	}
	return g, args, depth, nil
}

func (m *machine) memoTop(idx int) error {
	v, ok := m.top()
	if !ok {
		return errors.New("empty stack")
	}
	return m.memoPut(idx, v, m.stackDepth(len(m.stack)-1))
}

// entryDepth is the depth of a memo entry now: a container may have grown
// since it was memoized.
func (m *machine) entryDepth(e memoEntry) int {
	if _, isTuple := e.v.(Tuple); isTuple {
		return e.depth
	}
	return m.depthOf(e.v)
}

// appendTo appends items, the deepest of depth depth, to the list or
// object on top of the stack.
func (m *machine) appendTo(items []Value, depth int) error {
	t, ok := m.top()
	if !ok {
		return errors.New("APPEND to nothing")
	}
	switch l := t.(type) {
	case *List:
		l.Items = append(l.Items, items...)
	case *Object:
		l.ListItems = append(l.ListItems, items...)
	default:
		return fmt.Errorf("APPEND to %s", TypeName(t))
	}
	return m.grow(t, depth)
}

// setItemsOn sets key, value pairs, the deepest of depth depth, on the dict
// or object on top of the stack.
func (m *machine) setItemsOn(items []Value, depth int) error {
	t, ok := m.top()
	if !ok {
		return errors.New("SETITEMS on nothing")
	}
	switch d := t.(type) {
	case *Dict:
		if err := m.setItems(d, items); err != nil {
			return err
		}
	case *Object:
		if d.DictItems == nil {
			d.DictItems = NewDict()
		}
		if err := m.setItems(d.DictItems, items); err != nil {
			return err
		}
	default:
		return fmt.Errorf("SETITEMS on %s", TypeName(t))
	}
	return m.grow(t, depth)
}

// copyBudget accounts for n bytes copied from a value already made (a dict
// key hashed and copied, a latin-1 string turned into bytes). A value is
// made from input bytes once but may be fetched from the memo a million
// times, so these copies, all together, may not exceed twice the input
// limit; else a long string memoized once would cost terabytes of copying.
func (m *machine) copyBudget(n int) error {
	m.copied += n
	if m.copied > 2*m.d.opt.MaxInput {
		return fmt.Errorf("over %d bytes copied from dict keys and strings in all", 2*m.d.opt.MaxInput)
	}
	return nil
}

// setItems sets key, value pairs on d.
func (m *machine) setItems(d *Dict, items []Value) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number of dict items (%d)", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		switch k := items[i].(type) {
		case string:
			if err := m.copyBudget(len(k)); err != nil {
				return err
			}
		case []byte:
			if err := m.copyBudget(len(k)); err != nil {
				return err
			}
		}
		d.Set(items[i], items[i+1])
	}
	return nil
}

// reduce records g(*args), folding the few reductions that only rebuild
// plain data.
func (m *machine) reduce(g Global, args Tuple) (Value, error) {
	switch {
	case g == Global{"_codecs", "encode"}:
		if len(args) == 2 {
			s, ok1 := args[0].(string)
			enc, ok2 := args[1].(string)
			if ok1 && ok2 && (enc == "latin1" || enc == "latin-1" || enc == "iso-8859-1") {
				if err := m.copyBudget(len(s)); err != nil {
					return nil, err
				}
				return latin1(s)
			}
		}
		return nil, fmt.Errorf("_codecs.encode with unsupported arguments")
	case (g.Module == "builtins" || g.Module == "__builtin__") && (g.Name == "bytes" || g.Name == "bytearray"):
		switch {
		case len(args) == 0:
			return []byte{}, nil
		case len(args) == 1:
			if b, ok := args[0].([]byte); ok {
				return b, nil
			}
		case len(args) == 2:
			s, ok1 := args[0].(string)
			enc, ok2 := args[1].(string)
			if ok1 && ok2 && (enc == "latin1" || enc == "latin-1") {
				if err := m.copyBudget(len(s)); err != nil {
					return nil, err
				}
				return latin1(s)
			}
		}
		return nil, fmt.Errorf("%s with unsupported arguments", g)
	case g == Global{"copyreg", "_reconstructor"} || g == Global{"copy_reg", "_reconstructor"}:
		if len(args) == 3 {
			cls, ok := args[0].(Global)
			base, ok2 := args[1].(Global)
			if ok && ok2 && base.Name == "object" && args[2] == nil {
				return &Object{Callable: cls, New: true}, nil
			}
		}
		return nil, fmt.Errorf("copyreg._reconstructor with unsupported arguments")
	}
	return &Object{Callable: g, Args: args}, nil
}

func latin1(s string) ([]byte, error) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff || r == utf8.RuneError {
			return nil, errors.New("latin-1 string holds a character above U+00FF")
		}
		b = append(b, byte(r))
	}
	return b, nil
}

func (m *machine) parseInt(s string) (Value, error) {
	s = strings.TrimSpace(s)
	if len(s) > m.d.opt.MaxNumberBytes*3 {
		return nil, fmt.Errorf("integer text of %d digits is over the limit", len(s))
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, fmt.Errorf("bad integer %q", s)
	}
	return bigOrInt(b), nil
}

// decodeLong decodes a little-endian two's complement integer (LONG1/LONG4).
func decodeLong(b []byte) Value {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift := uint(64 - 8*len(b))
		return int64(v<<shift) >> shift
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return bigOrInt(v)
}

func lenWidth(op byte) int {
	switch op {
	case opShortBinUnicode, opShortBinBytes, opShortBinString:
		return 1
	case opBinUnicode8, opBinBytes8, opByteArray8:
		return 8
	}
	return 4
}

// rawUnicodeEscape decodes Python's raw-unicode-escape (protocol 0 UNICODE):
// \uXXXX and \UXXXXXXXX escapes, every other byte is a latin-1 character.
func rawUnicodeEscape(s string) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(s) {
				return "", errors.New("truncated \\u escape")
			}
			v, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32)
			if err != nil || v > utf8.MaxRune {
				return "", fmt.Errorf("bad escape %q", s[i:i+2+n])
			}
			sb.WriteRune(rune(v))
			i += 1 + n
			continue
		}
		sb.WriteRune(rune(c))
	}
	return sb.String(), nil
}

// pyStringLiteral decodes the repr of a Python 2 str (protocol 0 STRING).
func pyStringLiteral(s string) ([]byte, error) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
		return nil, fmt.Errorf("STRING argument %.40q is not quoted", s)
	}
	s = s[1 : len(s)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return nil, errors.New("STRING ends in a backslash")
		}
		switch e := s[i]; e {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case '\\', '\'', '"':
			out = append(out, e)
		case 'x':
			if i+3 > len(s) {
				return nil, errors.New("truncated \\x escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("bad escape \\x%s", s[i+1:i+3])
			}
			out = append(out, byte(v))
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 16)
			out = append(out, byte(v))
			i = j - 1
		default:
			out = append(out, '\\', e)
		}
	}
	return out, nil
}

// TypeName names the Python type of a tree value, for error messages:
// "None", "int", "str", "a dict", or the global an object was made by.
func TypeName(v Value) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case Tuple:
		return "tuple"
	case *List:
		return "list"
	case *Dict:
		return "dict"
	case *Set:
		return "set"
	case Global:
		return "global " + x.String()
	case *Object:
		return x.Callable.String()
	}
	return fmt.Sprintf("%T", v)
}
