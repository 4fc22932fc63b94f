// The batchscore workbook on the Application Insights component: runs, anomaly rates, model health,
// slowest sensors, lags, ingest and failures. The panels and their queries are in
// ../queries/workbook.json (explained in docs/monitoring.md); the component becomes its resource.

@description('Application Insights component (in this resource group) the workbook reads.')
param appInsightsName string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(appInsights.id, 'batchscore-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'batchscore: runs, model health, lags and failures'
    category: 'workbook'
    sourceId: appInsights.id
    version: 'Notebook/1.0'
    serializedData: string(union(loadJsonContent('../queries/workbook.json'), {
      fallbackResourceIds: [
        appInsights.id
      ]
    }))
  }
}

output workbookId string = workbook.id
