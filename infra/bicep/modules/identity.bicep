// The one user-assigned managed identity the function app runs as. Every data-plane connection of the app
// (host storage, the app's blobs and queues, Event Hubs, Azure SQL, App Insights telemetry, the run-from-package
// blob) authenticates as this identity; the roles it holds are assigned next to each resource.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
