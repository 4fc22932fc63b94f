// Package monitoring holds the checks of the monitoring that infra/bicep
// deploys: the workbook (infra/bicep/queries/workbook.json) against the
// structure of the workbook schema, every Kusto query of the workbook and
// the alerts (infra/bicep/queries/*.kql) parsed and analysed by Microsoft's
// Kusto language service (kql.js, npm @kusto/language-service-next) against
// the Application Insights tables, and docs/monitoring.md quoting each query
// as deployed. See docs/monitoring.md.
package monitoring
