package main

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestSQLBackupRedundancy: the SQL database's backup storage redundancy is the parameter
// sqlBackupRedundancy, not a value fixed in modules/sql.bicep: development keeps locally redundant
// backups, production geo- or zone-redundant ones (a lost region or zone must not take the backups).
func TestSQLBackupRedundancy(t *testing.T) {
	names := []string{"modules/sql.bicep", "dev.bicepparam", "prod.bicepparam"}
	var paths []string
	for _, n := range names {
		paths = append(paths, filepath.Join(root, "infra", "bicep", filepath.FromSlash(n)))
	}
	files, err := parseFiles("parse.js", paths, names)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	files[0].Tree.walk(func(n *Node) {
		if k, ok := key(n); n.T != "object_property" || !ok || k != "requestedBackupStorageRedundancy" {
			return
		}
		found = true
		if v, ok := literal(value(n)); ok {
			t.Errorf("modules/sql.bicep:%d: requestedBackupStorageRedundancy is fixed to %q, want a parameter", n.R, v)
		}
	})
	if !found {
		t.Error("modules/sql.bicep sets no requestedBackupStorageRedundancy")
	}
	for i, want := range [][]string{nil, {"Local"}, {"Geo", "GeoZone", "Zone"}} {
		if want == nil {
			continue
		}
		got := ""
		for _, d := range decls(files[i], "variable_declaration") { // parse.js reads `param x = v` as `var x = v`
			if d.Name == "sqlBackupRedundancy" {
				k := d.Node.kids()
				got, _ = literal(k[len(k)-1])
			}
		}
		if !slices.Contains(want, got) {
			t.Errorf("%s: sqlBackupRedundancy = %q, want one of %v", names[i], got, want)
		}
	}
}
