// Misspelt property names at three depths of a storage account.
resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: 'bscoredev'
  location: 'westeurope'
  kind: 'StorageV2'
  skus: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAcess: false
    networkAcls: {
      defaultActon: 'Allow'
    }
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource models 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobs
  name: 'models'
  properties: {
    publicAcces: 'None'
  }
}
