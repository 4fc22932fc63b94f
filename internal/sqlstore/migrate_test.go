package sqlstore

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/google/go-cmp/cmp"
)

// TestMigrateReadingSources opens a SQLite file at schema version 4 (readings
// keyed by the source text) holding readings of two sources: migration 5 keeps
// every reading under its source's id, so redelivering them inserts nothing
// and the scoring query sees the same points.
func TestMigrateReadingSources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v4.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_ms INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for v, name := range []string{"0001_init.sql", "0002_outcome_model_etag.sql", "0003_runs_catchup_ingest.sql", "0004_readings_retention.sql"} {
		body, err := migrations.ReadFile("migrations/sqlite/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_version VALUES (?, 0)`, v+1); err != nil {
			t.Fatal(err)
		}
	}
	k := sensor.Key{Device: "d", Sensor: "s"}
	old := []sensor.StoredReading{
		reading("ns/hub/0", 1, 0, k, 5000, 1.5),
		reading("ns/hub/0", 1, 1, k, 10000, 2.5),
		reading("ns/hub/1", 1, 0, k, 15000, 3.5),
	}
	for _, r := range old {
		if _, err := db.Exec(`INSERT INTO readings (source, seq, idx, device, sensor, ts_ms, value) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.Source, r.Sequence, r.Index, r.Key.Device, r.Key.Sensor, r.TS.UnixMilli(), r.Value); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := mustOpen(t, "sqlite:"+path)
	ctx := t.Context()
	if v, err := s.SchemaVersion(ctx); err != nil || v < 5 {
		t.Fatalf("schema version %d, %v; want at least 5", v, err)
	}
	n, err := s.InsertReadings(ctx, old)
	if err != nil || n != 0 {
		t.Errorf("redelivered after the migration: inserted %d, %v; want 0", n, err)
	}
	n, err = s.InsertReadings(ctx, []sensor.StoredReading{old[2], reading("ns/hub/1", 2, 0, k, 20000, 4.5), reading("ns/hub/2", 1, 0, k, 20000, 5.5)})
	if err != nil || n != 2 {
		t.Errorf("overlap after the migration: inserted %d, %v; want 2", n, err)
	}
	pts, err := s.Points(ctx, k, sensor.Window{Start: ms(0), End: ms(20000)}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := []sensor.Point{pt(5000, 1.5, 1), pt(10000, 2.5, 1), pt(15000, 3.5, 1), pt(20000, 5, 2)}
	if d := cmp.Diff(want, pts); d != "" {
		t.Errorf("points after the migration (-want +got):\n%s", d)
	}
}
