package timerfanout

import (
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestScheduleLatestAndPrevious(t *testing.T) {
	for _, tc := range []struct {
		name, expr, at   string
		latest, previous string // previous = Previous(latest)
	}{
		{"hourly", "0 0 * * * *", "2018-08-29T03:15:00Z", "2018-08-29T03:00:00Z", "2018-08-29T02:00:00Z"},
		{"hourly at the occurrence", "0 0 * * * *", "2018-08-29T03:00:00Z", "2018-08-29T03:00:00Z", "2018-08-29T02:00:00Z"},
		{"hourly just before", "0 0 * * * *", "2018-08-29T02:59:59.999Z", "2018-08-29T02:00:00Z", "2018-08-29T01:00:00Z"},
		{"hourly across midnight", "0 0 * * * *", "2018-08-29T00:10:00Z", "2018-08-29T00:00:00Z", "2018-08-28T23:00:00Z"},
		{"every five minutes", "0 */5 * * * *", "2024-05-01T10:07:30.5Z", "2024-05-01T10:05:00Z", "2024-05-01T10:00:00Z"},
		{"every second", "* * * * * *", "2024-05-01T10:00:00.7Z", "2024-05-01T10:00:00Z", "2024-05-01T09:59:59Z"},
		{"irregular morning", "0 0 9,17 * * *", "2024-05-01T08:00:00Z", "2024-04-30T17:00:00Z", "2024-04-30T09:00:00Z"},
		{"irregular evening", "0 0 9,17 * * *", "2024-05-01T20:00:00Z", "2024-05-01T17:00:00Z", "2024-05-01T09:00:00Z"},
		{"weekdays", "0 30 6 * * 1-5", "2024-05-06T05:00:00Z", "2024-05-03T06:30:00Z", "2024-05-02T06:30:00Z"}, // Monday -> Friday
		{"yearly", "0 0 0 1 1 *", "2024-06-01T00:00:00Z", "2024-01-01T00:00:00Z", "2023-01-01T00:00:00Z"},
		{"leap day", "0 0 0 29 2 *", "2026-03-01T00:00:00Z", "2024-02-29T00:00:00Z", "2020-02-29T00:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSchedule(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Latest(mustTime(t, tc.at))
			if err != nil {
				t.Fatal(err)
			}
			if want := mustTime(t, tc.latest); !got.Equal(want) {
				t.Errorf("Latest(%s) = %s, want %s", tc.at, got, want)
			}
			prev, err := s.Previous(got)
			if err != nil {
				t.Fatal(err)
			}
			if want := mustTime(t, tc.previous); !prev.Equal(want) {
				t.Errorf("Previous(%s) = %s, want %s", got, prev, want)
			}
			if !s.IsOccurrence(got) || !s.IsOccurrence(prev) {
				t.Errorf("IsOccurrence false for %s or %s", got, prev)
			}
		})
	}
}

func TestScheduleErrors(t *testing.T) {
	for _, expr := range []string{"", "0 * * * *", "0 0 25 * * *", "every hour", "0 0 * * * * *"} {
		if _, err := ParseSchedule(expr); err == nil {
			t.Errorf("ParseSchedule(%q) = nil error", expr)
		}
	}
	s, err := ParseSchedule("0 0 0 30 2 *") // February 30th never comes
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Latest(mustTime(t, "2024-05-01T00:00:00Z")); err == nil {
		t.Error("Latest of a schedule that never fires = nil error")
	}
}

func TestScheduleIsOccurrence(t *testing.T) {
	s, err := ParseSchedule("0 */15 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	for at, want := range map[string]bool{
		"2024-05-01T10:15:00Z":     true,
		"2024-05-01T10:16:00Z":     false,
		"2024-05-01T10:15:00.001Z": false,
		"2024-05-01T10:15:01Z":     false,
	} {
		if got := s.IsOccurrence(mustTime(t, at)); got != want {
			t.Errorf("IsOccurrence(%s) = %v, want %v", at, got, want)
		}
	}
}

func TestSchedulePeriod(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want time.Duration
	}{
		{"0 0 * * * *", time.Hour},
		{"0 */5 * * * *", 5 * time.Minute},
		{"* * * * * *", time.Second},
		{"0 0 9,17 * * *", 16 * time.Hour},
		{"0 30 6 * * 1-5", 3 * 24 * time.Hour}, // Friday -> Monday
		{"*/5 * 9-17 * * *", 15*time.Hour + 5*time.Second},
		{"0 0 0 1 * *", 31 * 24 * time.Hour},
		{"0 0 0 29 2 *", 4*365*24*time.Hour + 24*time.Hour},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			s, err := ParseSchedule(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Period(); got != tc.want {
				t.Errorf("Period() = %s, want %s", got, tc.want)
			}
		})
	}
}
