-- Readings with the identity of the event that carried them: (source, seq, idx) is unique,
-- so a redelivered batch inserts nothing new.
IF OBJECT_ID(N'dbo.readings', N'U') IS NULL
CREATE TABLE dbo.readings (
    source NVARCHAR(300) NOT NULL,
    seq    BIGINT        NOT NULL,
    idx    INT           NOT NULL,
    device NVARCHAR(64)  NOT NULL,
    sensor NVARCHAR(64)  NOT NULL,
    ts_ms  BIGINT        NOT NULL,
    value  FLOAT         NOT NULL,
    CONSTRAINT pk_readings PRIMARY KEY (source, seq, idx)
);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'readings_sensor_ts' AND object_id = OBJECT_ID(N'dbo.readings'))
CREATE INDEX readings_sensor_ts ON dbo.readings (device, sensor, ts_ms) INCLUDE (value);

IF OBJECT_ID(N'dbo.runs', N'U') IS NULL
CREATE TABLE dbo.runs (
    run_id          NVARCHAR(100) NOT NULL CONSTRAINT pk_runs PRIMARY KEY,
    window_start_ms BIGINT        NOT NULL,
    window_end_ms   BIGINT        NOT NULL,
    sensors         INT           NOT NULL,
    created_ms      BIGINT        NOT NULL
);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'runs_created' AND object_id = OBJECT_ID(N'dbo.runs'))
CREATE INDEX runs_created ON dbo.runs (created_ms);

IF OBJECT_ID(N'dbo.outcomes', N'U') IS NULL
CREATE TABLE dbo.outcomes (
    run_id      NVARCHAR(100)  NOT NULL,
    device      NVARCHAR(64)   NOT NULL,
    sensor      NVARCHAR(64)   NOT NULL,
    status      NVARCHAR(16)   NOT NULL,
    [rows]      INT            NOT NULL DEFAULT 0,
    anomalies   INT            NOT NULL DEFAULT 0,
    attempts    INT            NOT NULL DEFAULT 0,
    duration_ms BIGINT         NOT NULL DEFAULT 0,
    blob        NVARCHAR(1024) NOT NULL DEFAULT N'',
    error       NVARCHAR(MAX)  NOT NULL DEFAULT N'',
    updated_ms  BIGINT         NOT NULL,
    CONSTRAINT pk_outcomes PRIMARY KEY (run_id, device, sensor)
);
