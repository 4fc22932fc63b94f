package sqlstore

import (
	"strings"
	"testing"
)

// queryPlan returns SQLite's EXPLAIN QUERY PLAN of q, one detail per line.
func queryPlan(t *testing.T, s *Store, q string, args ...any) string {
	t.Helper()
	rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestPerSensorQueriesUseAnIndex: queries that run once per scored sensor
// search an index, never scan a table that grows with every run, and need no
// temporary b-tree to sort or group.
func TestPerSensorQueriesUseAnIndex(t *testing.T) {
	s := mustOpen(t, "sqlite::memory:")
	for _, c := range []struct {
		name  string
		q     string
		args  []any
		index string // "INDEX name" or "PRIMARY KEY"
	}{
		{"AnomalyRates", anomalyRatesSQLite, []any{"d", "s", "run", "done", 5}, "INDEX outcomes_sensor"},
		{"Points", sqliteReadingsSQL, []any{"d", "s", 0, 3600000}, "PRIMARY KEY"},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan := queryPlan(t, s, c.q, c.args...)
			t.Logf("plan:\n%s", plan)
			if !strings.Contains(plan, "USING "+c.index) && !strings.Contains(plan, "USING COVERING "+c.index) {
				t.Errorf("plan does not search %s:\n%s", c.index, plan)
			}
			for _, line := range strings.Split(plan, "\n") {
				if strings.HasPrefix(line, "SCAN ") && !strings.Contains(line, "INDEX") {
					t.Errorf("plan scans a whole table: %q\n%s", line, plan)
				}
				if strings.Contains(line, "TEMP B-TREE") {
					t.Errorf("plan sorts or groups in a temporary b-tree: %q\n%s", line, plan)
				}
			}
		})
	}
}
