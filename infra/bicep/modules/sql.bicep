// Azure SQL logical server with Microsoft Entra-only authentication (no SQL logins, no password anywhere)
// and the app's database. The server's Entra administrator is a person or group (sqlAdmin*); it runs the
// one-time infra/sql/app-user.sql that makes the app's managed identity a contained database user with
// the least rights the app needs (see docs/deploy.md).

@description('Logical server name (globally unique, lowercase).')
param serverName string

@description('Database name.')
param databaseName string

@description('Azure region.')
param location string

@description('Entra administrator of the server: display name (user principal name or group name).')
param adminLogin string

@description('Entra administrator of the server: object ID.')
param adminObjectId string

@description('Entra administrator of the server: User, Group or Application.')
@allowed([
  'User'
  'Group'
  'Application'
])
param adminPrincipalType string

@description('Database SKU, e.g. GP_S_Gen5_1 (serverless, 1 vCore) or GP_Gen5_2 (provisioned, 2 vCores).')
param skuName string

@description('Serverless only: minutes idle before the database pauses (-1: never; 60 is the minimum).')
param autoPauseDelayMinutes int

@description('Serverless only: the least vCores while running, as a string (e.g. \'0.5\').')
param minCapacity string

@description('Database maximum size in bytes.')
param maxSizeBytes int

@description('Backup storage redundancy: Local (one datacenter), Zone (zones of one region), Geo (paired region; geo-restore) or GeoZone.')
@allowed([
  'Local'
  'Zone'
  'Geo'
  'GeoZone'
])
param backupRedundancy string

@description('A client IP address allowed through the firewall, for the one-time sqlcmd step; empty: none.')
param clientIpAddress string

@description('Tags for every resource.')
param tags object

var serverless = contains(skuName, '_S_')

resource server 'Microsoft.Sql/servers@2021-02-01-preview' = {
  name: serverName
  location: location
  tags: tags
  properties: {
    version: '12.0'
    minimalTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    administrators: {
      administratorType: 'ActiveDirectory'
      azureADOnlyAuthentication: true
      login: adminLogin
      sid: adminObjectId
      tenantId: tenant().tenantId
      principalType: adminPrincipalType
    }
  }
}

resource database 'Microsoft.Sql/servers/databases@2021-05-01-preview' = {
  parent: server
  name: databaseName
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    collation: 'SQL_Latin1_General_CP1_CI_AS'
    maxSizeBytes: maxSizeBytes
    zoneRedundant: false
    requestedBackupStorageRedundancy: backupRedundancy
    autoPauseDelay: serverless ? autoPauseDelayMinutes : null
    minCapacity: serverless ? json(minCapacity) : null
  }
}

// 0.0.0.0-0.0.0.0 is Azure's "allow Azure services" rule: the function app has no fixed outbound address
// on Elastic Premium without virtual network integration.
resource allowAzure 'Microsoft.Sql/servers/firewallRules@2020-11-01-preview' = {
  parent: server
  name: 'AllowAllWindowsAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource allowClient 'Microsoft.Sql/servers/firewallRules@2020-11-01-preview' = if (!empty(clientIpAddress)) {
  parent: server
  name: 'deployer'
  properties: {
    startIpAddress: clientIpAddress
    endIpAddress: clientIpAddress
  }
}

output serverName string = server.name
output serverFqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
