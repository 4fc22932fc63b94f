package azfunc

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestEachLineOnce: every record of an invocation reaches the host exactly
// once: Info lines in Logs when the answer is 2xx (the host logs them in the
// invocation's scope), on stdout when it is not (the host drops Logs then);
// Warn and Error lines on stderr only, where the host keeps their severity
// (WorkerProcess.ParseErrorMessageAndLog); Debug lines on stdout.
func TestEachLineOnce(t *testing.T) {
	body, header, err := NewQueueRequest("job", queueValue, call("score-sensor"))
	if err != nil {
		t.Fatal(err)
	}
	for _, test := range []struct {
		name       string
		fail       bool
		wantLogs   []string // messages
		wantStdout []string
		wantStderr []string
	}{
		{name: "success", wantLogs: []string{"scored"}, wantStdout: []string{"detail", "invocation succeeded"}, wantStderr: []string{"slow blob"}},
		{name: "failure", fail: true, wantStdout: []string{"detail", "scored"}, wantStderr: []string{"slow blob", "invocation failed"}},
	} {
		t.Run(test.name, func(t *testing.T) {
			h := func(o Options) http.Handler {
				return Handle("score-sensor", QueueTrigger("job"), func(ctx context.Context, inv *Invocation, m QueueMessage) (Response, error) {
					inv.Logger.Debug("detail")
					inv.Logger.Info("scored", "rows", 3)
					inv.Logger.Warn("slow blob")
					if test.fail {
						return Response{}, errors.New("sql down")
					}
					return Response{}, nil
				}, o)
			}
			got := serve(t, h, Options{}, body, header)
			var logs []string
			for _, l := range got.resp.Logs {
				_, rest, _ := strings.Cut(l, " ")
				msg, _, _ := strings.Cut(rest, " ")
				if msg == "invocation" { // "invocation failed"
					msg = "invocation failed"
				}
				logs = append(logs, msg)
			}
			msgs := func(lines []map[string]any) []string {
				var out []string
				for _, l := range lines {
					out = append(out, l["msg"].(string))
				}
				return out
			}
			for _, c := range []struct {
				where     string
				got, want []string
			}{{"Logs", logs, test.wantLogs}, {"stdout", msgs(got.stdout), test.wantStdout}, {"stderr", msgs(got.stderr), test.wantStderr}} {
				if strings.Join(c.got, "|") != strings.Join(c.want, "|") {
					t.Errorf("%s = %q, want %q", c.where, c.got, c.want)
				}
			}
		})
	}
}
