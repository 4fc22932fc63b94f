// batchscore in Azure: one resource group with a Linux Elastic Premium function app (the Go custom handler),
// its storage account, Event Hubs, Azure SQL, Log Analytics + Application Insights and one user-assigned
// managed identity. No key, SAS, password or storage connection string anywhere: every connection is
// Entra ID. Deploy with `make deploy` (docs/deploy.md); `make check-infra` checks these files.
targetScope = 'resourceGroup'

@description('Azure region of every resource.')
param location string = resourceGroup().location

@description('Short lowercase prefix of every name (letters and digits, 3-11 characters).')
@minLength(3)
@maxLength(11)
param namePrefix string

@description('Environment name, used in names and tags.')
@allowed([
  'dev'
  'prod'
])
param environmentName string

@description('Elastic Premium size: EP1 (1 core, 3.5 GB), EP2 (2 cores, 7 GB), EP3 (4 cores, 14 GB).')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param planSku string = 'EP1'

@description('Always-ready instances (billed all the time).')
@minValue(1)
@maxValue(20)
param alwaysReadyInstances int = 1

@description('Maximum burst: the most instances the plan scales out to.')
@minValue(1)
@maxValue(100)
param maximumBurst int = 10

@description('Per-app scale-out limit (at most maximumBurst).')
@minValue(1)
@maxValue(100)
param appScaleLimit int = 10

@description('Storage replication.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
])
param storageSku string = 'Standard_LRS'

@description('Event Hubs tier.')
@allowed([
  'Standard'
  'Premium'
])
param eventHubSku string = 'Standard'

@description('Event Hubs throughput units (Standard: 1 MB/s or 1,000 events/s in each).')
@minValue(1)
@maxValue(40)
param eventHubCapacity int = 1

@description('Partitions of the readings hub.')
@minValue(1)
@maxValue(32)
param eventHubPartitions int = 4

@description('Hours an event stays in the hub (Standard: at most 168).')
@minValue(1)
@maxValue(2160)
param eventHubRetentionHours int = 24

@description('Entra administrator of the SQL server: display name (UPN or group name).')
param sqlAdminLogin string

@description('Entra administrator of the SQL server: object ID.')
param sqlAdminObjectId string

@description('Entra administrator of the SQL server: User, Group or Application.')
@allowed([
  'User'
  'Group'
  'Application'
])
param sqlAdminPrincipalType string = 'User'

@description('SQL database SKU: GP_S_Gen5_1 (serverless) or e.g. GP_Gen5_2 (provisioned).')
param sqlSkuName string = 'GP_S_Gen5_1'

@description('Serverless only: minutes idle before pausing (-1: never).')
param sqlAutoPauseDelayMinutes int = 60

@description('Serverless only: least vCores while running.')
param sqlMinCapacity string = '0.5'

@description('SQL database maximum size in bytes.')
param sqlMaxSizeBytes int = 34359738368

@description('SQL backup storage redundancy: Local (dev), Geo (prod: restorable in the paired region), Zone or GeoZone.')
@allowed([
  'Local'
  'Zone'
  'Geo'
  'GeoZone'
])
param sqlBackupRedundancy string = 'Geo'

@description('Client IP allowed through the SQL firewall for the one-time user step; empty: none.')
param sqlClientIpAddress string = ''

@description('Object ID of whoever runs `make deploy` (uploads the package and models); empty: no role.')
param deployerPrincipalId string = ''

