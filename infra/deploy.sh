#!/usr/bin/env bash
# make deploy / make destroy: batchscore into one Azure resource group (docs/deploy.md).
#
#   infra/deploy.sh deploy     resource group, Bicep deployment, package upload, SQL user, models, restart
#   infra/deploy.sh destroy    delete the resource group
#
# Needs: Azure CLI 2.61+ signed in (`az login`; it runs the Bicep compiler itself), go-sqlcmd (`sqlcmd`
# with --authentication-method), and dist.zip (`make zip`). Settings, from the environment:
#   ENV=dev|prod (infra/bicep/$ENV.bicepparam)  RG (rg-batchscore-$ENV)  LOCATION (westeurope)
#   MODELS (folder of model files to upload; default the reference's 15 pickles)
#   SQL_ADMIN_LOGIN / SQL_ADMIN_OBJECT_ID / SQL_ADMIN_PRINCIPAL_TYPE (default: the signed-in user)
#   SQL_CLIENT_IP (this machine's public IP, for the one-time SQL step; default: asked of api.ipify.org)
#   SIMULATOR_PRINCIPAL_ID (gets Azure Event Hubs Data Sender on the hub; default none)
# Nothing here prints or stores a key: every step signs in with Entra ID.
set -euo pipefail
cd "$(dirname "$0")/.."

ENV="${ENV:-dev}"
RG="${RG:-rg-batchscore-$ENV}"
LOCATION="${LOCATION:-westeurope}"
MODELS="${MODELS:-internal/svm/testdata/reference/models}"
DEPLOYMENT="batchscore-main"
PARAMS="infra/bicep/$ENV.bicepparam"

