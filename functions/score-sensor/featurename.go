package scoresensor

import (
	"fmt"

	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/svm"
)

// valueFeature is the name a single-feature model fitted on the readings'
// Value column (the reference data's TS,Device,Sensor,Value) keeps.
const valueFeature = "Value"

// checkFeatureName refuses a single-feature model whose file names its
// feature (scikit-learn's feature_names_in_, kept when it was fitted on a
// DataFrame) anything but valueFeature or the sensor's id: such a model was
// fitted on other data, most likely another sensor's. A model that names
// no feature passes (docs/models.md, "Feature names").
func checkFeatureName(m *svm.Model, e sensor.JobEntry) error {
	names := m.FeatureNames()
	if len(names) != 1 || names[0] == valueFeature || names[0] == e.Sensor {
		return nil
	}
	return fmt.Errorf("model %s was fitted on a column named %q, but sensor %s scores its readings' %s: the model's column must be %s or %q",
		e.Model, names[0], e.Key, valueFeature, valueFeature, e.Sensor)
}