@description('Principal type of deployerPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

@description('Object ID of the device simulator or producer that sends readings; empty: no role.')
param simulatorPrincipalId string = ''

@description('Principal type of simulatorPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param simulatorPrincipalType string = 'User'

@description('Days Log Analytics keeps data.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Blob name of the package zip in the packages container (make deploy sets dist-<commit>.zip).')
param packageBlobName string = 'dist.zip'

@description('NCRONTAB schedule of the scoring fan-out (FANOUT_SCHEDULE); with fanoutLag 10m the windows are whole hours.')
param fanoutSchedule string = '0 10 * * * *'

@description('Lateness allowance: an occurrence at T scores the window ending at T minus this (FANOUT_LAG, a Go duration).')
param fanoutLag string = '10m'

@description('Most windows one timer run fans out when runs were missed (FANOUT_MAX_CATCHUP).')
@minValue(1)
param fanoutMaxCatchUp int = 24

@description('Readings older than this are deleted by the timer runs (READINGS_RETENTION, a Go duration of at least 24h and more than (fanoutMaxCatchUp + 1) x the schedule period + fanoutLag, 25h10m with the defaults; 0s keeps every reading).')
param readingsRetention string = '0s'

@description('Sensors per queue message (FANOUT_CHUNK_SIZE).')
@minValue(1)
param fanoutChunkSize int = 20

@description('Concurrent enqueues of the fan-out (FANOUT_PARALLELISM).')
@minValue(1)
param fanoutParallelism int = 16

@description('Model cache of each instance in bytes (MODEL_CACHE_BYTES).')
@minValue(1)
param modelCacheBytes int = 268435456

@description('Handler log level (LOG_LEVEL).')
@allowed([
  'debug'
  'info'
  'warn'
  'error'
])
param logLevel string = 'info'

@description('Resource ID of an existing action group the alerts notify; empty: alertEmail (or no one).')
param alertActionGroupId string = ''

@description('E-mail address the alerts notify through an action group made here, when alertActionGroupId is empty.')
param alertEmail string = ''

@description('Minutes after its fan-out by which a run must be complete, else an alert.')
@minValue(5)
param runCompleteMinutes int = 60

@description('Ingest reject rate in percent above which an alert fires.')
@minValue(0)
@maxValue(100)
param ingestRejectPercent int = 1

@description('Function failure rate in percent above which an alert fires.')
@minValue(0)
@maxValue(100)
param failurePercent int = 10

@description('Tags for every resource.')
param tags object = {}

var suffix = uniqueString(resourceGroup().id)
var base = '${namePrefix}-${environmentName}'
var allTags = union(tags, {
  app: 'batchscore'
  environment: environmentName
})
var names = {
  models: 'models'
  raw: 'raw'
  rejects: 'rejects'
  preds: 'preds'
  packages: 'packages'
  scoreQueue: 'score-jobs'
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-${base}'
    location: location
    tags: allTags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    workspaceName: 'log-${base}-${suffix}'
    appInsightsName: 'appi-${base}-${suffix}'
    location: location
    retentionInDays: logRetentionDays
    appPrincipalId: identity.outputs.principalId
    tags: allTags
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    appInsightsName: monitoring.outputs.appInsightsName
    location: location
    tags: allTags
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    appInsightsName: monitoring.outputs.appInsightsName
    location: location
    actionGroupId: alertActionGroupId
    alertEmail: alertEmail
    namePrefix: base
    runCompleteMinutes: runCompleteMinutes
    ingestRejectPercent: ingestRejectPercent
    failurePercent: failurePercent
    tags: allTags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take(toLower('${namePrefix}${suffix}'), 24)
    location: location
    skuName: storageSku
    containers: [
      names.models
      names.raw
      names.rejects
      names.preds
      names.packages
    ]
    queues: [
      names.scoreQueue
      '${names.scoreQueue}-poison'
    ]
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
    workspaceId: monitoring.outputs.workspaceId
    tags: allTags
  }
}

module eventhubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  params: {
    namespaceName: 'evhns-${base}-${suffix}'
    hubName: 'readings'
    consumerGroupName: 'batchscore'
    location: location
    skuTier: eventHubSku
    capacity: eventHubCapacity
    partitionCount: eventHubPartitions
    retentionHours: eventHubRetentionHours
    appPrincipalId: identity.outputs.principalId
    senderPrincipalId: simulatorPrincipalId
    senderPrincipalType: simulatorPrincipalType
    workspaceId: monitoring.outputs.workspaceId
    tags: allTags
  }
}

module sql 'modules/sql.bicep' = {
  name: 'sql'
  params: {
    serverName: 'sql-${base}-${suffix}'
    databaseName: 'batchscore'
    location: location
    adminLogin: sqlAdminLogin
    adminObjectId: sqlAdminObjectId
    adminPrincipalType: sqlAdminPrincipalType
    skuName: sqlSkuName
    autoPauseDelayMinutes: sqlAutoPauseDelayMinutes
    minCapacity: sqlMinCapacity
    maxSizeBytes: sqlMaxSizeBytes
    backupRedundancy: sqlBackupRedundancy
    clientIpAddress: sqlClientIpAddress
    tags: allTags
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    planName: 'plan-${base}-${suffix}'
    appName: take('func-${base}-${suffix}', 32)
    location: location
    planSku: planSku
    alwaysReadyInstances: alwaysReadyInstances
    maximumBurst: maximumBurst
    appScaleLimit: min(appScaleLimit, maximumBurst)
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    packageContainer: names.packages
    packageBlobName: packageBlobName
    eventHubsNamespaceFqdn: eventhubs.outputs.fullyQualifiedNamespace
    eventHubName: eventhubs.outputs.hubName
    eventHubConsumerGroup: eventhubs.outputs.consumerGroupName
    sqlServerFqdn: sql.outputs.serverFqdn
    sqlDatabaseName: sql.outputs.databaseName
    appInsightsName: monitoring.outputs.appInsightsName
    names: names
    handler: {
      fanoutSchedule: fanoutSchedule
      fanoutChunkSize: fanoutChunkSize
      fanoutParallelism: fanoutParallelism
      fanoutLag: fanoutLag
      fanoutMaxCatchUp: fanoutMaxCatchUp
      readingsRetention: readingsRetention
      modelCacheBytes: modelCacheBytes
      logLevel: logLevel
    }
    tags: allTags
  }
}

// Names only: what `make deploy` needs for the upload, the SQL step and the summary. No secrets.
output functionAppName string = functionApp.outputs.name
output functionAppUrl string = 'https://${functionApp.outputs.defaultHostName}'
output storageAccountName string = storage.outputs.name
output packagesContainer string = names.packages
output modelsContainer string = names.models
output sqlServerFqdn string = sql.outputs.serverFqdn
output sqlDatabaseName string = sql.outputs.databaseName
output identityName string = identity.outputs.name
output identityClientId string = identity.outputs.clientId
output eventHubsNamespace string = eventhubs.outputs.fullyQualifiedNamespace
output eventHubName string = eventhubs.outputs.hubName
output appInsightsName string = monitoring.outputs.appInsightsName