say() { printf '\n== %s\n' "$*"; }
die() { printf 'deploy: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 is not installed: $2"; }
output() { az deployment group show -g "$RG" -n "$DEPLOYMENT" --query "properties.outputs.$1.value" -o tsv; }

# retry runs a command until it succeeds (role assignments take a minute or two to apply).
retry() {
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    "$@" && return 0
    echo "   (not yet allowed or not yet there; retry $i of 10 in 30 s)"
    sleep 30
  done
  return 1
}

upload_package() { # account blob
  retry az storage blob upload --auth-mode login --account-name "$1" --container-name packages \
    --name "$2" --file dist.zip --overwrite true --only-show-errors >/dev/null
}

deploy() {
  need az "https://learn.microsoft.com/cli/azure/install-azure-cli"
  need sqlcmd "go-sqlcmd, https://learn.microsoft.com/sql/tools/sqlcmd/go-sqlcmd-utility"
  [ -f "$PARAMS" ] || die "no $PARAMS (ENV=dev or ENV=prod)"
  [ -f dist.zip ] || die "no dist.zip: run make zip"
  [ -d "$MODELS" ] || die "no models folder $MODELS"

  say "signed-in identity"
  az account show --query '{subscription:name, id:id, tenant:tenantId}' -o table
  local me_id me_upn sub
  sub="$(az account show --query id -o tsv)"
  me_id="$(az ad signed-in-user show --query id -o tsv)"
  me_upn="$(az ad signed-in-user show --query userPrincipalName -o tsv)"
  export SQL_ADMIN_LOGIN="${SQL_ADMIN_LOGIN:-$me_upn}"
  export SQL_ADMIN_OBJECT_ID="${SQL_ADMIN_OBJECT_ID:-$me_id}"
  export DEPLOYER_PRINCIPAL_ID="${DEPLOYER_PRINCIPAL_ID:-$me_id}"
  if [ -z "${SQL_CLIENT_IP:-}" ]; then
    SQL_CLIENT_IP="$(curl -fsS https://api.ipify.org)" || die "cannot tell this machine's public IP: set SQL_CLIENT_IP"
  fi
  export SQL_CLIENT_IP
  export SIMULATOR_PRINCIPAL_ID="${SIMULATOR_PRINCIPAL_ID:-}"
  # A new blob name for every build: changing WEBSITE_RUN_FROM_PACKAGE restarts the app onto it, and the
  # previous zip stays in the container for a roll-back.
  local commit
  commit="$(git rev-parse --short=12 HEAD)"
  PACKAGE_BLOB="dist-$commit-$(date -u +%Y%m%d%H%M%S).zip"
  export PACKAGE_BLOB

  say "resource group $RG in $LOCATION"
  az group create --name "$RG" --location "$LOCATION" --tags app=batchscore environment="$ENV" -o none

  # On a second run the storage account exists: upload first, so the app never points at a missing zip.
  local account
  account="$(output storageAccountName 2>/dev/null || true)"
  if [ -n "$account" ]; then
    say "package $PACKAGE_BLOB -> $account/packages (before the deployment switches the app to it)"
    upload_package "$account" "$PACKAGE_BLOB"
  fi

  say "Bicep deployment $DEPLOYMENT ($PARAMS)"
  az deployment group create --resource-group "$RG" --name "$DEPLOYMENT" --parameters "$PARAMS" -o none

  local app url sqlfqdn db ident clientid appi
  account="$(output storageAccountName)"
  app="$(output functionAppName)"
  url="$(output functionAppUrl)"
  sqlfqdn="$(output sqlServerFqdn)"
  db="$(output sqlDatabaseName)"
  ident="$(output identityName)"
  clientid="$(output identityClientId)"
  appi="$(output appInsightsName)"

  say "package $PACKAGE_BLOB -> $account/packages"
  upload_package "$account" "$PACKAGE_BLOB"

  say "models $MODELS -> $account/models"
  retry az storage blob upload-batch --auth-mode login --account-name "$account" --destination models \
    --source "$MODELS" --overwrite true --only-show-errors -o none

  say "database user for $ident (infra/sql/app-user.sql, as $SQL_ADMIN_LOGIN)"
  retry sqlcmd -b -S "$sqlfqdn" -d "$db" --authentication-method ActiveDirectoryDefault \
    -v APP_IDENTITY_NAME="$ident" -v APP_CLIENT_ID="$clientid" -i infra/sql/app-user.sql

  say "restart $app and sync its triggers"
  az functionapp restart --resource-group "$RG" --name "$app" -o none
  az rest --method post -o none \
    --url "https://management.azure.com/subscriptions/$sub/resourceGroups/$RG/providers/Microsoft.Web/sites/$app/syncfunctiontriggers?api-version=2023-12-01"

  cat <<EOF

Deployed $app ($ENV) in $RG.
  App:          $url
  Functions:    az functionapp function list -g $RG -n $app --query "[].name" -o tsv
  Backfill:     key=\$(az functionapp function keys list -g $RG -n $app --function-name backfill --query default -o tsv)
                curl -X POST "$url/api/backfill?code=\$key" -H 'Content-Type: application/json' \\
                  -d '{"start":"2018-08-28T23:00:00Z","end":"2018-08-29T03:15:00Z"}'
  Run status:   key=\$(az functionapp function keys list -g $RG -n $app --function-name run-status --query default -o tsv)
                curl "$url/api/run-status?code=\$key"
  Telemetry:    Application Insights $appi (portal: Investigate > Transaction search, Live metrics), or
                az monitor app-insights query -g $RG --app $appi --analytics-query \\
                  "traces | where timestamp > ago(1h) | order by timestamp desc | take 50"
  Queue depth:  az storage message peek --auth-mode login --account-name $account --queue-name score-jobs-poison
EOF
}

destroy() {
  need az "https://learn.microsoft.com/cli/azure/install-azure-cli"
  say "delete resource group $RG (everything in it: app, storage, Event Hubs, SQL, logs)"
  az group delete --name "$RG" --yes
}

case "${1:-}" in
deploy) deploy ;;
destroy) destroy ;;
*) die "usage: infra/deploy.sh deploy|destroy" ;;
esac
