// Package sqlstore keeps readings, scoring runs and per-sensor outcomes in SQL:
// SQLite through modernc.org/sqlite (pure Go; files or memory) or SQL Server /
// Azure SQL through go-mssqldb, with Entra ID authentication when the URL holds
// no password.
//
// The schema lives in embedded, numbered migrations per dialect and is applied
// by Open. Window aggregates are computed by the query with the Stream Analytics
// tumbling rule (T-w, T] (see Points), so the readings table holds raw values only.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/azuread"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/sqlite/*.sql migrations/sqlserver/*.sql
var migrations embed.FS

// SQLServerSourceChars is the width of the SQL Server key columns
// reading_sources.source and ingest_progress.source (NVARCHAR, in UTF-16 code
// units): an event's source (namespace/hub/partition) must fit.
const SQLServerSourceChars = 300

// ErrNotFound is wrapped by errors for a run that does not exist.
var ErrNotFound = errors.New("not found")

type dialect int

const (
	dialectSQLite dialect = iota
	dialectSQLServer
)

func (d dialect) String() string {
	if d == dialectSQLServer {
		return "sqlserver"
	}
	return "sqlite"
}

// Store is an open SQL store. It is safe for concurrent use.
type Store struct {
	d dialect
	w *sql.DB // writes (SQLite: one connection, so writers queue in Go instead of failing with SQLITE_BUSY)
	r *sql.DB // reads (the same pool as w for SQL Server and in-memory SQLite)

	sources sync.Map    // reading_sources: source text -> id (int64), see sourceID
	resume  pruneResume // SQLite: where the next PruneReadings starts
	stmts   stmtCache   // SQLite: the statements run for every scored sensor, prepared once
}

// Open connects to url and applies pending migrations:
//
//	sqlite:PATH            a SQLite file (created when missing), WAL journal
//	sqlite::memory:        a private in-memory SQLite database (gone at Close)
//	sqlserver://...        SQL Server / Azure SQL (go-mssqldb URL syntax)
//
// A sqlserver URL without a password (and without a fedauth parameter) uses
// Entra ID with fedauth=ActiveDirectoryDefault; pass
// fedauth=ActiveDirectoryManagedIdentity (and user id=CLIENT_ID for a
// user-assigned identity) to force managed identity.
func Open(ctx context.Context, url string) (*Store, error) {
	var (
		s   *Store
		err error
	)
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		s, err = openSQLite(strings.TrimPrefix(url, "sqlite:"))
	case strings.HasPrefix(url, "sqlserver://"):
		s, err = openSQLServer(url)
	default:
		return nil, fmt.Errorf("sqlstore: unsupported SQL_URL %q: want sqlite:PATH, sqlite::memory: or sqlserver://...", redact(url))
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: migrate %s: %w", s.d, err)
	}
	return s, nil
}

// CheckURL reports, without connecting, whether Open could use url: a known
// scheme, a SQLite path, a parsable sqlserver URL with a host. The error does
// not show a password.
func CheckURL(url string) error {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		if strings.TrimPrefix(url, "sqlite:") == "" {
			return errors.New("empty sqlite path (want sqlite:PATH or sqlite::memory:)")
		}
		return nil
	case strings.HasPrefix(url, "sqlserver://"):
		_, _, err := sqlserverDSN(url)
		return err
	}
	return errors.New("want sqlite:PATH, sqlite::memory: or sqlserver://...")
}

func openSQLite(p string) (*Store, error) {
	if p == "" {
		return nil, errors.New("sqlstore: empty sqlite path (want sqlite:PATH or sqlite::memory:)")
	}
	pragmas := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
	if p == ":memory:" {
		db, err := sql.Open("sqlite", "file::memory:?"+pragmas)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: open sqlite memory: %w", err)
		}
		// One connection that never closes: every connection would get its own empty database.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return &Store{d: dialectSQLite, w: db, r: db}, nil
	}
	dsn := "file:" + (&url.URL{Path: p}).EscapedPath() + "?" + pragmas + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	// The writer gets a page cache of 64 MiB (SQLite's default is 2 MiB), so an
	// ingest transaction's scattered index pages stay in memory, and checkpoints
	// every 16,384 WAL pages (64 MiB) instead of every 1,000 (4 MiB), so a
	// transaction of 10,000 readings is not followed by a checkpoint each time
	// (docs/speed.md, "Ingest").
	w, err := sql.Open("sqlite", dsn+"&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(16384)")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite %s: %w", p, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite %s: %w", p, err)
	}
	r.SetMaxOpenConns(4)
	return &Store{d: dialectSQLite, w: w, r: r}, nil
}

