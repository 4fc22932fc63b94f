-- The model blob version (ETag) that scored each (run, sensor).
ALTER TABLE dbo.outcomes ADD model_etag NVARCHAR(128) NOT NULL CONSTRAINT df_outcomes_model_etag DEFAULT N'';
