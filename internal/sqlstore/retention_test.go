package sqlstore

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
)

// sqlServerMigrations returns the SQL Server migrations in order, comments
// removed.
func sqlServerMigrations(t *testing.T) string {
	t.Helper()
	es, err := fs.ReadDir(migrations, "migrations/sqlserver")
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, e := range es {
		b, err := migrations.ReadFile(path.Join("migrations/sqlserver", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all.WriteString(regexp.MustCompile(`--[^\n]*`).ReplaceAllString(string(b), ""))
		all.WriteString("\n")
	}
	return all.String()
}

// TestSQLServerReadingsClustering reads what the SQL Server migrations leave
// of the readings table (SQL Server cannot run here; the suite runs against
// one when SQLSERVER_URL is set): the table is clustered on (device, sensor,
// ts_ms), the order the scoring query reads, and not on the event identity,
// whose ~600-byte key every other index row would repeat; the identity keeps
// a unique index, and retention has an index on ts_ms to delete by.
func TestSQLServerReadingsClustering(t *testing.T) {
	text := sqlServerMigrations(t)
	ws := regexp.MustCompile(`\s+`)
	norm := ws.ReplaceAllString(text, " ")
	for _, want := range []struct {
		name string
		re   string
	}{
		{"clustered on the scoring order", `CREATE CLUSTERED INDEX readings_cluster ON dbo\.readings \(device, sensor, ts_ms\)`},
		{"the identity stays unique, nonclustered", `PRIMARY KEY NONCLUSTERED \(source, seq, idx\)`},
		{"the old clustered key is dropped first", `DROP CONSTRAINT pk_readings`},
		{"an index to delete old readings by", `CREATE INDEX readings_ts ON dbo\.readings \(ts_ms\)`},
	} {
		if !regexp.MustCompile(want.re).MatchString(norm) {
			t.Errorf("%s: the migrations have no %s", want.name, want.re)
		}
	}
	// The clustered index must come after the drop of the clustered primary
	// key, or the migration fails on a database that has the old one.
	if d, c := strings.Index(norm, "DROP CONSTRAINT pk_readings"), strings.Index(norm, "CREATE CLUSTERED INDEX readings_cluster"); d < 0 || c < d {
		t.Errorf("CREATE CLUSTERED INDEX (at %d) before DROP CONSTRAINT pk_readings (at %d)", c, d)
	}
	// Every statement of the conversion is guarded, so that a migration
	// interrupted by a lost connection can run again.
	for _, stmt := range []string{"DROP INDEX readings_sensor_ts", "DROP CONSTRAINT pk_readings", "CREATE CLUSTERED INDEX readings_cluster",
		"PRIMARY KEY NONCLUSTERED", "CREATE INDEX readings_ts"} {
		i := strings.Index(norm, stmt)
		if i < 0 {
			continue // reported above
		}
		before := norm[max(0, i-400):i]
		if j := strings.LastIndex(before, "IF "); j < 0 || strings.Contains(before[j:], ";") {
			t.Errorf("%q is not guarded by an IF", stmt)
		}
	}
}

// TestPruneReadings deletes readings older than a cutoff in bounded batches,
// on SQLite (and on SQL Server when SQLSERVER_URL is set).
func TestPruneReadings(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		ctx := t.Context()
		base := time.Date(2018, 8, 28, 0, 0, 0, 0, time.UTC)
		k := sensor.Key{Device: uniq + "d", Sensor: "s"}
		var rs []sensor.StoredReading
		for i := range 250 { // one reading a minute: 250 minutes
			rs = append(rs, reading(uniq+"/0", int64(i), 0, k, base.Add(time.Duration(i)*time.Minute).UnixMilli(), float64(i)))
		}
		if _, err := s.InsertReadings(ctx, rs); err != nil {
			t.Fatal(err)
		}
		cutoff := base.Add(100 * time.Minute) // readings 0..99 are older
		// Two batches of 30 at most: 60 deleted, more remain.
		n, more, err := s.PruneReadings(ctx, cutoff, 30, 2)
		if err != nil {
			t.Fatal(err)
		}
		if n != 60 || !more {
			t.Errorf("PruneReadings(30 x 2) = %d, more %v; want 60, true", n, more)
		}
		n, more, err = s.PruneReadings(ctx, cutoff, 30, 100)
		if err != nil {
			t.Fatal(err)
		}
		if n != 40 || more {
			t.Errorf("PruneReadings(rest) = %d, more %v; want 40, false", n, more)
		}
		ps, err := s.Points(ctx, k, sensor.Window{Start: base.Add(-time.Hour), End: base.Add(300 * time.Minute)}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 150 || !ps[0].End.Equal(cutoff) {
			first := "none"
			if len(ps) > 0 {
				first = ps[0].End.String()
			}
			t.Errorf("%d points left, first at %s; want 150 from %s", len(ps), first, cutoff)
		}
		// A reading at exactly the cutoff is kept; nothing older is left.
		if n, more, err := s.PruneReadings(ctx, cutoff, 30, 1); err != nil || n != 0 || more {
			t.Errorf("PruneReadings again = %d, %v, %v; want nothing", n, more, err)
		}
		if _, _, err := s.PruneReadings(ctx, cutoff, 0, 1); err == nil {
			t.Error("PruneReadings with batch 0: nil error")
		}
	})
}

// TestPruneReadingsManySensors prunes 50 sensors with 8 readings each before
// the cutoff (and 12 from it on), and 10 sensors with none before it: the
// batches cross sensor boundaries, never exceed their size, and leave every
// reading at or after the cutoff.
func TestPruneReadingsManySensors(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		ctx := t.Context()
		base := time.Date(2018, 8, 28, 0, 0, 0, 0, time.UTC)
		cutoff := base.Add(8 * time.Minute)
		var rs []sensor.StoredReading
		seq := int64(0)
		for d := range 6 {
			for n := range 10 {
				k := sensor.Key{Device: fmt.Sprintf("%sd%d", uniq, d), Sensor: fmt.Sprint(n)}
				from := 0
				if d == 3 { // device 3's sensors start at the cutoff: nothing to prune, in the middle of the walk
					from = 8
				}
				for i := from; i < 20; i++ {
					rs = append(rs, reading(uniq+"/0", seq, 0, k, base.Add(time.Duration(i)*time.Minute).UnixMilli(), float64(i)))
					seq++
				}
			}
		}
		if _, err := s.InsertReadings(ctx, rs); err != nil {
			t.Fatal(err)
		}
		const old, kept = 50 * 8, 60 * 12
		remaining := old
		for _, step := range []struct {
			batch, maxBatches int
			deleted           int
			more              bool
		}{
			{30, 5, 150, true}, // 30 = 3 sensors and 6 of the next; 150 = 18 sensors and 6 of the 19th
			{8, 1, 8, true},    // past the 18 pruned sensors: 2 of the 19th, 6 of the 20th
			{7, 100, old - 158, false},
			{7, 100, 0, false}, // nothing left
		} {
			n, more, err := s.PruneReadings(ctx, cutoff, step.batch, step.maxBatches)
			if err != nil {
				t.Fatal(err)
			}
			if n != step.deleted || more != step.more {
				t.Errorf("PruneReadings(%d x %d) = %d, more %v; want %d, %v", step.batch, step.maxBatches, n, more, step.deleted, step.more)
			}
			var total, before, after int
			if err := s.r.QueryRowContext(ctx, s.q(`SELECT COUNT(*),
    COALESCE(SUM(CASE WHEN ts_ms < ? THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN ts_ms >= ? THEN 1 ELSE 0 END), 0)
FROM readings WHERE device LIKE ?`), cutoff.UnixMilli(), cutoff.UnixMilli(), uniq+"d%").Scan(&total, &before, &after); err != nil {
				t.Fatal(err)
			}
			if after != kept || total != before+after {
				t.Errorf("after PruneReadings(%d x %d): %d readings from the cutoff on, want %d", step.batch, step.maxBatches, after, kept)
			}
			if remaining -= step.deleted; before != remaining {
				t.Errorf("after PruneReadings(%d x %d): %d readings before the cutoff, want %d", step.batch, step.maxBatches, before, remaining)
			}
		}
		var left int
		if err := s.r.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM readings WHERE device LIKE ? AND ts_ms < ?`), uniq+"d%", cutoff.UnixMilli()).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%d readings before the cutoff left", left)
		}
	})
}

// TestPrunePlanSeeks checks on SQLite that every statement of a prune and
// Points seek the primary key (device, sensor, ts_ms, ...), and that none of
// them, nor InsertReadings, reads the whole readings table, which has no
// index on ts_ms.
func TestPrunePlanSeeks(t *testing.T) {
	s := mustOpen(t, "sqlite::memory:")
	ctx := t.Context()
	var rs []sensor.StoredReading
	for i := range 200 {
		rs = append(rs, reading("p/0", int64(i), 0, sensor.Key{Device: fmt.Sprint(i % 7), Sensor: fmt.Sprint(i % 3)}, int64(5000*(i+1)), 1))
	}
	if _, err := s.InsertReadings(ctx, rs); err != nil {
		t.Fatal(err)
	}
	// Without statistics (as the store runs) and with them.
	for _, analyze := range []bool{false, true} {
		if analyze {
			if _, err := s.w.ExecContext(ctx, `ANALYZE`); err != nil {
				t.Fatal(err)
			}
		}
		checkPlans(t, s, analyze)
	}
}

func checkPlans(t *testing.T, s *Store, analyzed bool) {
	t.Helper()
	ctx := t.Context()
	for _, q := range []struct {
		name string
		sql  string
		args []any
		want string // a line of the plan
	}{
		{"first sensor", pruneFirstKeySQL, nil, "SEARCH readings USING PRIMARY KEY (device>?)"},
		{"sensor to resume from", pruneFromKeySQL, []any{"1", "2"}, "SEARCH readings USING PRIMARY KEY ((device,sensor)>(?,?))"},
		{"next sensor", pruneNextKeySQL, []any{"1", "2"}, "SEARCH readings USING PRIMARY KEY ((device,sensor)>(?,?))"},
		{"delete a sensor's old readings", pruneSensorSQL, []any{"1", "2", 500000, 4000},
			"SEARCH readings USING PRIMARY KEY (device=? AND sensor=? AND ts_ms<?)"},
		{"points", pointsSQL, []any{5000, 5000, 5000, "1", "2", 0, 1000000},
			"SEARCH readings USING PRIMARY KEY (device=? AND sensor=? AND ts_ms>? AND ts_ms<?)"},
		// The conflict check of INSERT OR IGNORE is a probe of the primary
		// key, not part of the plan.
		{"insert", s.insertReadingsSQL(2), []any{1, 1, 0, "1", "2", 5000, 1.0, 1, 2, 0, "1", "2", 10000, 1.0}, ""},
	} {
		rows, err := s.w.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		var plan []string
		for rows.Next() {
			var (
				id, parent, unused int
				detail             string
			)
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s (analyzed %v): %q", q.name, analyzed, plan)
		found := q.want == ""
		for _, p := range plan {
			if strings.HasPrefix(p, "SCAN readings") {
				t.Errorf("%s (analyzed %v) reads the whole table: %q", q.name, analyzed, plan)
			}
			found = found || p == q.want
		}
		if !found {
			t.Errorf("%s (analyzed %v): plan %q has no %q", q.name, analyzed, plan, q.want)
		}
	}
}

// TestPruneSeeksBound walks past 50 sensors with nothing to prune before the
// one that has: a transaction visits at most the given number of sensors, so a
// call whose batches run out first deletes nothing and reports more.
func TestPruneSeeksBound(t *testing.T) {
	s := mustOpen(t, "sqlite::memory:")
	ctx := t.Context()
	var rs []sensor.StoredReading
	for n := range 51 {
		from := 10 // at the cutoff
		if n == 50 {
			from = 0
		}
		for i := from; i < 20; i++ {
			rs = append(rs, reading("b/0", int64(len(rs)), 0, sensor.Key{Device: "d", Sensor: fmt.Sprintf("%02d", n)}, int64(1000*(i+1)), 1))
		}
	}
	if _, err := s.InsertReadings(ctx, rs); err != nil {
		t.Fatal(err)
	}
	cutoff := int64(1000 * 11)
	for _, c := range []struct {
		maxBatches, deleted int
		more                bool
	}{
		{5, 0, true},     // 5 x 5 sensors visited, none with readings before the cutoff
		{100, 10, false}, // the 51st sensor's 10
	} {
		n, more, err := s.pruneSQLite(ctx, cutoff, 100, c.maxBatches, 5)
		if err != nil || n != c.deleted || more != c.more {
			t.Errorf("pruneSQLite(100 x %d, 5 sensors a batch) = %d, %v, %v; want %d, %v", c.maxBatches, n, more, err, c.deleted, c.more)
		}
	}
}

// TestPruneResumes prunes 5 sensors with calls too small to reach the end:
// each call goes on from the sensor where the last one stopped, and the one
// that reaches the end goes round to the sensors before its start, which
// have older readings again, and stops there.
func TestPruneResumes(t *testing.T) {
	s := mustOpen(t, "sqlite::memory:")
	ctx := t.Context()
	seq := int64(0)
	add := func(n, from, to int) {
		t.Helper()
		var rs []sensor.StoredReading
		for i := from; i < to; i++ {
			rs = append(rs, reading("r/0", seq, 0, sensor.Key{Device: "d", Sensor: fmt.Sprint(n)}, int64(1000*(i+1)), 1))
			seq++
		}
		if _, err := s.InsertReadings(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	for n := range 5 {
		add(n, 0, 20) // 10 before the cutoff, 10 from it on
	}
	cutoff := int64(1000 * 11)
	left := func() []int {
		t.Helper()
		out := make([]int, 5)
		for n := range out {
			if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM readings WHERE sensor = ? AND ts_ms < ?`, fmt.Sprint(n), cutoff).Scan(&out[n]); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	for i, c := range []struct {
		batch, maxBatches int
		before            func() // readings added before the call
		deleted           int
		more              bool
		left              []int // per sensor, before the cutoff, after the call
	}{
		{10, 2, nil, 20, true, []int{0, 0, 10, 10, 10}},
		// Sensor 0 has older readings again; the call goes on with 2 and 3.
		{10, 2, func() { add(0, -5, 0) }, 20, true, []int{5, 0, 0, 0, 10}},
		// From 3 (where the last call stopped): 4, then round to 0, 1 and 2, where it ends.
		{10, 5, nil, 15, false, []int{0, 0, 0, 0, 0}},
		{10, 5, nil, 0, false, []int{0, 0, 0, 0, 0}},
	} {
		if c.before != nil {
			c.before()
		}
		n, more, err := s.PruneReadings(ctx, ms(cutoff), c.batch, c.maxBatches)
		if err != nil || n != c.deleted || more != c.more {
			t.Errorf("call %d: PruneReadings(%d x %d) = %d, %v, %v; want %d, %v", i, c.batch, c.maxBatches, n, more, err, c.deleted, c.more)
		}
		if got := left(); !slices.Equal(got, c.left) {
			t.Errorf("call %d: readings before the cutoff per sensor %v, want %v", i, got, c.left)
		}
	}
}
