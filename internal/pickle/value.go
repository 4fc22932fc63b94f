// Package pickle reads Python pickle streams (protocols 0 to 5) into a plain
// tree of Go values without executing anything.
//
// Python's unpickler imports modules and calls whatever the stream names:
// GLOBAL, REDUCE, NEWOBJ and BUILD run arbitrary code. This machine never
// does. A global is only a name (a Global value) and it must be on the
// caller's allow-list, or the stream is refused with an error naming it
// ("pickle: global os.system is not allowed"). REDUCE, NEWOBJ, NEWOBJ_EX, INST
// and OBJ build an *Object node recording the callable and its arguments;
// BUILD records the state on that node; APPEND(S) and SETITEM(S) on such a
// node record the items. Interpreting the tree (a numpy array, a scikit-learn
// estimator) is the caller's job.
//
// The value types are:
//
//	None                    nil
//	bool                    bool
//	int                     int64, or *big.Int when it does not fit
//	float                   float64
//	str                     string
//	bytes, bytearray        []byte (Python 2 str too: STRING, BINSTRING)
//	tuple                   Tuple
//	list                    *List
//	dict                    *Dict
//	set, frozenset          *Set
//	a global name           Global
//	a call or instance      *Object
//
// A few reductions that only rebuild plain data are folded while loading
// when their global is allowed: _codecs.encode(s, "latin1") (how protocol 2
// stores bytes) gives []byte, builtins.bytes()/bytearray() give []byte, and
// copyreg._reconstructor(cls, object, None) (protocols 0 and 1) gives an
// *Object of class cls.
//
// Limits (Options) bound the input size, the memo, the stack, the number of
// values made, the mark nesting, the nesting depth of containers, the size of
// numbers and the bytes copied from values already made; every length in the
// stream is checked against the bytes actually present before anything is
// allocated, so the memory used is bounded by the input size plus a fixed
// amount, whatever the stream says.
package pickle

import (
	"math/big"
	"strconv"
	"unicode"
)

// Value is any value of the tree: see the package documentation for the
// concrete types.
type Value = any

// Global is a module-level name, as GLOBAL, STACK_GLOBAL and INST carry it.
type Global struct {
	Module string
	Name   string
}

// String returns "module.name", quoted as a Go string if either part holds
// anything but letters, digits, '_' and '.' (so that a hostile name cannot
// break an error message over lines).
func (g Global) String() string {
	s := g.Module + "." + g.Name
	for _, c := range s {
		if !(c == '_' || c == '.' || unicode.IsLetter(c) || unicode.IsDigit(c)) {
			return strconv.Quote(s)
		}
	}
	return s
}

// Tuple is a Python tuple.
type Tuple []Value

// List is a Python list. It is a pointer type because a pickle may refer to
// the same list from several places and append to it after it was memoized.
type List struct {
	Items []Value
}

// Set is a Python set or frozenset.
type Set struct {
	Items  []Value
	Frozen bool
}

// Dict is a Python dict, keeping insertion order. A str key (or a bytes
// key, as Python 2 str keys arrive) replaces an earlier equal key, as Python
// does; other keys are kept as they come.
type Dict struct {
	Keys   []Value
	Values []Value
	index  map[string]int // "s"+str or "b"+bytes -> position
}

// NewDict returns an empty dict.
func NewDict() *Dict { return &Dict{} }

// Len returns the number of entries.
func (d *Dict) Len() int { return len(d.Keys) }

func indexKey(k Value) (string, bool) {
	switch s := k.(type) {
	case string:
		return "s" + s, true
	case []byte:
		return "b" + string(s), true
	}
	return "", false
}

// Set adds or replaces an entry.
func (d *Dict) Set(k, v Value) {
	if ik, ok := indexKey(k); ok {
		if d.index == nil {
			d.index = make(map[string]int)
		}
		if i, ok := d.index[ik]; ok {
			d.Values[i] = v
			return
		}
		d.index[ik] = len(d.Keys)
	}
	d.Keys = append(d.Keys, k)
	d.Values = append(d.Values, v)
}

// Get returns the value stored under the str key k or, failing that, under
// the bytes key k (a Python 2 str).
func (d *Dict) Get(k string) (Value, bool) {
	if d == nil || d.index == nil {
		return nil, false
	}
	if i, ok := d.index["s"+k]; ok {
		return d.Values[i], true
	}
	if i, ok := d.index["b"+k]; ok {
		return d.Values[i], true
	}
	return nil, false
}

// Object is what a call or an instantiation in the stream would have made,
// recorded instead of made.
type Object struct {
	// Callable is the allowed global that REDUCE called or NEWOBJ, INST and
	// OBJ instantiated (the class, for NEWOBJ).
	Callable Global
	// New is true when the object came from NEWOBJ, NEWOBJ_EX, INST, OBJ or
	// copyreg._reconstructor (cls.__new__(cls, *Args)); false for REDUCE
	// (Callable(*Args)).
	New bool
	// Args are the positional arguments; Kwargs the keyword arguments of
	// NEWOBJ_EX (nil otherwise).
	Args   Tuple
	Kwargs *Dict
	// State is the argument of BUILD (nil when there was none); HasState
	// tells a BUILD with None apart from no BUILD.
	State    Value
	HasState bool
	// ListItems and DictItems collect APPEND(S) and SETITEM(S) applied to
	// the object (as list-like and dict-like reductions do, such as
	// collections.OrderedDict).
	ListItems []Value
	DictItems *Dict
}

// bigOrInt returns v as an int64 when it fits.
func bigOrInt(v *big.Int) Value {
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}