func openSQLServer(raw string) (*Store, error) {
	driver, dsn, err := sqlserverDSN(raw)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlserver %s: %w", redact(dsn), err)
	}
	db.SetMaxOpenConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &Store{d: dialectSQLServer, w: db, r: db}, nil
}

// sqlserverDSN picks the driver for a sqlserver:// URL: "sqlserver" with a
// password, else the Entra ID driver "azuresql", adding
// fedauth=ActiveDirectoryDefault when the URL names no fedauth method.
func sqlserverDSN(raw string) (driver, dsn string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("parse sqlserver url: %w", redactErr(err))
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("sqlserver url %s has no host", u.Redacted())
	}
	q := u.Query()
	_, hasPassword := u.User.Password()
	if q.Get("fedauth") == "" && !hasPassword {
		q.Set("fedauth", azuread.ActiveDirectoryDefault)
		u.RawQuery = q.Encode()
	}
	if q.Get("fedauth") != "" {
		return azuread.DriverName, u.String(), nil
	}
	return "sqlserver", u.String(), nil
}

// Close closes the connection pools.
func (s *Store) Close() error {
	err := s.stmts.close()
	err = errors.Join(err, s.w.Close())
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Dialect returns "sqlite" or "sqlserver".
func (s *Store) Dialect() string { return s.d.String() }

// migrate applies, in one transaction each, the embedded migrations numbered
// above the highest version in schema_version.
func (s *Store) migrate(ctx context.Context) error {
	dir := "migrations/" + s.d.String()
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return err
	}
	type mig struct {
		version int
		name    string
	}
	var ms []mig
	for _, e := range entries {
		n, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(n)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		ms = append(ms, mig{v, e.Name()})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })

	create := `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_ms INTEGER NOT NULL)`
	if s.d == dialectSQLServer {
		create = `IF OBJECT_ID(N'dbo.schema_version', N'U') IS NULL
CREATE TABLE dbo.schema_version (version INT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL)`
	}
	for _, m := range ms {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if s.d == dialectSQLServer {
				// Serialise concurrent Opens (several function instances start at once).
				var code int
				if err := tx.QueryRowContext(ctx, appLockSQL).Scan(&code); err != nil {
					return fmt.Errorf("lock %s: %w", migrateLock, err)
				}
				if err := appLockResult(migrateLock, code); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, create); err != nil {
				return fmt.Errorf("create schema_version: %w", err)
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_version WHERE version = ?`), m.version).Scan(&n); err != nil {
				return fmt.Errorf("read schema_version: %w", err)
			}
			if n > 0 {
				return nil
			}
			body, err := migrations.ReadFile(path.Join(dir, m.name))
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO schema_version (version, applied_ms) VALUES (?, ?)`), m.version, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// migrateLock is the application lock that serialises migrations on SQL Server.
const migrateLock = "batchscore-migrate"

// appLockSQL takes migrateLock for the rest of the transaction, waiting up to
// 60 s, and returns sp_getapplock's return code: the procedure reports a
// timeout or a deadlock as a negative return value, not as an error, so a
// plain EXEC would go on without the lock.
const appLockSQL = `DECLARE @r INT;
EXEC @r = sp_getapplock @Resource = '` + migrateLock + `', @LockMode = 'Exclusive', @LockOwner = 'Transaction', @LockTimeout = 60000;
SELECT @r;`

// appLockResult interprets a return code of sp_getapplock
// (https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-getapplock-transact-sql):
// 0 and 1 grant the lock, negative values refuse it.
func appLockResult(resource string, code int) error {
	var why string
	switch code {
	case 0, 1: // granted at once, or after waiting for other locks
		return nil
	case -1:
		why = "timed out"
	case -2:
		why = "cancelled"
	case -3:
		why = "chosen as a deadlock victim"
	case -999:
		why = "parameter validation or other call error"
	default:
		why = fmt.Sprintf("unknown return code %d", code)
	}
	return fmt.Errorf("lock %s: sp_getapplock returned %d: %s", resource, code, why)
}

// SchemaVersion returns the highest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return int(v.Int64), nil
}

