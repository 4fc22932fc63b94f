package azfunc

import (
	"fmt"
	"strings"
	"time"
)

// Layouts the host produces: Newtonsoft's ISO form with up to seven fractional
// digits, with "Z", with an offset, or without a zone (DateTimeKind.Unspecified),
// and the invariant-culture ToString() form should a value slip through unparsed.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"01/02/2006 15:04:05 -07:00",
	"01/02/2006 15:04:05",
	"1/2/2006 3:04:05 PM -07:00",
	"1/2/2006 3:04:05 PM",
}

// ParseTime parses a host timestamp leniently. A value without a zone
// designator is taken as UTC (the Event Hubs extension sends EnqueuedTimeUtc
// without "Z"). The result keeps the offset it was given.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(strings.Trim(strings.TrimSpace(s), `"`))
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("azfunc: unrecognised time %q", s)
}

// .NET output formats (Newtonsoft "yyyy-MM-ddTHH:mm:ss.FFFFFFFK"): up to seven
// fractional digits with trailing zeros dropped.
const (
	dotnetUTC         = "2006-01-02T15:04:05.9999999Z07:00" // DateTime, Kind Utc: ...Z
	dotnetOffset      = "2006-01-02T15:04:05.9999999-07:00" // DateTimeOffset / Kind Local: ...+00:00
	dotnetUnspecified = "2006-01-02T15:04:05.9999999"       // DateTime, Kind Unspecified: no zone
	dotnetNoFraction  = "2006-01-02T15:04:05-07:00"         // DateTimeOffset after ToString()/Parse (sub-second lost)
)
