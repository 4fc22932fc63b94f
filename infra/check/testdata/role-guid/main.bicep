// Role GUIDs that do not match the names given to them.
var roles = {
  storageBlobDataReader: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Reader
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Reader
  storageTableDataEditor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

var azureEventHubsDataSender = 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: 'bscoredev'
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, 'reader')
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')
    principalId: '00000000-0000-0000-0000-000000000000'
    principalType: 'ServicePrincipal'
  }
}

output ids array = [roles.storageBlobDataReader, azureEventHubsDataSender]