// tx runs fn in a write transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// stmtCache holds prepared statements by pool and query text. SQLite compiles
// a statement each time it is prepared, which cost about as much CPU as
// running the statements a scored sensor needs (pprof of the handler while
// scoring: 0.13 of 1.08 ms per sensor); database/sql prepares a cached
// statement once on each connection that runs it.
type stmtCache struct {
	mu sync.Mutex
	m  map[stmtKey]*sql.Stmt
}

type stmtKey struct {
	db *sql.DB
	q  string
}

func (c *stmtCache) get(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, error) {
	k := stmtKey{db, q}
	c.mu.Lock()
	st, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return st, nil
	}
	// Prepared without the lock: it may wait for a connection, and other
	// statements must not wait behind it.
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[k]; ok {
		// Prepared meanwhile by another caller: keep that one. Closing a
		// statement that never ran frees it; there is nothing to report.
		_ = st.Close()
		return prev, nil
	}
	if c.m == nil {
		c.m = map[stmtKey]*sql.Stmt{}
	}
	c.m[k] = st
	return st, nil
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for k, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, k)
	}
	return errors.Join(errs...)
}

// prepared returns q prepared on db from the statement cache on SQLite, and
// nil on SQL Server, which runs its statements as they come (with q's
// placeholders). Call it outside any transaction: preparing on the writer
// pool waits for its one connection.
func (s *Store) prepared(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, error) {
	if s.d != dialectSQLite {
		return nil, nil
	}
	return s.stmts.get(ctx, db, q)
}

// query runs q on db, prepared on SQLite.
func (s *Store) query(ctx context.Context, db *sql.DB, q string, args ...any) (*sql.Rows, error) {
	st, err := s.prepared(ctx, db, q)
	if err != nil || st == nil {
		return db.QueryContext(ctx, s.q(q), args...)
	}
	return st.QueryContext(ctx, args...)
}

// exec runs q on db, prepared on SQLite.
func (s *Store) exec(ctx context.Context, db *sql.DB, q string, args ...any) (sql.Result, error) {
	st, err := s.prepared(ctx, db, q)
	if err != nil || st == nil {
		return db.ExecContext(ctx, s.q(q), args...)
	}
	return st.ExecContext(ctx, args...)
}

// txQueryRow runs q in tx, a transaction of the writer pool, through st when
// q was prepared (prepared, before the transaction began).
func (s *Store) txQueryRow(ctx context.Context, tx *sql.Tx, st *sql.Stmt, q string, args ...any) *sql.Row {
	if st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, s.q(q), args...)
}

// q rewrites ? placeholders to @p1, @p2, ... for SQL Server. Queries here never
// hold a literal '?'.
func (s *Store) q(query string) string {
	if s.d != dialectSQLServer {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("@p")
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// IsTransient reports whether retrying may succeed: SQLite busy/locked, SQL
// Server deadlocks, lock timeouts, throttling and failover errors, closed or
// refused connections and timeouts. A cancelled context is not transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
		return false
	}
	var me mssql.Error
	if errors.As(err, &me) {
		switch me.Number {
		case 1205, // deadlock victim
			1222,         // lock request time out
			-2,           // timeout
			4060,         // cannot open database (during failover)
			40197, 40501, // service busy / error processing
			40613,               // database not currently available
			49918, 49919, 49920, // not enough resources / too many operations
			10928, 10929, // resource limits
			233, 10053, 10054, 10060, 64: // transport-level errors
			return true
		}
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// redact hides a password in a URL for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
