package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/applicationinsights/armapplicationinsights"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v4"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/eventhub/armeventhub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/operationalinsights/armoperationalinsights/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
)

// model is the Azure SDK for Go request-body type of a resource type at the API version its module was
// generated from (the module's autorest.md tag; the api-version its clients send). Bicep's type data and
// these modules both come from the azure-rest-api-specs; a property the model does not know is a
// property ARM does not know.
type model struct {
	version string
	typ     reflect.Type
	module  string
}

var models = map[string]model{
	"Microsoft.Web/serverfarms":                                 {"2023-12-01", reflect.TypeFor[armappservice.Plan](), "armappservice/v4 v4.0.0"},
	"Microsoft.Web/sites":                                       {"2023-12-01", reflect.TypeFor[armappservice.Site](), "armappservice/v4 v4.0.0"},
	"Microsoft.Web/sites/config":                                {"2023-12-01", reflect.TypeFor[armappservice.SiteConfigResource](), "armappservice/v4 v4.0.0"},
	"Microsoft.Web/sites/basicPublishingCredentialsPolicies":    {"2023-12-01", reflect.TypeFor[armappservice.CsmPublishingCredentialsPoliciesEntity](), "armappservice/v4 v4.0.0"},
	"Microsoft.Storage/storageAccounts":                         {"2024-01-01", reflect.TypeFor[armstorage.AccountCreateParameters](), "armstorage v1.8.1"},
	"Microsoft.Storage/storageAccounts/blobServices":            {"2024-01-01", reflect.TypeFor[armstorage.BlobServiceProperties](), "armstorage v1.8.1"},
	"Microsoft.Storage/storageAccounts/blobServices/containers": {"2024-01-01", reflect.TypeFor[armstorage.BlobContainer](), "armstorage v1.8.1"},
	"Microsoft.Storage/storageAccounts/queueServices":           {"2024-01-01", reflect.TypeFor[armstorage.QueueServiceProperties](), "armstorage v1.8.1"},
	"Microsoft.Storage/storageAccounts/queueServices/queues":    {"2024-01-01", reflect.TypeFor[armstorage.Queue](), "armstorage v1.8.1"},
	"Microsoft.Storage/storageAccounts/tableServices":           {"2024-01-01", reflect.TypeFor[armstorage.TableServiceProperties](), "armstorage v1.8.1"},
	"Microsoft.EventHub/namespaces":                             {"2024-01-01", reflect.TypeFor[armeventhub.EHNamespace](), "armeventhub v1.3.0"},
	"Microsoft.EventHub/namespaces/eventhubs":                   {"2024-01-01", reflect.TypeFor[armeventhub.Eventhub](), "armeventhub v1.3.0"},
	"Microsoft.EventHub/namespaces/eventhubs/consumergroups":    {"2024-01-01", reflect.TypeFor[armeventhub.ConsumerGroup](), "armeventhub v1.3.0"},
	"Microsoft.Sql/servers":                                     {"2021-02-01-preview", reflect.TypeFor[armsql.Server](), "armsql v1.2.0"},
	"Microsoft.Sql/servers/databases":                           {"2021-05-01-preview", reflect.TypeFor[armsql.Database](), "armsql v1.2.0"},
	"Microsoft.Sql/servers/firewallRules":                       {"2020-11-01-preview", reflect.TypeFor[armsql.FirewallRule](), "armsql v1.2.0"},
	"Microsoft.Sql/servers/administrators":                      {"2020-11-01-preview", reflect.TypeFor[armsql.ServerAzureADAdministrator](), "armsql v1.2.0"},
	"Microsoft.Sql/servers/azureADOnlyAuthentications":          {"2020-11-01-preview", reflect.TypeFor[armsql.ServerAzureADOnlyAuthentication](), "armsql v1.2.0"},
	"Microsoft.Insights/diagnosticSettings":                     {"2021-05-01-preview", reflect.TypeFor[armmonitor.DiagnosticSettingsResource](), "armmonitor v0.13.0"},
	"Microsoft.Insights/components":                             {"2020-02-02", reflect.TypeFor[armapplicationinsights.Component](), "armapplicationinsights v1.2.0"},
	"Microsoft.Insights/scheduledQueryRules":                    {"2025-01-01-preview", reflect.TypeFor[armmonitor.ScheduledQueryRuleResource](), "armmonitor v0.13.0"},
	"Microsoft.Insights/actionGroups":                           {"2024-10-01-preview", reflect.TypeFor[armmonitor.ActionGroupResource](), "armmonitor v0.13.0"},
	"Microsoft.Insights/workbooks":                              {"2023-06-01", reflect.TypeFor[workbook](), "the Bicep type reference (workbook.go)"},
	"Microsoft.OperationalInsights/workspaces":                  {"2025-07-01", reflect.TypeFor[armoperationalinsights.Workspace](), "armoperationalinsights/v2 v2.0.0"},
	"Microsoft.ManagedIdentity/userAssignedIdentities":          {"2024-11-30", reflect.TypeFor[armmsi.Identity](), "armmsi v1.3.0"},
	"Microsoft.Authorization/roleAssignments":                   {"2022-04-01", reflect.TypeFor[armauthorization.RoleAssignmentCreateParameters](), "armauthorization/v2 v2.2.0"},
}

