// Log alerts on the Application Insights component, from the handler's telemetry and the host's
// requests (queries in ../queries/alert-*.kql, explained in docs/monitoring.md): poisoned sensors, a run
// not complete some minutes after its fan-out, the ingest reject rate, the function failure rate and
// model-health warnings. Each notifies the action group given or, with an e-mail address, one made here.

@description('Application Insights component (in this resource group) the alerts query.')
param appInsightsName string

@description('Azure region of the alert rules.')
param location string

@description('Resource ID of an existing action group to notify; empty: use alertEmail (or notify no one).')
param actionGroupId string

@description('E-mail address for an action group made here when actionGroupId is empty; empty: none.')
param alertEmail string

@description('Name prefix of the alert rules and the action group.')
param namePrefix string

@description('Minutes after its fan-out by which a run must have every sensor done, empty or poisoned.')
param runCompleteMinutes int

@description('Ingest reject rate (percent of readings and rejects in an hour) above which to alert.')
param ingestRejectPercent int

@description('Function failure rate (percent of invocations in an hour, at least 5) above which to alert.')
param failurePercent int

@description('Tags for every resource.')
param tags object

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource emailGroup 'Microsoft.Insights/actionGroups@2024-10-01-preview' = if (empty(actionGroupId) && !empty(alertEmail)) {
  name: 'ag-${namePrefix}'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: take(namePrefix, 12)
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var groups = !empty(actionGroupId) ? [actionGroupId] : (empty(alertEmail) ? [] : [emailGroup.id])

var rules = [
  {
    name: 'poisoned'
    display: 'batchscore: sensors poisoned'
    description: 'A sensor ended poisoned: every delivery of its job failed (score-poison recorded it). run-status and the workbook\'s failure panels say why.'
    severity: 1
    frequency: 'PT15M'
    window: 'PT1H'
    query: loadTextContent('../queries/alert-poisoned.kql')
    aggregation: 'Count'
    column: ''
    threshold: 0
  }
  {
    name: 'run-incomplete'
    display: 'batchscore: run not complete ${runCompleteMinutes} minutes after fan-out'
    description: 'A run fanned out more than ${runCompleteMinutes} minutes ago still has sensors without a final outcome (done, empty or poisoned).'
    severity: 2
    frequency: 'PT15M'
    window: 'P1D'
    query: replace(loadTextContent('../queries/alert-run-incomplete.kql'), 'let grace = 60m;', 'let grace = ${runCompleteMinutes}m;')
    aggregation: 'Count'
    column: ''
    threshold: 0
  }
  {
    name: 'ingest-rejects'
    display: 'batchscore: ingest rejects above ${ingestRejectPercent} %'
    description: 'More than ${ingestRejectPercent} % of the readings ingested in an hour were rejected (bad events; the rejects container has them with the reasons).'
    severity: 2
    frequency: 'PT15M'
    window: 'PT1H'
    query: loadTextContent('../queries/alert-ingest-rejects.kql')
    aggregation: 'Maximum'
    column: 'reject_pct'
    threshold: ingestRejectPercent
  }
  {
    name: 'failure-rate'
    display: 'batchscore: function failure rate above ${failurePercent} %'
    description: 'More than ${failurePercent} % of a function\'s invocations in an hour failed (the host\'s requests).'
    severity: 2
    frequency: 'PT15M'
    window: 'PT1H'
    query: loadTextContent('../queries/alert-failure-rate.kql')
    aggregation: 'Maximum'
    column: 'failure_pct'
    threshold: failurePercent
  }
  {
    name: 'model-health'
    display: 'batchscore: model health warnings'
    description: 'A sensor\'s model flags (almost) every row, none of many, or its anomaly rate jumped against its history (docs/monitoring.md, model health).'
    severity: 3
    frequency: 'PT1H'
    window: 'PT1H'
    query: loadTextContent('../queries/alert-model-health.kql')
    aggregation: 'Count'
    column: ''
    threshold: 0
  }
]

resource alert 'Microsoft.Insights/scheduledQueryRules@2025-01-01-preview' = [
  for r in rules: {
    name: 'alert-${namePrefix}-${r.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: r.display
      description: r.description
      severity: r.severity
      enabled: true
      scopes: [
        appInsights.id
      ]
      evaluationFrequency: r.frequency
      windowSize: r.window
      criteria: {
        allOf: [
          {
            query: r.query
            timeAggregation: r.aggregation
            metricMeasureColumn: empty(r.column) ? null : r.column
            operator: 'GreaterThan'
            threshold: r.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: {
        actionGroups: groups
      }
    }
  }
]
