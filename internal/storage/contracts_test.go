package storage_test

import (
	"github.com/batchscore/batchscore/functions/ingest"
	scoresensor "github.com/batchscore/batchscore/functions/score-sensor"
	timerfanout "github.com/batchscore/batchscore/functions/timer-fanout"
	"github.com/batchscore/batchscore/internal/storage"
)

// The consumer-side interfaces of the functions that these adapters implement.
var (
	_ ingest.RawSink             = (*storage.Blobs)(nil)
	_ scoresensor.ModelStore     = (*storage.Blobs)(nil)
	_ scoresensor.PredictionSink = (*storage.Blobs)(nil)
	_ timerfanout.ModelLister    = (*storage.Blobs)(nil)
	_ timerfanout.JobQueue       = (*storage.Queue)(nil)
)
