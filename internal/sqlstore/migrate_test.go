package sqlstore

import (
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/google/go-cmp/cmp"
)

// sqliteAt creates a SQLite file at path with the migrations up to version
// applied, as Open of that version left it.
func sqliteAt(t *testing.T, path string, version int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_ms INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	es, err := fs.ReadDir(migrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	for v, e := range es[:version] {
		if !strings.HasPrefix(e.Name(), fmt.Sprintf("%04d_", v+1)) {
			t.Fatalf("migration %d is %s", v+1, e.Name())
		}
		body, err := migrations.ReadFile("migrations/sqlite/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if _, err := db.Exec(`INSERT INTO schema_version VALUES (?, 0)`, v+1); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// TestMigrateReadingSources opens a SQLite file at schema version 4 (readings
// keyed by the source text) holding readings of two sources: migration 5 keeps
// every reading under its source's id, so redelivering them inserts nothing
// and the scoring query sees the same points.
func TestMigrateReadingSources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v4.db")
	db := sqliteAt(t, path, 4)
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

// TestMigrateReadingsLayout opens a SQLite file at schema version 5 (readings
// keyed by identity, with indexes on (device, sensor, ts_ms, value) and on
// ts_ms) holding 600 readings of two sources: the migrations after it keep
// every reading in a table clustered on (device, sensor, ts_ms, identity) with
// no other index; a redelivery inserts nothing, and Points and PruneReadings
// work on the migrated table.
func TestMigrateReadingsLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v5.db")
	db := sqliteAt(t, path, 5)
	var old []sensor.StoredReading
	for i := range 600 {
		src := fmt.Sprintf("ns/hub/%d", i%2)
		k := sensor.Key{Device: fmt.Sprint(i % 5), Sensor: fmt.Sprint(i % 3)}
		old = append(old, reading(src, int64(i/6), i%6, k, int64(5000*(1+i/15)), float64(i)))
	}
	if _, err := db.Exec(`INSERT INTO reading_sources (id, source) VALUES (1, 'ns/hub/0'), (2, 'ns/hub/1')`); err != nil {
		t.Fatal(err)
	}
	for _, r := range old {
		if _, err := db.Exec(`INSERT INTO readings (source_id, seq, idx, device, sensor, ts_ms, value)
SELECT id, ?, ?, ?, ?, ?, ? FROM reading_sources WHERE source = ?`,
			r.Sequence, r.Index, r.Key.Device, r.Key.Sensor, r.TS.UnixMilli(), r.Value, r.Source); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := mustOpen(t, "sqlite:"+path)
	ctx := t.Context()
	if v, err := s.SchemaVersion(ctx); err != nil || v < 8 {
		t.Fatalf("schema version %d, %v; want at least 8", v, err)
	}
	var tsIndexes, rows int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'readings_ts'`).Scan(&tsIndexes); err != nil {
		t.Fatal(err)
	}
	if tsIndexes != 0 {
		t.Error("readings_ts is still there after the migration")
	}
	// Clustered on the scoring order, with no other index to write.
	var indexes []string
	irows, err := s.r.QueryContext(ctx, `SELECT l.origin || ':' || (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno))
FROM pragma_index_list('readings') l ORDER BY l.name`)
	if err != nil {
		t.Fatal(err)
	}
	for irows.Next() {
		var ix string
		if err := irows.Scan(&ix); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, ix)
	}
	if err := irows.Close(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"pk:device,sensor,ts_ms,source_id,seq,idx"}; !slices.Equal(indexes, want) {
		t.Errorf("indexes of readings (origin:columns) = %q, want %q", indexes, want)
	}
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM readings`).Scan(&rows); err != nil || rows != len(old) {
		t.Errorf("%d readings after the migration (%v), want %d", rows, err, len(old))
	}
	if n, err := s.InsertReadings(ctx, old); err != nil || n != 0 {
		t.Errorf("redelivered after the migration: inserted %d, %v; want 0", n, err)
	}
	k := sensor.Key{Device: "1", Sensor: "1"} // readings i = 1, 16, 31, ... (i % 15 == 1): one per 5 s from 5000
	pts, err := s.Points(ctx, k, sensor.Window{Start: ms(0), End: ms(200000)}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 40 {
		t.Errorf("%d points after the migration, want 40", len(pts))
	} else if pts[0] != pt(5000, 1, 1) || pts[39] != pt(200000, 586, 1) {
		t.Errorf("points after the migration from %v to %v; want from (5000, 1) to (200000, 586)", pts[0], pts[39])
	}
	if n, more, err := s.PruneReadings(ctx, ms(100000), 7, 1000); err != nil || n != 19*15 || more {
		t.Errorf("PruneReadings after the migration = %d, %v, %v; want %d, false", n, more, err, 19*15)
	}
}
