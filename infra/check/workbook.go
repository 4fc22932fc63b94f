package main

// workbook is Microsoft.Insights/workbooks@2023-06-01 as its Bicep type reference lists it
// (learn.microsoft.com/azure/templates/microsoft.insights/workbooks). No Go SDK module is generated
// at that version: armapplicationinsights v1.2.0 has the workbooks API of 2015-05-01 only, whose body
// (name, userId, workbookId, sharedTypeKind) the portal's workbooks no longer use. Transcribed, not
// generated: keep it to the reference's names when the API version changes.
type workbook struct {
	Location   *string            `json:"location,omitzero"`
	Tags       map[string]*string `json:"tags,omitzero"`
	Kind       *string            `json:"kind,omitzero"`
	Etag       *string            `json:"etag,omitzero"`
	Identity   *workbookIdentity  `json:"identity,omitzero"`
	Properties *workbookProps     `json:"properties,omitzero"`
}

type workbookIdentity struct {
	Type                   *string            `json:"type,omitzero"`
	UserAssignedIdentities map[string]*string `json:"userAssignedIdentities,omitzero"`
}

type workbookProps struct {
	Category       *string   `json:"category,omitzero"`
	Description    *string   `json:"description,omitzero"`
	DisplayName    *string   `json:"displayName,omitzero"`
	SerializedData *string   `json:"serializedData,omitzero"`
	SourceID       *string   `json:"sourceId,omitzero"`
	StorageURI     *string   `json:"storageUri,omitzero"`
	Tags           []*string `json:"tags,omitzero"`
	Version        *string   `json:"version,omitzero"`
}
