// Production: EP2 (2 cores: the scorer uses both), two always-ready instances across the hour, a burst of
// 20 for the top-of-the-hour fan-out, zone-redundant storage, provisioned SQL that never pauses,
// geo-redundant SQL backups.
using './main.bicep'

param namePrefix = 'bscore'
param environmentName = 'prod'
param planSku = 'EP2'
param alwaysReadyInstances = 2
param maximumBurst = 20
param appScaleLimit = 20
param storageSku = 'Standard_ZRS'
param eventHubCapacity = 2
param eventHubPartitions = 8
param eventHubRetentionHours = 72
param sqlAdminLogin = readEnvironmentVariable('SQL_ADMIN_LOGIN')
param sqlAdminObjectId = readEnvironmentVariable('SQL_ADMIN_OBJECT_ID')
param sqlAdminPrincipalType = readEnvironmentVariable('SQL_ADMIN_PRINCIPAL_TYPE', 'Group')
param sqlSkuName = 'GP_Gen5_2'
param sqlAutoPauseDelayMinutes = -1
param sqlBackupRedundancy = 'Geo'
param sqlClientIpAddress = readEnvironmentVariable('SQL_CLIENT_IP', '')
param deployerPrincipalId = readEnvironmentVariable('DEPLOYER_PRINCIPAL_ID', '')
param deployerPrincipalType = readEnvironmentVariable('DEPLOYER_PRINCIPAL_TYPE', 'User')
param simulatorPrincipalId = readEnvironmentVariable('SIMULATOR_PRINCIPAL_ID', '')
param simulatorPrincipalType = 'ServicePrincipal'
param packageBlobName = readEnvironmentVariable('PACKAGE_BLOB', 'dist.zip')
param logRetentionDays = 90
param logLevel = 'info'
