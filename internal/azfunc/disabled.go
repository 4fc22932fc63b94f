package azfunc

import "strings"

// DisabledSetting is the app setting that turns one function off: the host
// starts no listener for its trigger, and an HTTP function answers 404
// (Microsoft docs, "How to disable functions in Azure Functions").
func DisabledSetting(function string) string { return "AzureWebJobs." + function + ".Disabled" }

// Disabled reports whether a value of DisabledSetting turns the function
// off: "true" in any case, or "1".
func Disabled(value string) bool {
	v := strings.TrimSpace(value)
	return strings.EqualFold(v, "true") || v == "1"
}