// bicepKeys are the top-level keys of a resource body that Bicep itself reads: the name (part of the
// resource ID, not of the request body), parent, scope and dependsOn.
var bicepKeys = map[string]bool{"name": true, "parent": true, "scope": true, "dependsOn": true}

// checkProperties checks every resource's type and API version against the model table and every
// object key of its body against the model's JSON names, recursively.
func checkProperties(files []*File) (problems []Problem, checked int) {
	for _, r := range resources(files) {
		m, ok := models[r.Type]
		if !ok {
			problems = append(problems, Problem{r.File.Name, r.Node.R, fmt.Sprintf("resource %s: type %s has no model in the property check's table (add it from its armXXX module)", r.Symbol, r.Type)})
			continue
		}
		if r.Version != m.version {
			problems = append(problems, Problem{r.File.Name, r.Node.R, fmt.Sprintf("resource %s: %s@%s: use API version %s, the one %s was generated from", r.Symbol, r.Type, r.Version, m.version, m.module)})
			continue
		}
		if r.Existing {
			continue
		}
		if len(r.Bodies) == 0 {
			problems = append(problems, Problem{r.File.Name, r.Node.R, fmt.Sprintf("resource %s: body is not an object literal", r.Symbol)})
		}
		for _, body := range r.Bodies {
			w := walker{file: r.File, module: m.module}
			w.object(body, m.typ, r.Type, true)
			problems = append(problems, w.problems...)
			checked += w.checked
		}
	}
	return problems, checked
}

type walker struct {
	file     *File
	module   string
	problems []Problem
	checked  int
}

