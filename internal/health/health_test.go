package health

import "testing"

func TestJudge(t *testing.T) {
	for _, test := range []struct {
		name            string
		rows, anomalies int
		history         []float64
		want            Status
		wantReason      string
	}{
		{"every row", 1184, 1184, nil, FlagsAll, "the model flags 100 % of 1184 rows as anomalies: a model that flags everything says nothing about this sensor (a degenerate boundary, such as nu times the training rows below 1, or readings unlike its training data); check the model before trusting its predictions"},
		{"99.2 %", 1000, 992, nil, FlagsAll, "the model flags 99.2 % of 1000 rows as anomalies: a model that flags everything says nothing about this sensor (a degenerate boundary, such as nu times the training rows below 1, or readings unlike its training data); check the model before trusting its predictions"},
		{"98 % is most, not all", 1000, 980, nil, FlagsMost, "the model flags 98.0 % of 1000 rows as anomalies: more than an anomaly detector should; check the model against recent data"},
		{"half is not most", 1000, 500, nil, OK, "anomaly rate 50.0 %"},
		{"one in a thousand is none", 1000, 1, nil, FlagsNone, "the model flags 0.1 % of 1000 rows: its boundary encloses everything this sensor sends, so it would miss real anomalies too; check nu and gamma"},
		{"none of many", 1184, 0, nil, FlagsNone, "the model flags none of 1184 rows: its boundary encloses everything this sensor sends, so it would miss real anomalies too; check nu and gamma"},
		{"none of few is fine", 99, 0, nil, OK, "anomaly rate 0 %"},
		{"too few rows", 19, 19, nil, TooFew, "19 rows: too few to judge the model"},
		{"empty", 0, 0, nil, TooFew, "0 rows: too few to judge the model"},
		{"jump up", 1000, 400, []float64{0.05, 0.04, 0.06}, Jump, "anomaly rate 40.0 % against a median of 5.0 % over the sensor's last 3 runs"},
		{"jump down", 1000, 10, []float64{0.5, 0.4, 0.6, 0.45}, Jump, "anomaly rate 1.0 % against a median of 47.5 % over the sensor's last 4 runs"},
		{"steady", 1000, 60, []float64{0.05, 0.04, 0.06}, OK, "anomaly rate 6.0 %, median 5.0 % over the last 3 runs"},
		{"short history is not judged", 1000, 400, []float64{0.05, 0.05}, OK, "anomaly rate 40.0 %"},
		{"all beats jump", 1000, 1000, []float64{0.05, 0.05, 0.05}, FlagsAll, "the model flags 100 % of 1000 rows as anomalies: a model that flags everything says nothing about this sensor (a degenerate boundary, such as nu times the training rows below 1, or readings unlike its training data); check the model before trusting its predictions"},
	} {
		v := Default.Judge(test.rows, test.anomalies, test.history)
		if v.Status != test.want || v.Reason != test.wantReason {
			t.Errorf("%s: %s %q, want %s %q", test.name, v.Status, v.Reason, test.want, test.wantReason)
		}
		if v.Healthy() != (test.want == OK || test.want == TooFew) {
			t.Errorf("%s: Healthy() = %v", test.name, v.Healthy())
		}
	}
}
