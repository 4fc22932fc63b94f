package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	timerfanout "github.com/batchscore/batchscore/functions/timer-fanout"
	"github.com/batchscore/batchscore/functions/train"
	"github.com/batchscore/batchscore/internal/azfunc"
)

// trainConfig reads the train function's settings (TRAIN_*), reporting each
// bad one through bad. TRAIN_SCHEDULE is read by the host from function.json
// (%TRAIN_SCHEDULE%); the handler checks it like FANOUT_SCHEDULE. The
// function runs only where the app setting AzureWebJobs.train.Disabled is
// false (local.settings.sample.json and the Bicep template set it to true).
//
// While train runs, a READINGS_RETENTION shorter than TRAIN_DAYS is refused:
// the windows it fits on would be gone, and it would train on less history
// than it says.
func trainConfig(s spec, c Config, getenv func(string) string, bad func(string, error)) train.Config {
	if s.TrainSchedule.Err != nil {
		bad("TRAIN_SCHEDULE", s.TrainSchedule.Err)
	} else if _, err := timerfanout.ParseSchedule(s.TrainSchedule.V); err != nil {
		bad("TRAIN_SCHEDULE", err)
	}
	if s.TrainDays.Err != nil {
		bad("TRAIN_DAYS", s.TrainDays.Err)
	} else if s.TrainDays.V < 1 {
		bad("TRAIN_DAYS", fmt.Errorf("%d: must be at least 1", s.TrainDays.V))
	} else if history := time.Duration(s.TrainDays.V) * 24 * time.Hour; s.ReadingsRetention.Err == nil && c.ReadingsRetention != 0 &&
		c.ReadingsRetention < history && !azfunc.Disabled(getenv(azfunc.DisabledSetting("train"))) {
		bad("READINGS_RETENTION", fmt.Errorf("%s is shorter than TRAIN_DAYS %d (%s) of training history; keep at least that, or disable train (%s)",
			c.ReadingsRetention, s.TrainDays.V, history, azfunc.DisabledSetting("train")))
	}
	numbersOK := true
	float := func(name string, v setting[string]) float64 {
		if v.Err != nil {
			bad(name, v.Err)
			numbersOK = false
			return 0
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v.V), 64)
		if err != nil {
			bad(name, fmt.Errorf("%q is not a number", v.V))
			numbersOK = false
		}
		return f
	}
	tc := train.Config{
		ModelsContainer: c.ModelsContainer,
		Days:            s.TrainDays.V,
		Nu:              float("TRAIN_NU", s.TrainNu),
		Gamma:           s.TrainGamma.V,
		Tolerance:       float("TRAIN_TOLERANCE", s.TrainTolerance),
		Width:           c.AggregateWindow,
	}
	if s.TrainTolerance.Err == nil && tc.Tolerance == 0 {
		if _, err := strconv.ParseFloat(strings.TrimSpace(s.TrainTolerance.V), 64); err == nil {
			// train.Config takes 0 for its default (0.05): a tolerance of 0
			// would silently become 0.05.
			bad("TRAIN_TOLERANCE", errors.New("0: must be above 0 (give a small one, such as 0.001, for a strict check)"))
		}
	}
	if numbersOK && tc.Nu == 0 {
		bad("TRAIN_NU", errors.New("0: must be in (0, 1]"))
	}
	// Validate reports the ranges (a zero value above would only take its default there).
	if numbersOK && tc.Days >= 1 && tc.Nu != 0 && s.TrainGamma.Err == nil {
		if err := tc.Validate(); err != nil {
			for _, e := range strings.Split(err.Error(), "\n") {
				name, msg, _ := strings.Cut(e, " ")
				bad(strings.TrimSuffix(name, ":"), errors.New(msg))
			}
		}
	}
	return tc
}
