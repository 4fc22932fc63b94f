// A resource whose properties object is never closed.
resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: 'bscoredev'
  location: 'westeurope'
  properties: {
    allowBlobPublicAccess: false

output name string = account.name
