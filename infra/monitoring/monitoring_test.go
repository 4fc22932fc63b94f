package monitoring

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const queries = "../bicep/queries"

type item struct {
	Type    int            `json:"type"`
	Name    string         `json:"name"`
	Content map[string]any `json:"content"`
}

type workbook struct {
	Version  string   `json:"version"`
	Items    []item   `json:"items"`
	Fallback []string `json:"fallbackResourceIds"`
	Schema   string   `json:"$schema"`
}

func readWorkbook(t *testing.T) workbook {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(queries, "workbook.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var wb workbook
	if err := dec.Decode(&wb); err != nil {
		t.Fatalf("workbook.json: %v", err)
	}
	return wb
}

type query struct{ Name, Query string }

// allQueries are the workbook's queries and the alert queries, by name.
func allQueries(t *testing.T) []query {
	t.Helper()
	var qs []query
	for _, it := range readWorkbook(t).Items {
		if it.Type == 3 {
			qs = append(qs, query{it.Name, it.Content["query"].(string)})
		}
	}
	files, err := filepath.Glob(filepath.Join(queries, "*.kql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no alert queries: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, query{strings.TrimSuffix(filepath.Base(f), ".kql"), strings.TrimSuffix(string(b), "\n")})
	}
	return qs
}

// TestWorkbookStructure checks workbook.json against the workbook schema's
// structure (Application-Insights-Workbooks schema/workbook.json: version and
// items required; markdown 1, query 3, parameters 9 each with content), and
// the fields the portal reads from the item kinds used here.
func TestWorkbookStructure(t *testing.T) {
	wb := readWorkbook(t)
	if wb.Version != "Notebook/1.0" || wb.Schema != "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json" {
		t.Errorf("version %q, $schema %q", wb.Version, wb.Schema)
	}
	if len(wb.Fallback) != 0 {
		t.Errorf("fallbackResourceIds %v: the Bicep sets the component", wb.Fallback)
	}
	names := map[string]bool{}
	params := map[string]bool{}
	for i, it := range wb.Items {
		if it.Name == "" || names[it.Name] {
			t.Errorf("item %d: name %q missing or repeated", i, it.Name)
		}
		names[it.Name] = true
		if it.Content == nil {
			t.Errorf("item %s: no content", it.Name)
			continue
		}
		str := func(k string) string { s, _ := it.Content[k].(string); return s }
		switch it.Type {
		case 1:
			if str("json") == "" {
				t.Errorf("markdown %s: no json", it.Name)
			}
		case 9:
			ps, _ := it.Content["parameters"].([]any)
			if str("version") != "KqlParameterItem/1.0" || len(ps) == 0 {
				t.Errorf("parameters %s: version %q, %d parameters", it.Name, str("version"), len(ps))
			}
			for _, p := range ps {
				m, _ := p.(map[string]any)
				if name, _ := m["name"].(string); name != "" && m["id"] != nil && m["type"] != nil {
					params[name] = true
				} else {
					t.Errorf("parameter without name, id or type: %v", p)
				}
			}
		case 3:
			if str("version") != "KqlItem/1.0" || str("query") == "" || str("title") == "" {
				t.Errorf("query %s: version %q, title %q", it.Name, str("version"), str("title"))
			}
			if it.Content["queryType"] != float64(0) || str("resourceType") != "microsoft.insights/components" {
				t.Errorf("query %s: queryType %v resourceType %q, want 0 (logs) on the component", it.Name, it.Content["queryType"], str("resourceType"))
			}
			if !slices.Contains([]string{"table", "timechart", "barchart", "linechart", "piechart", "tiles"}, str("visualization")) {
				t.Errorf("query %s: visualization %q", it.Name, str("visualization"))
			}
			if p := str("timeContextFromParameter"); !params[p] {
				t.Errorf("query %s: time range parameter %q is not defined before it", it.Name, p)
			}
		default:
			t.Errorf("item %s: type %d is not one this workbook uses (1, 3, 9)", it.Name, it.Type)
		}
	}
}

// checkKQL runs kql.js over qs and returns each query's diagnostics.
func checkKQL(t *testing.T, qs []query) map[string][]string {
	t.Helper()
	if _, err := os.Stat("../../node_modules/@kusto/language-service-next/Kusto.Language.Bridge.js"); err != nil {
		t.Fatalf("the Kusto language service is not installed: run `make azurite` (npm ci) in the repository root: %v", err)
	}
	in, _ := json.Marshal(func() []map[string]string {
		var out []map[string]string
		for _, q := range qs {
			out = append(out, map[string]string{"name": q.Name, "query": q.Query})
		}
		return out
	}())
	cmd := exec.CommandContext(t.Context(), "node", "kql.js")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("node kql.js: %v\n%s", err, stderr.String())
	}
	var res []struct {
		Name        string
		Diagnostics []string
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range res {
		out[r.Name] = r.Diagnostics
	}
	return out
}

// TestKQL: every query parses and binds to the Application Insights tables
// and columns; a misspelt column and a broken pipe are reported (so the check
// can fail).
func TestKQL(t *testing.T) {
	qs := allQueries(t)
	if len(qs) < 10 {
		t.Fatalf("%d queries, want the workbook's and the alerts'", len(qs))
	}
	mutants := []query{
		{"mutant-column", strings.Replace(qs[0].Query, "customDimensions", "customDimension", 1)},
		{"mutant-syntax", strings.Replace(qs[0].Query, "| where", "| wher", 1)},
	}
	got := checkKQL(t, append(qs, mutants...))
	for _, q := range qs {
		if d, ok := got[q.Name]; !ok || len(d) > 0 {
			t.Errorf("query %s: %v\n%s", q.Name, d, q.Query)
		}
	}
	for _, m := range mutants {
		if len(got[m.Name]) == 0 {
			t.Errorf("%s: no diagnostic for\n%s", m.Name, m.Query)
		}
	}
}

// TestDocsQuoteQueries: docs/monitoring.md shows every query exactly as
// deployed, in a kusto block.
func TestDocsQuoteQueries(t *testing.T) {
	b, err := os.ReadFile("../../docs/monitoring.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]bool{}
	for _, m := range regexp.MustCompile("(?s)```kusto\n(.*?)\n```").FindAllStringSubmatch(string(b), -1) {
		blocks[m[1]] = true
	}
	for _, q := range allQueries(t) {
		if !blocks[q.Query] {
			t.Errorf("docs/monitoring.md has no kusto block with query %s as deployed:\n%s", q.Name, q.Query)
		}
	}
}

// TestAlertsLoadEveryQuery: alerts.bicep loads each alert query file.
func TestAlertsLoadEveryQuery(t *testing.T) {
	b, err := os.ReadFile("../bicep/modules/alerts.bicep")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(queries, "*.kql"))
	for _, f := range files {
		if !strings.Contains(string(b), "loadTextContent('../queries/"+filepath.Base(f)+"')") {
			t.Errorf("alerts.bicep does not load %s", filepath.Base(f))
		}
	}
	if !strings.Contains(string(b), "'let grace = 60m;'") {
		t.Error("alerts.bicep no longer replaces the run-incomplete query's grace; keep query and replace in step")
	}
}
