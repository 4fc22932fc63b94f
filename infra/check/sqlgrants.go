package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The app's database user is made by infra/sql/app-user.sql. checkSQLGrants compares what it grants with
// what the app runs: the DDL of the SQL Server migrations (internal/sqlstore/migrations/sqlserver) and
// the DML in internal/sqlstore's Go files. Granted must equal needed: a missing grant fails the app in
// Azure, an extra one is more than least privilege.

const appUser = "$(APP_IDENTITY_NAME)"

// grant is one permission on one securable ("" is the database).
type grant struct{ perm, on string }

func (g grant) String() string {
	if g.on == "" {
		return g.perm
	}
	return g.perm + " ON " + g.on
}

var (
	sqlComment  = regexp.MustCompile(`--[^\n]*`)
	goBatch     = regexp.MustCompile(`(?im)^\s*GO\s*$`)
	grantStmt   = regexp.MustCompile(`(?is)^GRANT\s+(.+?)(?:\s+ON\s+(\S+))?\s+TO\s+(\[[^\]]+\]|\S+)\s*(WITH\s+GRANT\s+OPTION)?$`)
	createUser  = regexp.MustCompile(`(?is)CREATE USER \[\$\(APP_IDENTITY_NAME\)\] WITH SID = ' \+ @sid \+ N', TYPE = E;`)
	guardUser   = regexp.MustCompile(`(?is)^IF DATABASE_PRINCIPAL_ID\(N'\$\(APP_IDENTITY_NAME\)'\) IS NULL\s+BEGIN\b`)
	sidFromGUID = regexp.MustCompile(`(?is)CONVERT\(VARBINARY\(16\), CAST\(N'\$\(APP_CLIENT_ID\)' AS UNIQUEIDENTIFIER\)\)`)
	tooMuch     = regexp.MustCompile(`(?i)\b(db_owner|db_ddladmin|db_datawriter|db_datareader|ALTER\s+ROLE|sp_addrolemember|CONTROL|IMPERSONATE|PASSWORD|ALTER\s+ANY)\b`)
)

// ddlNeeds maps each statement kind of a migration to the grants it needs. CREATE TABLE needs the
// database permission and ALTER on the schema; CREATE INDEX, DROP INDEX and ALTER TABLE (ADD, DROP
// CONSTRAINT, DROP COLUMN, ALTER COLUMN) need ALTER on the table, which ALTER on its schema gives. Any other DDL fails the check
// until it is added here.
var ddlNeeds = []struct {
	re    *regexp.Regexp
	needs []grant
}{
	{regexp.MustCompile(`(?i)\bCREATE\s+TABLE\s+dbo\.`), []grant{{"CREATE TABLE", ""}, {"ALTER", "SCHEMA::dbo"}}},
	{regexp.MustCompile(`(?i)\bCREATE\s+(UNIQUE\s+)?(NONCLUSTERED\s+|CLUSTERED\s+)?INDEX\s+\w+\s+ON\s+dbo\.`), []grant{{"ALTER", "SCHEMA::dbo"}}},
	{regexp.MustCompile(`(?i)\bALTER\s+TABLE\s+dbo\.\w+\s+ADD\b`), []grant{{"ALTER", "SCHEMA::dbo"}}},
	{regexp.MustCompile(`(?i)\bALTER\s+TABLE\s+dbo\.\w+\s+DROP\s+CONSTRAINT\b`), []grant{{"ALTER", "SCHEMA::dbo"}}},
	{regexp.MustCompile(`(?i)\bALTER\s+TABLE\s+dbo\.\w+\s+DROP\s+COLUMN\b`), []grant{{"ALTER", "SCHEMA::dbo"}}},
	{regexp.MustCompile(`(?i)\bALTER\s+TABLE\s+dbo\.\w+\s+ALTER\s+COLUMN\b`), []grant{{"ALTER", "SCHEMA::dbo"}}},
	{regexp.MustCompile(`(?i)\bDROP\s+INDEX\s+\w+\s+ON\s+dbo\.`), []grant{{"ALTER", "SCHEMA::dbo"}}},
}

var otherDDL = regexp.MustCompile(`(?i)\b(CREATE|ALTER|DROP)\s+(UNIQUE\s+)?((NON)?CLUSTERED\s+)?(TABLE|INDEX|VIEW|PROCEDURE|PROC|FUNCTION|TRIGGER|TYPE|SCHEMA|SEQUENCE|SYNONYM|ROLE|USER)\b`)

// dmlNeeds maps the DML the app's Go code runs to the grants on dbo it needs.
var dmlNeeds = []struct {
	re    *regexp.Regexp
	needs []string
}{
	{regexp.MustCompile(`\bSELECT\b`), []string{"SELECT"}},
	{regexp.MustCompile(`\bINSERT\s+(OR\s+IGNORE\s+)?INTO\b`), []string{"INSERT"}},
	{regexp.MustCompile(`\bUPDATE\s+SET\b|\bUPDATE\s+\w+\s+SET\b`), []string{"UPDATE"}},
	{regexp.MustCompile(`\bMERGE\b`), []string{"SELECT", "INSERT", "UPDATE"}},
	{regexp.MustCompile(`\bTHEN\s+DELETE\b|\bDELETE\s+(TOP\s*\([^)]*\)\s+)?FROM\b`), []string{"DELETE"}},
	{regexp.MustCompile(`\bTRUNCATE\s+TABLE\b`), []string{"ALTER"}},
}

