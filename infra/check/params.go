package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// paramInfo is a parameter declaration: whether it has a default (or is nullable) and its default.
type paramInfo struct {
	line     int
	optional bool
	def      *Node
	secure   bool
}

func paramsOf(f *File) map[string]paramInfo {
	out := map[string]paramInfo{}
	for _, d := range decls(f, "parameter_declaration") {
		k := d.Node.kids()
		pi := paramInfo{line: d.Node.R}
		if len(k) >= 3 {
			pi.optional, pi.def = true, k[2]
		}
		if t := d.Node.child("type"); t != nil && t.child("nullable_type") != nil {
			pi.optional = true
		}
		for _, dec := range d.Decorators {
			if c := dec.child("call_expression"); c != nil && c.field("function") != nil && c.field("function").X == "secure" {
				pi.secure = true
			}
		}
		out[d.Name] = pi
	}
	return out
}

func fileAt(files []*File, from *File, rel string) *File {
	want := filepath.Clean(filepath.Join(filepath.Dir(from.Path), rel))
	for _, f := range files {
		if filepath.Clean(f.Path) == want {
			return f
		}
	}
	return nil
}

// checkParams checks module calls against the module's parameters and .bicepparam files against
// the template they use.
func checkParams(files []*File) []Problem {
	var problems []Problem
	for _, f := range files {
		for _, d := range decls(f, "module_declaration") {
			k := d.Node.kids()
			if len(k) < 3 {
				continue
			}
			rel, _ := literal(k[1])
			mod := fileAt(files, f, rel)
			if mod == nil {
				problems = append(problems, Problem{f.Name, d.Node.R, fmt.Sprintf("module %s: %s is not a Bicep file of this tree", d.Name, rel)})
				continue
			}
			declared := paramsOf(mod)
			for _, body := range objects(k[len(k)-1]) {
				problems = append(problems, matchParams(f, d.Node.R, "module "+d.Name+" ("+rel+")", prop(body, "params"), declared)...)
			}
		}
		if !strings.HasSuffix(f.Path, ".bicepparam") {
			continue
		}
		u := f.Tree.child("using_statement")
		var rel string
		ok := false
		if u != nil {
			rel, ok = literal(u.child("string"))
		}
		if !ok {
			problems = append(problems, Problem{f.Name, 1, "no using statement"})
			continue
		}
		tmpl := fileAt(files, f, rel)
		if tmpl == nil {
			problems = append(problems, Problem{f.Name, u.R, rel + " is not a Bicep file of this tree"})
			continue
		}
		declared := paramsOf(tmpl)
		set := map[string]bool{}
		// parse.js reads `param x = v` in a .bicepparam as `var x = v`.
		for _, v := range decls(f, "variable_declaration") {
			set[v.Name] = true
			if _, ok := declared[v.Name]; !ok {
				problems = append(problems, Problem{f.Name, v.Node.R, fmt.Sprintf("parameter %s is not declared in %s", v.Name, rel)})
			}
		}
		for _, name := range sortedNames(declared) {
			if pi := declared[name]; !pi.optional && !set[name] {
				problems = append(problems, Problem{f.Name, u.R, fmt.Sprintf("required parameter %s of %s is not set", name, rel)})
			}
		}
	}
	return problems
}

func matchParams(f *File, line int, what string, params *Node, declared map[string]paramInfo) []Problem {
	var problems []Problem
	passed := map[string]bool{}
	for _, p := range props(params) {
		name, ok := key(p)
		if !ok {
			continue
		}
		passed[name] = true
		if _, ok := declared[name]; !ok {
			problems = append(problems, Problem{f.Name, p.R, fmt.Sprintf("%s: no parameter %q", what, name)})
		}
	}
	for _, name := range sortedNames(declared) {
		if pi := declared[name]; !pi.optional && !passed[name] {
			problems = append(problems, Problem{f.Name, line, fmt.Sprintf("%s: required parameter %q not passed", what, name)})
		}
	}
	return problems
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkImports checks member access on imported object variables: with `import { roles } from 'x.bicep'`,
// every roles.name must be a key of x.bicep's exported `var roles = { ... }` (a misspelt role key
// would otherwise only fail in the Bicep compiler).
func checkImports(files []*File) []Problem {
	var problems []Problem
	for _, f := range files {
		imported := map[string]map[string]bool{} // variable -> its keys
		for _, imp := range f.Tree.C {
			if imp.T != "import_functionality" {
				continue
			}
			rel, ok := literal(imp.child("string"))
			from := fileAt(files, f, rel)
			if !ok || from == nil {
				problems = append(problems, Problem{f.Name, imp.R, fmt.Sprintf("import from %q: not a Bicep file of this tree", rel)})
				continue
			}
			for _, id := range imp.C {
				if id.T != "identifier" {
					continue
				}
				for _, v := range decls(from, "variable_declaration") {
					if v.Name != id.X {
						continue
					}
					keys := map[string]bool{}
					for _, p := range props(v.Node.child("object")) {
						if k, ok := key(p); ok {
							keys[k] = true
						}
					}
					imported[id.X] = keys
				}
				if imported[id.X] == nil {
					problems = append(problems, Problem{f.Name, imp.R, fmt.Sprintf("import %s: %s declares no object variable %s", id.X, rel, id.X)})
				}
			}
		}
		f.Tree.walk(func(n *Node) {
			if n.T != "member_expression" {
				return
			}
			obj, member := n.field("object"), n.field("property")
			if obj == nil || member == nil || obj.T != "identifier" || imported[obj.X] == nil {
				return
			}
			if !imported[obj.X][member.X] {
				problems = append(problems, Problem{f.Name, n.R, fmt.Sprintf("%s.%s: %s has no key %s", obj.X, member.X, obj.X, member.X)})
			}
		})
	}
	return problems
}
