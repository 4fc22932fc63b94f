package sqlstore_test

import (
	"github.com/batchscore/batchscore/functions/ingest"
	runstatus "github.com/batchscore/batchscore/functions/run-status"
	scoresensor "github.com/batchscore/batchscore/functions/score-sensor"
	timerfanout "github.com/batchscore/batchscore/functions/timer-fanout"
	"github.com/batchscore/batchscore/internal/sqlstore"
)

// The consumer-side interfaces of the functions that the store implements.
var (
	_ ingest.ReadingStore      = (*sqlstore.Store)(nil)
	_ scoresensor.PointSource  = (*sqlstore.Store)(nil)
	_ scoresensor.OutcomeStore = (*sqlstore.Store)(nil)
	_ timerfanout.RunStore     = (*sqlstore.Store)(nil)
	_ runstatus.SummaryStore   = (*sqlstore.Store)(nil)
)
