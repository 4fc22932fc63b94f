package main

import (
	"fmt"
	"regexp"
	"strings"
)

// builtInRoles are Azure built-in role names and their role definition GUIDs, as listed in Microsoft's
// "Azure built-in roles" documentation (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var builtInRoles = map[string]string{
	"Owner":                                "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
	"Contributor":                          "b24988ac-6180-42a0-ab88-20f7382dd24c",
	"Reader":                               "acdd72a7-3385-48ef-bd42-f606fba81ae7",
	"Storage Blob Data Owner":              "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
	"Storage Blob Data Contributor":        "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
	"Storage Blob Data Reader":             "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
	"Storage Queue Data Contributor":       "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
	"Storage Queue Data Message Processor": "8a0f0c08-91a1-4084-bc3d-661d67233fed",
	"Storage Queue Data Message Sender":    "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a",
	"Storage Queue Data Reader":            "19e7f393-937e-4f77-808e-94535e297925",
	"Storage Table Data Contributor":       "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
	"Storage Table Data Reader":            "76199698-9eea-4c19-bc75-cec21354c6b6",
	"Azure Event Hubs Data Owner":          "f526a384-b230-433a-b45c-95f59c4a2dec",
	"Azure Event Hubs Data Receiver":       "a638d3c7-ab3a-418d-83e6-5f17a39d4fde",
	"Azure Event Hubs Data Sender":         "2b629674-e913-4c01-ae53-ef4638d8f975",
	"Monitoring Metrics Publisher":         "3913510d-42f4-4e42-8a64-420c390055eb",
	"Monitoring Reader":                    "43d0d8ad-25c7-4714-9337-8ba259a9fe05",
	"Monitoring Contributor":               "749f88d5-cbae-40b8-bcfc-e573ddc772fa",
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// normalize makes "storageBlobDataOwner", "Storage Blob Data Owner" and "storage_blob_data_owner" equal.
func normalize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// checkRoles finds every GUID string literal in the Bicep files and checks it against the built-in role
// its object key or variable name (and its trailing comment, if any) says it is.
func checkRoles(files []*File) []Problem {
	byNorm := map[string]string{}
	nameOf := map[string]string{}
	for name, id := range builtInRoles {
		byNorm[normalize(name)] = name
		nameOf[id] = name
	}
	var problems []Problem
	for _, f := range files {
		comments := map[int]string{}
		f.Tree.walk(func(n *Node) {
			if n.T == "comment" && strings.HasPrefix(n.X, "//") {
				comments[n.R] = strings.TrimSpace(strings.TrimPrefix(n.X, "//"))
			}
		})
		var visit func(n *Node, up []*Node)
		visit = func(n *Node, up []*Node) {
			if g, ok := literal(n); ok && guidRE.MatchString(g) {
				problems = append(problems, checkGUID(f, n, up, strings.ToLower(g), comments[n.R], byNorm, nameOf)...)
			}
			for _, c := range n.C {
				visit(c, append(up[:len(up):len(up)], n))
			}
		}
		visit(f.Tree, nil)
	}
	return problems
}

// checkGUID checks one GUID literal. It is a role GUID when the table knows it, when its key, variable
// name or comment names a role, or when it is the role ID argument of
// subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ...); other GUIDs are left alone.
func checkGUID(f *File, n *Node, up []*Node, g, comment string, byNorm, nameOf map[string]string) []Problem {
	claimed := ""
	var parent *Node
	if len(up) > 0 {
		parent = up[len(up)-1]
	}
	if parent != nil {
		switch parent.T {
		case "object_property":
			claimed, _ = key(parent)
		case "variable_declaration":
			if id := parent.child("identifier"); id != nil {
				claimed = id.X
			}
		}
	}
	_, known := nameOf[g]
	_, claimedRole := byNorm[normalize(claimed)]
	_, commentRole := byNorm[normalize(comment)]
	if !known && !claimedRole && !commentRole && !roleDefinitionArg(up) {
		return nil
	}
	at := func(msg string) []Problem { return []Problem{{f.Name, n.R, msg}} }
	if claimed == "" && comment == "" {
		return at(fmt.Sprintf("role GUID %s has no role name: give the name as its object key or variable name, or in a // comment", g))
	}
	if claimed == "" {
		claimed = comment
	}
	role, ok := byNorm[normalize(claimed)]
	if !ok {
		return at(fmt.Sprintf("role GUID %s: %q is not a built-in role name (the check's table is from Microsoft docs, Azure built-in roles)", g, claimed))
	}
	if want := builtInRoles[role]; want != g {
		actual := "no built-in role in the table"
		if other, ok := nameOf[g]; ok {
			actual = other
		}
		return at(fmt.Sprintf("%s: %s is %s, not %s (%s)", claimed, g, actual, role, want))
	}
	if comment != "" && comment != role {
		return at(fmt.Sprintf("comment %q does not name the role %q this GUID is", comment, role))
	}
	return nil
}

// roleDefinitionArg reports whether the innermost enclosing call is
// *ResourceId('Microsoft.Authorization/roleDefinitions', ...).
func roleDefinitionArg(up []*Node) bool {
	for i := len(up) - 1; i >= 0; i-- {
		if up[i].T != "call_expression" {
			continue
		}
		args := up[i].field("arguments")
		if args == nil {
			return false
		}
		k := args.kids()
		first, ok := literal(firstOr(k))
		return ok && strings.EqualFold(first, "Microsoft.Authorization/roleDefinitions")
	}
	return false
}

func firstOr(k []*Node) *Node {
	if len(k) == 0 {
		return nil
	}
	return k[0]
}
