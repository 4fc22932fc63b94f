package main

import (
	"reflect"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/applicationinsights/armapplicationinsights"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v4"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/eventhub/armeventhub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/operationalinsights/armoperationalinsights/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
)

// enums are the string enumerations of the models this deployment sets, with the values each
// module's Possible...Values function lists. A literal given to a field of one of these types must
// be one of its values (ARM compares them without case). The same setting takes different spellings
// in different services (minimum TLS: 'TLS1_2' for storage, '1.2' for Event Hubs and App Service).
var enums = map[reflect.Type][]string{}

func enum[T ~string](values []T) {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	enums[reflect.TypeFor[T]()] = s
}

func init() {
	enum(armappservice.PossibleFtpsStateValues())
	enum(armappservice.PossibleSupportedTLSVersionsValues())
	enum(armappservice.PossibleManagedServiceIdentityTypeValues())
	enum(armstorage.PossibleMinimumTLSVersionValues())
	enum(armstorage.PossibleKindValues())
	enum(armstorage.PossibleSKUNameValues())
	enum(armstorage.PossiblePublicAccessValues())
	enum(armstorage.PossibleAccessTierValues())
	enum(armstorage.PossibleDefaultActionValues())
	enum(armstorage.PossiblePublicNetworkAccessValues())
	enum(armeventhub.PossibleSKUNameValues())
	enum(armeventhub.PossibleSKUTierValues())
	enum(armeventhub.PossibleTLSVersionValues())
	enum(armeventhub.PossibleCleanupPolicyRetentionDescriptionValues())
	enum(armeventhub.PossiblePublicNetworkAccessValues())
	enum(armsql.PossibleAdministratorTypeValues())
	enum(armsql.PossiblePrincipalTypeValues())
	enum(armsql.PossibleServerNetworkAccessFlagValues())
	enum(armsql.PossibleBackupStorageRedundancyValues())
	enum(armauthorization.PossiblePrincipalTypeValues())
	enum(armapplicationinsights.PossibleApplicationTypeValues())
	enum(armapplicationinsights.PossibleIngestionModeValues())
	enum(armoperationalinsights.PossibleWorkspaceSKUNameEnumValues())
}

// enumOK reports whether v is a value of enum type t (true for a type that is not an enum here).
func enumOK(t reflect.Type, v string) (bool, []string) {
	values, ok := enums[t]
	if !ok {
		return true, nil
	}
	for _, a := range values {
		if strings.EqualFold(a, v) {
			return true, values
		}
	}
	return false, values
}
