-- The model blob version (ETag) that scored each (run, sensor).
ALTER TABLE outcomes ADD COLUMN model_etag TEXT NOT NULL DEFAULT '';
