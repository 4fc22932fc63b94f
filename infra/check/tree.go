package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Node is one named node of a tree-sitter-bicep syntax tree, as parse.js prints it.
type Node struct {
	T        string  `json:"t"` // node type: object, object_property, string, identifier, ...
	R        int     `json:"r"` // 1-based line
	B        int     `json:"b"` // byte span in the source
	E        int     `json:"e"`
	F        string  `json:"f"` // field name in the parent, if any
	X        string  `json:"x"` // text of a leaf
	Existing bool    `json:"existing"`
	C        []*Node `json:"c"`
}

// SyntaxError is an ERROR or MISSING node.
type SyntaxError struct {
	R       int    `json:"r"`
	Col     int    `json:"col"`
	Missing bool   `json:"missing"`
	T       string `json:"t"`
	Text    string `json:"text"`
}

// File is one parsed .bicep or .bicepparam file.
type File struct {
	Path   string // as given to parse.js
	Name   string // as shown in messages (infra/bicep/...)
	Src    []byte
	Errors []SyntaxError
	Tree   *Node
}

// parseFiles runs parse.js (tree-sitter + tree-sitter-bicep from node_modules) over paths.
func parseFiles(script string, paths, names []string) ([]*File, error) {
	cmd := exec.Command("node", append([]string{script}, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("node %s: %v: %s (run `npm ci` in the repository root: tree-sitter and tree-sitter-bicep come from package.json)", script, err, strings.TrimSpace(stderr.String()))
	}
	var raw []struct {
		File   string        `json:"file"`
		Errors []SyntaxError `json:"errors"`
		Tree   *Node         `json:"tree"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("parse.js output: %w", err)
	}
	if len(raw) != len(paths) {
		return nil, fmt.Errorf("parse.js returned %d files for %d", len(raw), len(paths))
	}
	files := make([]*File, len(raw))
	for i, r := range raw {
		src, err := os.ReadFile(paths[i])
		if err != nil {
			return nil, err
		}
		files[i] = &File{Path: paths[i], Name: names[i], Src: src, Errors: r.Errors, Tree: r.Tree}
	}
	return files, nil
}

// Text is the node's source text.
func (f *File) Text(n *Node) string {
	if n == nil || n.B < 0 || n.E > len(f.Src) || n.B > n.E {
		return ""
	}
	return string(f.Src[n.B:n.E])
}

// kids returns the children that are not comments.
func (n *Node) kids() []*Node {
	var out []*Node
	for _, c := range n.C {
		if c.T != "comment" {
			out = append(out, c)
		}
	}
	return out
}

// child returns the first non-comment child of type t.
func (n *Node) child(t string) *Node {
	for _, c := range n.C {
		if c.T == t {
			return c
		}
	}
	return nil
}

// field returns the child with field name f.
func (n *Node) field(f string) *Node {
	for _, c := range n.C {
		if c.F == f {
			return c
		}
	}
	return nil
}

// walk calls fn for n and every descendant, depth first.
func (n *Node) walk(fn func(*Node)) {
	if n == nil {
		return
	}
	fn(n)
	for _, c := range n.C {
		c.walk(fn)
	}
}

// literal returns the value of a string node without interpolation.
func literal(n *Node) (string, bool) {
	if n == nil || n.T != "string" {
		return "", false
	}
	var b strings.Builder
	for _, c := range n.C {
		switch c.T {
		case "string_content":
			b.WriteString(c.X)
		case "escape_sequence":
			b.WriteString(strings.NewReplacer(`\'`, `'`, `\\`, `\`, `\n`, "\n", `\t`, "\t", `\$`, "$").Replace(c.X))
		default:
			return "", false
		}
	}
	return b.String(), true
}

// key returns an object property's key when it is an identifier or a literal string.
func key(prop *Node) (string, bool) {
	k := prop.kids()
	if len(k) == 0 {
		return "", false
	}
	if k[0].T == "identifier" {
		return k[0].X, true
	}
	return literal(k[0])
}

// value returns an object property's value node.
func value(prop *Node) *Node {
	k := prop.kids()
	if len(k) < 2 {
		return nil
	}
	return k[len(k)-1]
}

// props returns an object's properties.
func props(obj *Node) []*Node {
	if obj == nil || obj.T != "object" {
		return nil
	}
	var out []*Node
	for _, c := range obj.C {
		if c.T == "object_property" {
			out = append(out, c)
		}
	}
	return out
}

// prop returns the value of obj's property k.
func prop(obj *Node, k string) *Node {
	for _, p := range props(obj) {
		if name, ok := key(p); ok && name == k {
			return value(p)
		}
	}
	return nil
}

// objects returns the object literals an expression can evaluate to: the object itself, both
// branches of a condition, the body of a for or if, the inside of parentheses.
func objects(n *Node) []*Node {
	if n == nil {
		return nil
	}
	switch n.T {
	case "object":
		return []*Node{n}
	case "ternary_expression":
		return append(objects(n.field("consequence")), objects(n.field("alternative"))...)
	case "for_statement":
		return objects(n.field("body"))
	case "if_statement", "parenthesized_expression":
		k := n.kids()
		return objects(k[len(k)-1])
	}
	return nil
}

// Resource is a resource declaration.
type Resource struct {
	File     *File
	Node     *Node
	Symbol   string
	Type     string // Microsoft.Web/sites
	Version  string // 2023-12-01
	Existing bool
	Bodies   []*Node // the object literal(s) of the declaration
}

func resources(files []*File) []*Resource {
	var out []*Resource
	for _, f := range files {
		for _, n := range f.Tree.C {
			if n.T != "resource_declaration" {
				continue
			}
			k := n.kids()
			if len(k) < 3 {
				continue
			}
			r := &Resource{File: f, Node: n, Symbol: k[0].X, Existing: n.Existing}
			ts, _ := literal(k[1])
			r.Type, r.Version, _ = strings.Cut(ts, "@")
			r.Bodies = objects(k[len(k)-1])
			out = append(out, r)
		}
	}
	return out
}

// decl returns a file's top-level declarations of node type t (parameter_declaration, output_declaration,
// variable_declaration, module_declaration) with the decorators that precede each.
type declaration struct {
	Node       *Node
	Name       string
	Decorators []*Node
}

func decls(f *File, t string) []declaration {
	var out []declaration
	var decos []*Node
	for _, n := range f.Tree.C {
		switch n.T {
		case "comment":
			continue
		case "decorators":
			decos = append(decos, n.C...)
			continue
		case t:
			name := ""
			if id := n.child("identifier"); id != nil {
				name = id.X
			}
			out = append(out, declaration{Node: n, Name: name, Decorators: decos})
		}
		decos = nil
	}
	return out
}
