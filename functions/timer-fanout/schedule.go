package timerfanout

import (
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is a parsed 6-field NCRONTAB expression, evaluated in UTC.
type Schedule struct {
	expr  string
	sched cron.Schedule
}

var parser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// ParseSchedule parses {second} {minute} {hour} {day} {month} {day-of-week}.
func ParseSchedule(expr string) (Schedule, error) {
	s, err := parser.Parse(expr)
	if err != nil {
		return Schedule{}, fmt.Errorf("parse schedule %q: %w", expr, err)
	}
	return Schedule{expr: expr, sched: s}, nil
}

// String returns the expression.
func (s Schedule) String() string { return s.expr }

// Next returns the first occurrence strictly after t (zero if none within five years).
func (s Schedule) Next(t time.Time) time.Time { return s.sched.Next(t.UTC()) }

// maxLookback bounds the backwards search: cron gives up after five years too.
const maxLookback = 5 * 366 * 24 * time.Hour

var errNoOccurrence = errors.New("no occurrence within five years")

// Latest returns the latest occurrence at or before t.
//
// cron only steps forwards, so Latest first widens a lookback d (doubling from
// one second) until an occurrence lies in (t-d, t], then binary-searches the
// whole second x in [t-d, t) with Next(x) <= t < Next(x+1s): Next(x) is then
// the answer. That is O(log d) calls to Next whatever the spacing.
func (s Schedule) Latest(t time.Time) (time.Time, error) {
	t = t.UTC().Truncate(time.Second)
	d := time.Second
	for {
		if n := s.Next(t.Add(-d)); !n.IsZero() && !n.After(t) {
			break
		}
		if d > maxLookback {
			return time.Time{}, fmt.Errorf("schedule %q before %s: %w", s.expr, t.Format(time.RFC3339), errNoOccurrence)
		}
		d *= 2
	}
	lo, hi := t.Add(-d), t // Next(lo) <= t; Next(hi) > t
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
		if n := s.Next(mid); !n.IsZero() && !n.After(t) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return s.Next(lo), nil
}

// Previous returns the latest occurrence strictly before t.
func (s Schedule) Previous(t time.Time) (time.Time, error) {
	t = t.UTC()
	if t.Truncate(time.Second).Equal(t) {
		t = t.Add(-time.Second)
	}
	return s.Latest(t)
}

// IsOccurrence reports whether t is an occurrence of the schedule.
func (s Schedule) IsOccurrence(t time.Time) bool {
	t = t.UTC()
	return t.Truncate(time.Second).Equal(t) && s.Next(t.Add(-time.Second)).Equal(t)
}

// Period returns the longest interval between consecutive occurrences, over
// the first 10,000 occurrences from 2001 or eight years, whichever ends
// first (eight years hold a leap day; 10,000 occurrences of a schedule firing
// every few seconds in working hours still cross a night). Zero if the
// schedule never fires.
func (s Schedule) Period() time.Duration {
	start := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := s.Next(start.Add(-time.Second))
	var longest time.Duration
	for i := 0; i < 10000 && !prev.IsZero() && prev.Sub(start) < 8*366*24*time.Hour; i++ {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(prev))
		prev = next
	}
	return longest
}
