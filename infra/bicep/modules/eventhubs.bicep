// Event Hubs namespace (Entra ID only: local SAS authentication disabled), the readings hub, the app's
// consumer group, diagnostics into Log Analytics, and the receive / send roles.
import { builtInRoles } from 'roles.bicep'

@description('Namespace name (6-50 characters, globally unique).')
param namespaceName string

@description('Event hub name (the EVENTHUB_NAME setting).')
param hubName string

@description('Consumer group of the ingest function (the EVENTHUB_CONSUMER_GROUP setting).')
param consumerGroupName string

@description('Azure region.')
param location string

@description('Namespace tier: Standard (consumer groups, 7 days retention) or Premium.')
@allowed([
  'Standard'
  'Premium'
])
param skuTier string

@description('Throughput units (Standard) or processing units (Premium).')
@minValue(1)
@maxValue(40)
param capacity int

@description('Partitions of the hub: the most ingest instances that read at once.')
@minValue(1)
@maxValue(32)
param partitionCount int

@description('Hours an event stays in the hub (Standard: at most 168).')
@minValue(1)
@maxValue(2160)
param retentionHours int

@description('Principal (object) ID of the app\'s managed identity (receiver).')
param appPrincipalId string

@description('Principal (object) ID of the device simulator or producer (sender); empty: no assignment.')
param senderPrincipalId string

@description('Principal type of senderPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param senderPrincipalType string

@description('Log Analytics workspace that receives the namespace\'s logs and metrics.')
param workspaceId string

@description('Tags for every resource.')
param tags object

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: skuTier
    tier: skuTier
    capacity: capacity
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    isAutoInflateEnabled: false
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: hubName
  properties: {
    partitionCount: partitionCount
    retentionDescription: {
      cleanupPolicy: 'Delete'
      retentionTimeInHours: retentionHours
    }
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: hub
  name: consumerGroupName
  properties: {
    userMetadata: 'batchscore ingest function'
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: namespace
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
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

// Receive on this hub only (the trigger reads events; its checkpoints go to host storage).
resource receiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, appPrincipalId, builtInRoles.azureEventHubsDataReceiver)
  scope: hub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.azureEventHubsDataReceiver)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Send on this hub only, for the simulator (`batchscore simulate`) or a real producer.
resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(senderPrincipalId)) {
  name: guid(hub.id, senderPrincipalId, builtInRoles.azureEventHubsDataSender)
  scope: hub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.azureEventHubsDataSender)
    principalId: senderPrincipalId
    principalType: senderPrincipalType
  }
}

output namespaceName string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output hubName string = hub.name
output consumerGroupName string = consumerGroup.name
