// Elastic Premium plan (Linux) and the function app: the custom handler (FUNCTIONS_WORKER_RUNTIME=custom),
// run from a zip in a private blob read with the app's managed identity, and every connection identity-based.
// No Azure Files content share: it would need a storage account key (see docs/deploy.md).

@description('Plan name.')
param planName string

@description('Function app name (globally unique; also the host ID, so keep it at most 32 characters).')
@maxLength(32)
param appName string

@description('Azure region.')
param location string

@description('Elastic Premium size: EP1 (1 core, 3.5 GB), EP2 (2 cores, 7 GB), EP3 (4 cores, 14 GB).')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param planSku string

@description('Always-ready instances: kept running and billed all the time (at least 1 on Elastic Premium).')
@minValue(1)
@maxValue(20)
param alwaysReadyInstances int

@description('Maximum burst: the most instances the plan scales out to.')
@minValue(1)
@maxValue(100)
param maximumBurst int

@description('Per-app scale-out limit (at most maximumBurst).')
@minValue(1)
@maxValue(100)
param appScaleLimit int

@description('Resource ID of the user-assigned identity the app runs as.')
param identityId string

@description('Client ID of that identity.')
param identityClientId string

@description('Storage account of the host and the app.')
param storageAccountName string

@description('Container that holds the run-from-package zips.')
param packageContainer string

@description('Blob name of the zip to run, e.g. dist-<commit>.zip.')
param packageBlobName string

@description('Event Hubs namespace host name, <namespace>.servicebus.windows.net.')
param eventHubsNamespaceFqdn string

@description('Event hub name.')
param eventHubName string

@description('Consumer group of the ingest function.')
param eventHubConsumerGroup string

@description('Azure SQL server host name.')
param sqlServerFqdn string

@description('Azure SQL database name.')
param sqlDatabaseName string

@description('Application Insights component (in this resource group) that receives the telemetry.')
param appInsightsName string

@description('Names of the containers and the queue the handler uses.')
param names object

@description('The handler\'s tunable settings (docs/design.md): fanoutSchedule, fanoutChunkSize, fanoutParallelism, fanoutLag, fanoutMaxCatchUp, readingsRetention, modelCacheBytes, logLevel.')
param handler object

@description('Tags for every resource.')
param tags object

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'elastic'
  sku: {
    name: planSku
    tier: 'ElasticPremium'
  }
  properties: {
    reserved: true
    maximumElasticWorkerCount: maximumBurst
    zoneRedundant: false
  }
}

resource app 'Microsoft.Web/sites@2023-12-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    reserved: true
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      remoteDebuggingEnabled: false
      http20Enabled: true
      use32BitWorkerProcess: false
      minimumElasticInstanceCount: alwaysReadyInstances
      functionAppScaleLimit: appScaleLimit
      appSettings: [
        // Host and platform.
        {
          name: 'FUNCTIONS_EXTENSION_VERSION'
          value: '~4'
        }
        {
          name: 'FUNCTIONS_WORKER_RUNTIME'
          value: 'custom'
        }
        {
          name: 'WEBSITE_RUN_FROM_PACKAGE'
          value: 'https://${storageAccountName}.blob.${environment().suffixes.storage}/${packageContainer}/${packageBlobName}'
        }
        {
          name: 'WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID'
          value: identityId
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        // Host storage (also the app's blobs and queue), identity-based.
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storageAccountName
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        // Event Hubs trigger connection, identity-based.
        {
          name: 'EventHubConnection__fullyQualifiedNamespace'
          value: eventHubsNamespaceFqdn
        }
        {
          name: 'EventHubConnection__credential'
          value: 'managedidentity'
        }
        {
          name: 'EventHubConnection__clientId'
          value: identityClientId
        }
        {
          name: 'EVENTHUB_NAME'
          value: eventHubName
        }
        {
          name: 'EVENTHUB_CONSUMER_GROUP'
          value: eventHubConsumerGroup
        }
        // Azure SQL with the user-assigned identity (go-mssqldb azuread driver: fedauth and user id = client ID).
        {
          name: 'SQL_URL'
          value: 'sqlserver://${sqlServerFqdn}?database=${sqlDatabaseName}&fedauth=ActiveDirectoryManagedIdentity&user+id=${identityClientId}'
        }
        // The handler's own settings (docs/design.md).
        {
          name: 'MODELS_CONTAINER'
          value: names.models
        }
        {
          name: 'RAW_CONTAINER'
          value: names.raw
        }
        {
          name: 'REJECTS_CONTAINER'
          value: names.rejects
        }
        {
          name: 'PREDICTIONS_CONTAINER'
          value: names.preds
        }
        {
          name: 'SCORE_QUEUE'
          value: names.scoreQueue
        }
        {
          name: 'FANOUT_SCHEDULE'
          value: handler.fanoutSchedule
        }
        {
          name: 'FANOUT_CHUNK_SIZE'
          value: string(handler.fanoutChunkSize)
        }
        {
          name: 'FANOUT_PARALLELISM'
          value: string(handler.fanoutParallelism)
        }
        {
          name: 'FANOUT_LAG'
          value: handler.fanoutLag
        }
        {
          name: 'FANOUT_MAX_CATCHUP'
          value: string(handler.fanoutMaxCatchUp)
        }
        {
          name: 'READINGS_RETENTION'
          value: handler.readingsRetention
        }
        {
          name: 'AGGREGATE_WINDOW'
          value: '5s'
        }
        {
          name: 'INGEST_MAX_SKEW'
          value: '24h'
        }
        {
          name: 'INGEST_MAX_EVENT_BYTES'
          value: '1048576'
        }
        {
          name: 'MODEL_CACHE_BYTES'
          value: string(handler.modelCacheBytes)
        }
        // Must equal host.json extensions.queues.maxDequeueCount; below host.json functionTimeout (10 min).
        {
          name: 'MAX_DEQUEUE_COUNT'
          value: '5'
        }
        {
          name: 'INVOCATION_TIMEOUT'
          value: '9m30s'
        }
        {
          name: 'LOG_LEVEL'
          value: handler.logLevel
        }
        {
          // Each line once, with its severity, and the metrics: straight to Application Insights
          // through the identity (docs/monitoring.md).
          name: 'TELEMETRY'
          value: 'direct'
        }
        {
          name: 'TELEMETRY_MAX_QUEUE'
          value: '8192'
        }
        // The train function (retraining in the app) stays off until this is set to false.
        {
          name: 'AzureWebJobs.train.Disabled'
          value: 'true'
        }
        {
          name: 'TRAIN_SCHEDULE'
          value: '0 0 3 * * 0'
        }
        {
          name: 'TRAIN_DAYS'
          value: '7'
        }
        {
          name: 'TRAIN_NU'
          value: '0.01'
        }
        {
          name: 'TRAIN_GAMMA'
          value: '0.01'
        }
        {
          name: 'TRAIN_TOLERANCE'
          value: '0.05'
        }
      ]
    }
  }
}

// No publishing with user names and passwords (FTP or the SCM site): packages come from the blob.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
