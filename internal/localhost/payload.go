package localhost

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/batchscore/batchscore/internal/azfunc"
)

// The request bodies come from internal/azfunc's builders, the same code the
// handler's tests use, so the stand-in and the tests cannot drift apart.

// timerState is what the timer knows at an occurrence.
type timerState struct {
	Schedule   cron.Schedule
	Now        time.Time             // when the invocation starts (sys.UtcNow)
	Status     azfunc.ScheduleStatus // the monitor's status as the function sees it
	PastDue    bool
	UseMonitor bool
}

func call(fn string, now time.Time, rc *azfunc.RetryContext) azfunc.Call {
	c := azfunc.NewCall(fn, now)
	c.HostVersion = HostVersion
	c.Retry = rc
	return c
}

func timerPayload(fn string, b Binding, st timerState, rc *azfunc.RetryContext) ([]byte, http.Header, error) {
	info := azfunc.TimerInfo{Schedule: azfunc.Schedule{AdjustForDST: true}, IsPastDue: st.PastDue}
	if st.UseMonitor {
		// While an occurrence runs the monitor still names it as Next, and Last is
		// the previous occurrence that ran (the default date before the first).
		info.ScheduleStatus = &azfunc.ScheduleStatus{
			Last:        st.Status.Last.UTC(),
			Next:        st.Status.Next.UTC(),
			LastUpdated: st.Status.LastUpdated.UTC(),
		}
	}
	return azfunc.NewTimerRequest(b.Name, info, call(fn, st.Now, rc))
}

func queuePayload(fn string, b Binding, m azfunc.QueueMessage) ([]byte, http.Header, error) {
	return azfunc.NewQueueRequest(b.Name, m, call(fn, time.Now(), nil))
}

func eventHubPayload(fn string, b Binding, batch []Event, rc *azfunc.RetryContext) ([]byte, http.Header, error) {
	cg := b.ConsumerGroup
	if cg == "" {
		cg = "$Default"
	}
	pc := azfunc.PartitionContext{
		FullyQualifiedNamespace: "localhost.servicebus.windows.net",
		EventHubName:            b.EventHubName,
		ConsumerGroup:           cg,
		PartitionId:             batch[0].Partition,
	}
	evs := make([]azfunc.Event, len(batch))
	for i, e := range batch {
		evs[i] = azfunc.Event{Body: e.Body, SequenceNumber: e.Sequence, Offset: formatOffset(e.Offset), EnqueuedTime: e.Enqueued}
	}
	return azfunc.NewEventHubRequest(b.Name, pc, evs, call(fn, time.Now(), rc))
}

func httpPayload(fn string, b Binding, method, u string, query url.Values, body []byte) ([]byte, http.Header, error) {
	q := map[string]string{}
	for k, v := range query {
		q[k] = strings.Join(v, ",")
	}
	hdr := http.Header{}
	if len(body) > 0 {
		ct := "text/plain; charset=utf-8"
		if json.Valid(body) {
			ct = "application/json"
		}
		hdr.Set("Content-Type", ct)
	}
	req := azfunc.HTTPRequest{Method: method, URL: u, Query: q, Headers: hdr, Params: map[string]string{},
		Identities: callerIdentities(b.AuthLevel), Body: body}
	return azfunc.NewHTTPRequest(b.Name, req, call(fn, time.Now(), nil))
}

// The claim types of the host's key authentication (SecurityConstants).
const (
	claimAuthLevel = "http://schemas.microsoft.com/2017/07/functions/claims/authlevel"
	claimInvoke    = "http://schemas.microsoft.com/2017/07/functions/claims/invoke"
	claimKeyID     = "http://schemas.microsoft.com/2017/07/functions/claims/keyid"
)

// callerIdentities is HttpContext.User.Identities of a request to a function with
// authLevel level. For "function" and "admin" the caller is taken to present the
// default function key (or the master key), so it has the identity the host's
// AuthenticationLevelHandler adds; an anonymous caller has ASP.NET Core's one
// unauthenticated identity.
func callerIdentities(level string) []azfunc.Identity {
	switch strings.ToLower(level) {
	case "function":
		return []azfunc.Identity{{AuthenticationType: "WebJobsAuthLevel", IsAuthenticated: true, Claims: []azfunc.Claim{
			{Type: claimAuthLevel, Value: "Function"}, {Type: claimInvoke, Value: "true"}, {Type: claimKeyID, Value: "default"}}}}
	case "admin", "system":
		return []azfunc.Identity{{AuthenticationType: "WebJobsAuthLevel", IsAuthenticated: true, Claims: []azfunc.Claim{
			{Type: claimAuthLevel, Value: "Admin"}, {Type: claimInvoke, Value: "true"}, {Type: claimKeyID, Value: "master"}}}}
	default:
		return []azfunc.Identity{{}}
	}
}
