-- The function app's managed identity as a contained user of the app database, with the least rights the
-- app needs. Run once per database, after the Bicep deployment, in the APP DATABASE (not master), as the
-- server's Entra administrator; `make deploy` runs it (infra/deploy.sh) as:
--   sqlcmd -b -S <server>.database.windows.net -d batchscore --authentication-method ActiveDirectoryDefault \
--     -v APP_IDENTITY_NAME=<identity name> APP_CLIENT_ID=<identity client id> -i infra/sql/app-user.sql
-- It is idempotent: running it again changes nothing.
--
-- The user is created from the identity's client ID (WITH SID ..., TYPE = E) rather than FROM EXTERNAL
-- PROVIDER, so the server needs no Microsoft Graph (Directory Readers) permission to look the name up.
-- The SID of an Entra application or managed identity is its client ID in uniqueidentifier byte order.
IF DATABASE_PRINCIPAL_ID(N'$(APP_IDENTITY_NAME)') IS NULL
BEGIN
    DECLARE @sid NVARCHAR(40) = CONVERT(NVARCHAR(40), CONVERT(VARBINARY(16), CAST(N'$(APP_CLIENT_ID)' AS UNIQUEIDENTIFIER)), 1);
    EXEC (N'CREATE USER [$(APP_IDENTITY_NAME)] WITH SID = ' + @sid + N', TYPE = E;');
END;
GO

-- The handler applies its schema migrations at start (internal/sqlstore/migrations/sqlserver): CREATE TABLE,
-- CREATE/DROP INDEX and ALTER TABLE ADD/DROP CONSTRAINT in dbo. CREATE TABLE needs the database permission
-- plus ALTER on the schema; ALTER on the schema also covers the index and constraint changes of its tables.
GRANT CREATE TABLE TO [$(APP_IDENTITY_NAME)];
GRANT ALTER ON SCHEMA::dbo TO [$(APP_IDENTITY_NAME)];

-- Reads and idempotent writes (INSERT, MERGE ... WHEN MATCHED THEN UPDATE) of readings, runs, outcomes and
-- schema_version; DELETE for retention (READINGS_RETENTION: readings older than it are deleted in batches).
-- No role membership (db_owner, db_datawriter...).
GRANT SELECT, INSERT, UPDATE, DELETE ON SCHEMA::dbo TO [$(APP_IDENTITY_NAME)];
GO
