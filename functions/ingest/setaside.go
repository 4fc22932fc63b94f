package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/storage"
)

// DefaultUnknownRetries is Config.UnknownRetries when unset: with the
// exponential back-off of function.json (5 s doubling to 5 min) the eighth
// retry comes about 20 minutes after the first failure.
const DefaultUnknownRetries = 8

// ShouldSetAside decides, for a failed batch, between failing the invocation
// (the host retries it, and the partition waits) and setting it aside (the
// invocation is kept in the rejects container and answered 200, so the
// checkpoint moves on):
//
//   - permanent errors (azfunc.Permanent: an undecodable batch, a batch
//     without partition context) are set aside at once: no retry can fix them;
//   - transient errors (storage.IsTransient, sqlstore.IsTransient: a service
//     unavailable, throttled, timing out, a locked database, a refused or
//     reset connection) and a cancelled context (shutdown) fail the
//     invocation, however often: the data is good and retrying succeeds once
//     the service is back;
//   - any other error (a deterministic SQL error, or one nobody classified)
//     fails the invocation until retry number Config.UnknownRetries, then is
//     set aside;
//   - whatever the error, on the last retry of a finite retry policy the batch
//     is set aside, since the host would checkpoint past it next.
//
// retry is the invocation's Metadata.RetryContext (nil on a first attempt
// without a retry policy).
func (f *Function) ShouldSetAside(err error, retry *azfunc.RetryContext) bool {
	if err == nil {
		return false
	}
	n, last := 0, false
	if retry != nil {
		n = retry.RetryCount
		last = retry.MaxRetryCount >= 0 && n >= retry.MaxRetryCount
	}
	switch {
	case azfunc.IsPermanent(err):
		return true
	case last:
		return true
	case errors.Is(err, context.Canceled), storage.IsTransient(err), sqlstore.IsTransient(err):
		return false
	}
	return n >= f.cfg.UnknownRetries
}

// SetAside keeps an invocation that will not be stored: the blob
// invocations/{digest}.json in the rejects container holds
// {"function":"ingest","reason":...,"invocation":...}, the request body as
// JSON (or as a string when it is not JSON). The digest is the SHA-256 of the
// body without Metadata.sys and Metadata.RetryContext, which change from one
// delivery of a batch to the next, so every retry of a batch writes the same
// blob. It returns the blob name.
func (f *Function) SetAside(ctx context.Context, body []byte, reason error) (string, error) {
	name := "invocations/" + digest(body) + ".json"
	inv := json.RawMessage(body)
	if !json.Valid(body) {
		text := strings.ToValidUTF8(string(body), string(utf8.RuneError))
		inv, _ = json.Marshal(text) // a string always encodes
	}
	if err := azfunc.PutSetAside(ctx, f.raw, f.cfg.RejectsContainer, name, azfunc.SetAsideRecord{
		Function: "ingest", Reason: reason.Error(), Invocation: inv}); err != nil {
		return "", err
	}
	return name, nil
}

// digest identifies a batch by its invocation body without the parts that
// differ between deliveries.
func digest(body []byte) string {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err == nil {
		for k, v := range top {
			if !strings.EqualFold(k, "Metadata") {
				continue
			}
			var meta map[string]json.RawMessage
			if json.Unmarshal(v, &meta) != nil {
				continue
			}
			for mk := range meta {
				if strings.EqualFold(mk, "sys") || strings.EqualFold(mk, "RetryContext") {
					delete(meta, mk)
				}
			}
			top[k], _ = json.Marshal(meta) // raw messages always encode
		}
		if b, err := json.Marshal(top); err == nil { // keys sorted: a canonical form
			body = b
		}
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
