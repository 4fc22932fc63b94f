package azfunc

import "errors"

// permanentError marks an error that retrying the invocation cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: a malformed trigger value, an invalid
// request, data that can never be processed. Permanent(nil) is nil.
//
// The host still sees a failure (500) for non-HTTP triggers, so a queue message
// goes on to its poison queue and stays inspectable; the mark changes the log
// line (permanent=true) and, for HTTP triggers, the status the caller gets (400).
func Permanent(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err or any error it wraps was marked with [Permanent].
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