func checkSQLGrants(root string) ([]Problem, error) {
	const file = "infra/sql/app-user.sql"
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return nil, err
	}
	var problems []Problem
	add := func(line int, format string, a ...any) {
		problems = append(problems, Problem{file, line, fmt.Sprintf(format, a...)})
	}
	src := string(b)
	lineOf := func(off int) int { return strings.Count(src[:off], "\n") + 1 }

	// The user: created once, from the client ID, as an Entra (TYPE = E) user without a password.
	code := sqlComment.ReplaceAllStringFunc(src, func(c string) string { return strings.Repeat(" ", len(c)) })
	if !createUser.MatchString(code) || !sidFromGUID.MatchString(code) {
		add(1, "the user must be created as CREATE USER [$(APP_IDENTITY_NAME)] WITH SID = <client ID as VARBINARY(16)>, TYPE = E")
	}
	for _, m := range tooMuch.FindAllStringIndex(code, -1) {
		add(lineOf(m[0]), "%q: more than the least rights the app needs", code[m[0]:m[1]])
	}

	// The grants, statement by statement (batches split at GO, statements at ;).
	granted := map[grant]int{}
	bounds := []int{0}
	for _, m := range goBatch.FindAllStringIndex(code, -1) {
		bounds = append(bounds, m[0], m[1])
	}
	bounds = append(bounds, len(code))
	for i := 0; i+1 < len(bounds); i += 2 {
		start, batch := bounds[i], code[bounds[i]:bounds[i+1]]
		if guardUser.MatchString(strings.TrimSpace(batch)) {
			continue // the CREATE USER batch, checked above
		}
		pos := 0
		for _, stmt := range strings.Split(batch, ";") {
			at := pos
			pos += len(stmt) + 1
			s := strings.TrimSpace(stmt)
			if s == "" {
				continue
			}
			line := lineOf(start + at + strings.Index(stmt, s))
			m := grantStmt.FindStringSubmatch(s)
			if m == nil {
				add(line, "statement the check does not know: %s", short(s))
				continue
			}
			if m[3] != "["+appUser+"]" {
				add(line, "GRANT to %s: grants go only to [%s]", m[3], appUser)
			}
			if m[4] != "" {
				add(line, "WITH GRANT OPTION lets the app grant rights on")
			}
			for _, p := range strings.Split(m[1], ",") {
				granted[grant{strings.ToUpper(strings.Join(strings.Fields(p), " ")), m[2]}] = line
			}
		}
	}

	needed, why, err := neededGrants(root)
	if err != nil {
		return nil, err
	}
	for _, g := range sortedGrants(needed) {
		if _, ok := granted[g]; !ok {
			add(1, "GRANT %s TO [%s] missing: %s needs it", g, appUser, why[g])
		}
	}
	for _, g := range sortedGrants(granted) {
		if !needed[g] {
			add(granted[g], "GRANT %s: nothing the app runs needs it", g)
		}
	}
	return problems, nil
}

// neededGrants reads the migrations and the store's Go code.
func neededGrants(root string) (map[grant]bool, map[grant]string, error) {
	needed, why := map[grant]bool{}, map[grant]string{}
	need := func(g grant, by string) {
		if !needed[g] {
			needed[g], why[g] = true, by
		}
	}
	migs, err := filepath.Glob(filepath.Join(root, "internal", "sqlstore", "migrations", "sqlserver", "*.sql"))
	if err != nil || len(migs) == 0 {
		return nil, nil, fmt.Errorf("no SQL Server migrations under internal/sqlstore/migrations/sqlserver (%v)", err)
	}
	for _, m := range migs {
		b, err := os.ReadFile(m)
		if err != nil {
			return nil, nil, err
		}
		text := sqlComment.ReplaceAllString(string(b), "")
		name := "migration " + filepath.Base(m)
		known := 0
		for _, d := range ddlNeeds {
			n := len(d.re.FindAllStringIndex(text, -1))
			known += n
			for _, g := range d.needs {
				if n > 0 {
					need(g, name)
				}
			}
		}
		if all := len(otherDDL.FindAllStringIndex(text, -1)); all != known {
			need(grant{"UNKNOWN DDL", ""}, fmt.Sprintf("%s has DDL the check has no grant for (%d statements, %d known)", name, all, known))
		}
	}
	gos, err := filepath.Glob(filepath.Join(root, "internal", "sqlstore", "*.go"))
	if err != nil {
		return nil, nil, err
	}
	for _, p := range gos {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range dmlNeeds {
			if d.re.Match(b) {
				for _, perm := range d.needs {
					need(grant{perm, "SCHEMA::dbo"}, "internal/sqlstore/"+filepath.Base(p))
				}
			}
		}
	}
	return needed, why, nil
}

func sortedGrants[V any](m map[grant]V) []grant {
	out := make([]grant, 0, len(m))
	for g := range m {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
