// An API version no pinned Azure SDK module was generated for, and a type with no model in the table.
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'bscoredev'
  location: 'westeurope'
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv-bscore'
  location: 'westeurope'
}
