package sqlstore

import (
	"io/fs"
	"path"
	"regexp"
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
