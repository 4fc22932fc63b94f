package localhost

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/batchscore/batchscore/internal/storage"
)

// queueOutput is one queue output binding ("type": "queue", "direction": "out")
// of a function: the queue its messages go to.
type queueOutput struct {
	b       Binding
	q       *storage.Queue
	ensured atomic.Bool
}

// newQueueOutputs returns the queue output bindings of fn, their queues resolved
// like a trigger's (%SETTING% already expanded by LoadApp; connection default
// AzureWebJobsStorage).
func newQueueOutputs(h *Host, fn Function) ([]*queueOutput, error) {
	var outs []*queueOutput
	for _, b := range fn.Bindings {
		if !strings.EqualFold(b.Type, "queue") || !strings.EqualFold(b.Direction, "out") {
			continue
		}
		if b.QueueName == "" {
			return nil, fmt.Errorf("%s: queue output %q without queueName", fn.Name, b.Name)
		}
		acct, err := h.storageAccount(fn, b)
		if err != nil {
			return nil, err
		}
		outs = append(outs, &queueOutput{b: b, q: acct.Queue(strings.ToLower(b.QueueName))})
	}
	return outs, nil
}

// errNotImitated marks an output value whose messages the stand-in does not
// compute: the host would write them as Newtonsoft's ToString() of a JSON
// object or value (objects indented, numbers and booleans in .NET's format).
var errNotImitated = errors.New("not imitated by the local host")

// queueMessages returns the messages the host writes for one queue output
// binding's value from Outputs (nil for a JSON null: no output). It follows
// azure-functions-host:
//
//   - src/WebJobs.Script/Workers/Http/HttpScriptInvocationResultExtensions.cs,
//     GetBindingValue: unless the binding's dataType is binary, a string value
//     that Convert.FromBase64String accepts becomes the decoded bytes (one
//     message of those bytes);
//   - src/WebJobs.Script/Binding/FunctionBinding.cs, ReadAsEnumerable and
//     BindAsyncCollectorAsync: a JSON array, or a string that Utility.IsJson
//     takes for JSON (trimmed, {...} or [...]) parsed, gives one message per
//     element; anything else is one message. Each is written as the UTF-8 of
//     its ToString(): a string element or a plain string is its text.
//
// Objects, numbers, booleans and nulls as messages return errNotImitated.
func queueMessages(raw json.RawMessage, binary bool) ([][]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil // GetOutputValue: no value, no output
	}
	var s string
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		if !binary {
			if b, ok := dotnetBase64(s); ok {
				return [][]byte{b}, nil
			}
		}
		t := strings.TrimSpace(s)
		if !(strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]")) && !(strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}")) {
			return [][]byte{[]byte(s)}, nil
		}
		raw = json.RawMessage(t) // Utility.IsJson: parsed as JSON (JToken.Parse)
	case '[':
	default:
		return nil, fmt.Errorf("value %.40s: a JSON %s written as one message: %w", raw, jsonKind(raw), errNotImitated)
	}
	if raw[0] != '[' {
		return nil, fmt.Errorf("string holding a JSON %s (written as indented JSON): %w", jsonKind(raw), errNotImitated)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf("array value: %w", err)
	}
	msgs := make([][]byte, 0, len(elems))
	for i, e := range elems {
		if len(e) == 0 || e[0] != '"' {
			return nil, fmt.Errorf("array element %d: a JSON %s: %w", i, jsonKind(e), errNotImitated)
		}
		var s string
		if err := json.Unmarshal(e, &s); err != nil {
			return nil, fmt.Errorf("array element %d: %w", i, err)
		}
		msgs = append(msgs, []byte(s))
	}
	return msgs, nil
}

func jsonKind(raw json.RawMessage) string {
	switch {
	case len(raw) == 0:
		return "nothing"
	case raw[0] == '{':
		return "object"
	case raw[0] == '[':
		return "array"
	case raw[0] == '"':
		return "string"
	case raw[0] == 't' || raw[0] == 'f':
		return "boolean"
	case raw[0] == 'n':
		return "null"
	}
	return "number"
}

// dotnetBase64 decodes s as .NET's Convert.FromBase64String does: white space
// (space, tab, CR, LF) is ignored, the rest must be standard base64 with its
// padding, in whole groups of four; "" decodes to no bytes.
func dotnetBase64(s string) ([]byte, bool) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	if len(clean)%4 != 0 {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, false
	}
	return b, true
}

// writeOutputs writes the queue output bindings of a successful invocation of
// fn from its Outputs, as the host does for a custom handler (only bindings
// declared in function.json are read from Outputs; names match exactly, as the
// host's dictionary lookup does), then wakes the listeners of each queue
// written to. The Storage Queues extension's QueueAsyncCollector.AddAsync puts
// each message (creating the queue if it is missing) and then calls
// _messageEnqueuedWatcher.Notify(queue name), which cuts the empty-queue
// back-off of this host's listeners of that queue short (azure-sdk-for-net,
// sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Queues/src/Config/
// QueuesExtensionConfigProvider.cs: "Optimization where a queue output can
// directly trigger a queue input. This is per-host"). Messages are encoded per
// messageEncoding. An error fails the invocation, as a failed output binding
// does in the host.
func (h *Host) writeOutputs(ctx context.Context, fn string, outputs map[string]json.RawMessage) error {
	for _, o := range h.outputs[fn] {
		raw, ok := outputs[o.b.Name]
		if !ok {
			continue
		}
		msgs, err := queueMessages(raw, strings.EqualFold(o.b.DataType, "binary"))
		if err != nil {
			return fmt.Errorf("queue output %s: %w", o.b.Name, err)
		}
		if len(msgs) == 0 {
			continue
		}
		if !o.ensured.Load() {
			if err := o.q.Ensure(ctx); err != nil {
				return fmt.Errorf("queue output %s: %w", o.b.Name, err)
			}
			o.ensured.Store(true)
		}
		for _, m := range msgs {
			if h.cfg.Queues.MessageEncoding == "base64" {
				err = o.q.Enqueue(ctx, m)
			} else {
				err = o.q.EnqueueText(ctx, string(m))
			}
			if err != nil {
				return fmt.Errorf("queue output %s: %w", o.b.Name, err)
			}
		}
		h.pokeQueue(o.q.Name())
	}
	return nil
}
