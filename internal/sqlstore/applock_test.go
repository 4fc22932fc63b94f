package sqlstore

import (
	"strings"
	"testing"
)

// TestAppLockResult checks how the return code of sp_getapplock is read: 0
// and 1 grant the lock; a timeout, a cancel, a deadlock and a call error are
// negative return values, not SQL errors, and each must stop the migration
// with an error that says which.
func TestAppLockResult(t *testing.T) {
	for _, tc := range []struct {
		code int
		want string // "" = granted
	}{
		{0, ""},
		{1, ""},
		{-1, "timed out"},
		{-2, "cancelled"},
		{-3, "deadlock"},
		{-999, "parameter validation or other call error"},
		{-7, "unknown return code -7"},
		{2, "unknown return code 2"},
	} {
		err := appLockResult("batchscore-migrate", tc.code)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("code %d: %v, want the lock granted", tc.code, err)
		case tc.want != "" && err == nil:
			t.Errorf("code %d: granted, want an error mentioning %q", tc.code, tc.want)
		case tc.want != "" && (!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "batchscore-migrate")):
			t.Errorf("code %d: %q, want it to name the lock and say %q", tc.code, err, tc.want)
		}
	}
	// The statement must hand the return code back, not discard it.
	if !strings.Contains(appLockSQL, "EXEC @r = sp_getapplock") || !strings.Contains(appLockSQL, "SELECT @r") {
		t.Errorf("appLockSQL does not return sp_getapplock's result:\n%s", appLockSQL)
	}
}
