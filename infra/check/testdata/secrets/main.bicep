// Credentials in a parameter default, a resource property and outputs.
@secure()
param sqlPassword string = 'P@ssw0rd!'

param storageConnection string = 'DefaultEndpointsProtocol=https;AccountName=bscoredev;EndpointSuffix=core.windows.net'

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: 'bscoredev'
}

resource server 'Microsoft.Sql/servers@2021-02-01-preview' = {
  name: 'sql-bscore'
  location: 'westeurope'
  properties: {
    administratorLogin: 'batchscore'
    administratorLoginPassword: sqlPassword
  }
}

output key string = account.listKeys().keys[0].value
output blobUrl string = '${account.properties.primaryEndpoints.blob}models?sv=2022-11-02&sig=abc'
output name string = account.name
