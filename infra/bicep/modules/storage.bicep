// The storage account of the host and the app: Entra ID only (shared-key access off, so no account key,
// SAS or connection string can be used), no public blob access, TLS 1.2. Containers for the models,
// raw and rejected readings, predictions and the run-from-package zip; the scoring queue and its poison
// queue; queue diagnostics into Log Analytics; the app identity's data roles.
import { builtInRoles } from 'roles.bicep'

@description('Storage account name (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Replication: Standard_LRS for dev, Standard_ZRS where the region has zones.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
])
param skuName string

@description('Container names: models, raw, rejects, preds (the handler\'s settings) and the package container.')
param containers array

@description('Queue names: the scoring queue and its poison queue (<queue>-poison, the host\'s naming).')
param queues array

@description('Principal (object) ID of the app\'s managed identity.')
param appPrincipalId string

@description('Principal (object) ID of the person or pipeline that runs `make deploy` (uploads the package and the models); empty: no assignment.')
param deployerPrincipalId string

@description('Principal type of deployerPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string

@description('Log Analytics workspace that receives the queue service\'s logs and metrics.')
param workspaceId string

@description('Tags for every resource.')
param tags object

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = [
  for c in containers: {
    parent: blobService
    name: c
    properties: {
      publicAccess: 'None'
    }
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2024-01-01' = {
  parent: account
  name: 'default'
  properties: {}
}

resource storageQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2024-01-01' = [
  for q in queues: {
    parent: queueService
    name: q
    properties: {
      metadata: {}
    }
  }
]

resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: queueService
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

// The app identity's roles on this account (scope: the account, because the host itself creates and
// uses its own containers, queues and tables here):
//   Storage Blob Data Owner: the documented role for an identity-based AzureWebJobsStorage (host
//     locks and keys, Event Hubs checkpoints), the app's blobs, and reading the run-from-package zip;
//   Storage Queue Data Contributor: the score-jobs queue trigger, the host's poison queue, timer-fanout's
//     enqueue;
//   Storage Table Data Contributor: the host's diagnostic events table (AZFD0003 without it).
var appRoles = [
  builtInRoles.storageBlobDataOwner
  builtInRoles.storageQueueDataContributor
  builtInRoles.storageTableDataContributor
]

resource appRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in appRoles: {
    name: guid(account.id, appPrincipalId, role)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource deployerBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(account.id, deployerPrincipalId, builtInRoles.storageBlobDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.storageBlobDataContributor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
