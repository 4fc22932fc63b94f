// kql.js parses and analyses Kusto queries with Microsoft's Kusto language
// service (@kusto/language-service-next, pinned in package.json) against the
// Application Insights tables the queries read (traces, customMetrics,
// requests, with the columns of the classic Application Insights schema).
// Input on stdin: a JSON array of {name, query}. Output on stdout: a JSON
// array of {name, diagnostics: ["Error 12: ..."]}. It needs no network.
'use strict';
const path = require('path');
const root = path.join(__dirname, '..', '..', 'node_modules', '@kusto', 'language-service-next');
require(path.join(root, 'bridge.js'));
require(path.join(root, 'Kusto.Language.Bridge.js'));
const K = Kusto.Language;
const S = K.Symbols;

const common = 'timestamp:datetime, customDimensions:dynamic, customMeasurements:dynamic, operation_Name:string, ' +
  'operation_Id:string, operation_ParentId:string, cloud_RoleName:string, cloud_RoleInstance:string, ' +
  'appName:string, iKey:string, itemType:string, itemId:string, itemCount:int, sdkVersion:string';
const tables = {
  traces: '(message:string, severityLevel:int, ' + common + ')',
  customMetrics: '(name:string, value:real, valueCount:int, valueSum:real, valueMin:real, valueMax:real, valueStdDev:real, ' + common + ')',
  requests: '(id:string, name:string, url:string, success:bool, resultCode:string, duration:real, performanceBucket:string, source:string, ' + common + ')',
};
const members = new (System.Collections.Generic.List$1(S.Symbol).ctor)();
for (const [name, schema] of Object.entries(tables)) {
  members.add(new S.TableSymbol.$ctor7(name, schema, ''));
}
const globals = K.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.$ctor1('appinsights', members, false));

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = input.map(({ name, query }) => {
  const code = K.KustoCode.ParseAndAnalyze(query, globals);
  const d = code.GetDiagnostics();
  const diagnostics = [];
  for (let i = 0; i < d.Count; i++) {
    const x = d.getItem(i);
    diagnostics.push(`${x.Severity} ${x.Start}: ${x.Message}`);
  }
  return { name, diagnostics };
});
process.stdout.write(JSON.stringify(out));