// value checks an expression against Go type t.
func (w *walker) value(n *Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.T {
	case "ternary_expression":
		w.value(n.field("consequence"), t, path)
		w.value(n.field("alternative"), t, path)
		return
	case "parenthesized_expression", "if_statement":
		k := n.kids()
		w.value(k[len(k)-1], t, path)
		return
	case "for_statement":
		if t.Kind() == reflect.Slice {
			w.value(n.field("body"), t.Elem(), path+"[]")
		}
		return
	}
	if v, ok := literal(n); ok {
		if good, values := enumOK(t, v); !good {
			w.problems = append(w.problems, Problem{w.file.Name, n.R, fmt.Sprintf("%s: %q is not a %s value (%s: %s)", path, v, t.Name(), w.module, strings.Join(values, ", "))})
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.T == "object" {
			w.object(n, t, path, false)
		}
	case reflect.Slice:
		if n.T == "array" {
			for _, e := range n.kids() {
				w.value(e, t.Elem(), path+"[]")
			}
		}
	case reflect.Map:
		if n.T == "object" {
			for _, p := range props(n) {
				if v := value(p); v != nil {
					w.value(v, t.Elem(), path+".*")
				}
			}
		}
	}
}

func (w *walker) object(obj *Node, t reflect.Type, path string, top bool) {
	keys := jsonKeys(t)
	if len(keys) == 0 {
		return // a type with no known keys (free-form): nothing to check against
	}
	for _, p := range props(obj) {
		k, ok := key(p)
		if !ok {
			continue
		}
		if top && bicepKeys[k] {
			continue
		}
		ft, known := keys[k]
		w.checked++
		if !known {
			w.problems = append(w.problems, Problem{w.file.Name, p.R, fmt.Sprintf("%s: unknown property %q (%s %s%s)", path, k, w.module, t.Name(), suggest(k, keys))})
			continue
		}
		if v := value(p); v != nil && ft != nil {
			w.value(v, ft, path+"."+k)
		}
	}
}

var keyCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonKeys returns the JSON names of a model struct's fields with each field's type. The generated
// models carry no struct tags: their MarshalJSON methods write the wire names. So each field is set on
// its own to a non-nil value and the struct marshalled; the key that appears is that field's name.
func jsonKeys(t reflect.Type) map[string]reflect.Type {
	if v, ok := keyCache.Load(t); ok {
		return v.(map[string]reflect.Type)
	}
	keys := map[string]reflect.Type{}
	if t.Kind() == reflect.Struct {
		base := marshalKeys(reflect.New(t))
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			v := reflect.New(t)
			if !setNonZero(v.Elem().Field(i)) {
				continue
			}
			for k := range marshalKeys(v) {
				if !base[k] {
					keys[k] = f.Type
				}
			}
		}
	}
	keyCache.Store(t, keys)
	return keys
}

func marshalKeys(v reflect.Value) (keys map[string]bool) {
	keys = map[string]bool{}
	defer func() {
		if recover() != nil {
			keys = map[string]bool{}
		}
	}()
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return keys
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return keys
	}
	for k := range m {
		keys[k] = true
	}
	return keys
}

// setNonZero gives a field a value that the generated MarshalJSON writes out.
func setNonZero(f reflect.Value) bool {
	switch f.Kind() {
	case reflect.Pointer:
		f.Set(reflect.New(f.Type().Elem()))
	case reflect.Slice:
		f.Set(reflect.MakeSlice(f.Type(), 1, 1))
	case reflect.Map:
		f.Set(reflect.MakeMap(f.Type()))
	case reflect.Interface:
		s := reflect.ValueOf("x")
		if !s.Type().AssignableTo(f.Type()) {
			return false
		}
		f.Set(s)
	case reflect.String:
		f.SetString("x")
	case reflect.Bool:
		f.SetBool(true)
	case reflect.Int, reflect.Int32, reflect.Int64:
		f.SetInt(1)
	case reflect.Float32, reflect.Float64:
		f.SetFloat(1)
	default:
		return false
	}
	return true
}

// suggest names the model's keys nearest to an unknown one (or all of them, for a small model).
func suggest(k string, keys map[string]reflect.Type) string {
	names := sortedNames(keys)
	if len(names) <= 10 {
		return " has: " + strings.Join(names, ", ")
	}
	best, bestD := []string(nil), 4
	for _, n := range names {
		d := distance(strings.ToLower(k), strings.ToLower(n))
		if d < bestD {
			best, bestD = []string{n}, d
		} else if d == bestD {
			best = append(best, n)
		}
	}
	if best == nil {
		return fmt.Sprintf(": none of its %d properties is close", len(names))
	}
	return ": did you mean " + strings.Join(best, " or ") + "?"
}

// distance is the Levenshtein distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
