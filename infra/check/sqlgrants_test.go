package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sqlRoot copies what checkSQLGrants reads (infra/sql, the SQL Server migrations, the store's Go files)
// into a temporary repository root.
func sqlRoot(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	var files []string
	for _, g := range []string{"infra/sql/*.sql", "internal/sqlstore/migrations/sqlserver/*.sql", "internal/sqlstore/*.go"} {
		m, err := filepath.Glob(filepath.Join(root, g))
		if err != nil || len(m) == 0 {
			t.Fatalf("%s: %v", g, err)
		}
		files = append(files, m...)
	}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestSQLGrants(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new string
		want                 []string // empty: no problem
	}{
		{name: "the repository's script"},
		{
			name: "UPDATE missing",
			file: "infra/sql/app-user.sql",
			old:  "GRANT SELECT, INSERT, UPDATE, DELETE ON SCHEMA::dbo",
			new:  "GRANT SELECT, INSERT, DELETE ON SCHEMA::dbo",
			want: []string{"GRANT UPDATE ON SCHEMA::dbo TO [$(APP_IDENTITY_NAME)] missing: internal/sqlstore/"},
		},
		{
			name: "DELETE missing though retention deletes",
			file: "infra/sql/app-user.sql",
			old:  "GRANT SELECT, INSERT, UPDATE, DELETE ON SCHEMA::dbo",
			new:  "GRANT SELECT, INSERT, UPDATE ON SCHEMA::dbo",
			want: []string{"GRANT DELETE ON SCHEMA::dbo TO [$(APP_IDENTITY_NAME)] missing: internal/sqlstore/retention.go needs it"},
		},
		{
			name: "db_owner",
			file: "infra/sql/app-user.sql",
			old:  "GRANT CREATE TABLE TO [$(APP_IDENTITY_NAME)];",
			new:  "ALTER ROLE db_owner ADD MEMBER [$(APP_IDENTITY_NAME)];",
			want: []string{`"db_owner": more than the least rights`, "statement the check does not know: ALTER ROLE db_owner", "GRANT CREATE TABLE TO [$(APP_IDENTITY_NAME)] missing: migration 0001_init.sql needs it"},
		},
		{
			name: "grant to someone else",
			file: "infra/sql/app-user.sql",
			old:  "GRANT ALTER ON SCHEMA::dbo TO [$(APP_IDENTITY_NAME)];",
			new:  "GRANT ALTER ON SCHEMA::dbo TO [someone];",
			want: []string{"GRANT to [someone]: grants go only to [$(APP_IDENTITY_NAME)]"},
		},
		{
			name: "user looked up in Entra instead of created from its client ID",
			file: "infra/sql/app-user.sql",
			old:  "EXEC (N'CREATE USER [$(APP_IDENTITY_NAME)] WITH SID = ' + @sid + N', TYPE = E;');",
			new:  "CREATE USER [$(APP_IDENTITY_NAME)] FROM EXTERNAL PROVIDER;",
			want: []string{"the user must be created as CREATE USER [$(APP_IDENTITY_NAME)] WITH SID"},
		},
		{
			name: "a migration with DDL the grants do not cover",
			file: "internal/sqlstore/migrations/sqlserver/0001_init.sql",
			old:  "IF OBJECT_ID(N'dbo.runs', N'U') IS NULL",
			new:  "CREATE VIEW dbo.latest AS SELECT 1 AS x;\nIF OBJECT_ID(N'dbo.runs', N'U') IS NULL",
			want: []string{"migration 0001_init.sql has DDL the check has no grant for"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := sqlRoot(t)
			if tc.file != "" {
				replaceOnce(t, dir, tc.file, tc.old, tc.new)
			}
			ps, err := checkSQLGrants(dir)
			if err != nil {
				t.Fatal(err)
			}
			got := lines(ps)
			if len(tc.want) == 0 && got != "" {
				t.Errorf("unexpected problems:\n%s", got)
			}
			if len(tc.want) > 0 && got == "" {
				t.Error("no problem found")
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems do not mention %q:\n%s", w, got)
				}
			}
		})
	}
}
