// Development: the smallest plan, one always-ready instance, serverless SQL that pauses when idle.
// The SQL administrator and the deployer come from the environment (make deploy sets them from `az`).
using './main.bicep'

param namePrefix = 'bscore'
param environmentName = 'dev'
param planSku = 'EP1'
param alwaysReadyInstances = 1
param maximumBurst = 4
param appScaleLimit = 4
param storageSku = 'Standard_LRS'
param eventHubCapacity = 1
param eventHubPartitions = 2
param eventHubRetentionHours = 24
param sqlAdminLogin = readEnvironmentVariable('SQL_ADMIN_LOGIN')
param sqlAdminObjectId = readEnvironmentVariable('SQL_ADMIN_OBJECT_ID')
param sqlAdminPrincipalType = readEnvironmentVariable('SQL_ADMIN_PRINCIPAL_TYPE', 'User')
param sqlSkuName = 'GP_S_Gen5_1'
param sqlAutoPauseDelayMinutes = 60
param sqlBackupRedundancy = 'Local'
param sqlClientIpAddress = readEnvironmentVariable('SQL_CLIENT_IP', '')
param deployerPrincipalId = readEnvironmentVariable('DEPLOYER_PRINCIPAL_ID', '')
param simulatorPrincipalId = readEnvironmentVariable('SIMULATOR_PRINCIPAL_ID', '')
param packageBlobName = readEnvironmentVariable('PACKAGE_BLOB', 'dist.zip')
param logLevel = 'debug'
