"""The GraphQL schema (SDL) of the Labelbox surface: the part of Labelbox's API that the
``labelbox`` SDK's export flows use (``reference/labelbox-export.md`` §2 and §6).

Type and field names are Labelbox's, so the SDK's query texts validate unchanged. Deliberate
choices:

* Every top-level field is non-null: a failing getter answers ``{"data": null, "errors": …}``.
* ``params`` of the export inputs and the elements of ``searchQuery.query`` are ``Json``: their
  keys are checked by the surface (an unknown key is ``MALFORMED_REQUEST`` with ``errors``, which
  the SDK raises as ``MalformedQueryException``), not by GraphQL validation.
* ``UInt64`` takes a number or a string of digits (the SDK sends offsets as strings) and is
  answered as a JSON number.
* ``mediaTypeOverride`` is a string inside ``params``; ``allowedMediaType`` is an enum.
* A project's overview (``Project.get_overview``, sent to ``/_gql``, the same schema):
  ``workstreamStateCounts`` from the rows' workflow statuses (:mod:`.catalog`),
  ``issues.totalCount`` null (labelport keeps no issues: unknown, not zero).
"""

from __future__ import annotations

SDL = """
scalar DateTime
scalar Json
scalar UInt64

enum MediaType {
  AUDIO
  CONVERSATIONAL
  DICOM
  HTML
  IMAGE
  LLM
  PDF
  TEXT
  TMS_GEO
  VIDEO
  UNKNOWN
}

enum EditorTaskType {
  MODEL_CHAT_EVALUATION
  OFFLINE_MODEL_CHAT_EVALUATION
}

enum UploadType {
  AUTO
  MANUAL
}

enum TaskStreamType {
  RESULT
  ERRORS
}

input WhereUniqueIdInput {
  id: ID!
}

input TaskWhereInput {
  id: ID
}

type Query {
  project(where: WhereUniqueIdInput!): Project!
  dataset(where: WhereUniqueIdInput!): Dataset!
  modelRun(where: WhereUniqueIdInput!): ModelRun!
  dataRow(where: WhereUniqueIdInput!): DataRow!
  getSavedQuery(id: ID!): SavedQuery!
  catalogSavedQueries: [SavedQuery!]!
  customMetadataOntology: [CustomMetadataSchema!]!
  user(where: WhereUniqueIdInput): User!
  organization: Organization!
  task(where: WhereUniqueIdInput): Task!
}

type Mutation {
  exportDataRowsInProject(input: ExportDataRowsInProjectInput!): ExportDataRowsResult!
  exportDataRowsInCatalog(input: ExportDataRowsInCatalogInput!): ExportDataRowsResult!
  exportDataRowsInModelRun(input: ExportDataRowsInModelRunInput!): ExportDataRowsResult!
  exportDataRowsInSlice(input: ExportDataRowsInSliceInput!): ExportDataRowsResult!
}

type Project {
  id: ID!
  name: String!
  description: String
  createdAt: DateTime
  updatedAt: DateTime
  lastActivityTime: DateTime
  setupComplete: DateTime
  autoAuditNumberOfLabels: Int
  autoAuditPercentage: Float
  dataRowCount: Int!
  editorTaskType: EditorTaskType
  isBenchmarkEnabled: Boolean!
  isConsensusEnabled: Boolean!
  allowedMediaType: MediaType
  modelSetupComplete: Boolean
  uploadType: UploadType
  workstreamStateCounts(batchIds: [String!]): [WorkstreamStateCount!]!
  taskQueues: [TaskQueue!]!
  issues: ProjectIssues
  completedDataRowCount: Int!
}

type WorkstreamStateCount {
  state: String!
  count: Int!
}

input DataRowCountQueryInput {
  searchQuery: Json
}

type TaskQueue {
  queueType: String!
  name: String!
  dataRowCount(input: DataRowCountQueryInput): Int!
}

type ProjectIssues {
  totalCount: Int
}

type Dataset {
  id: ID!
  name: String!
  description: String
  createdAt: DateTime
  updatedAt: DateTime
  rowCount: Int!
}

type ModelRun {
  id: ID!
  name: String!
  createdAt: DateTime
  updatedAt: DateTime
  createdBy: String
  modelId: ID!
  modelAppId: ID
  trainingMetadata: Json
}

type CustomMetadata {
  schemaId: ID!
  value: Json
}

type DataRowMetadataField {
  schemaId: ID!
  name: String
  value: Json
  kind: String
}

type DataRow {
  id: ID!
  externalId: String
  globalKey: String
  rowData: String!
  mediaType: MediaType
  createdAt: DateTime
  updatedAt: DateTime
  mediaAttributes: Json
  customMetadata: [CustomMetadata!]!
  metadataFields: [DataRowMetadataField!]!
}

type SavedQuery {
  id: ID!
  name: String!
  description: String
  filter: String!
  createdAt: DateTime
  updatedAt: DateTime
}

type CustomMetadataSchemaOption {
  id: ID!
  name: String!
  kind: String!
  reserved: Boolean!
}

type CustomMetadataSchema {
  id: ID!
  name: String!
  kind: String!
  reserved: Boolean!
  options: [CustomMetadataSchemaOption!]!
}

type User {
  id: ID!
  email: String!
  name: String
  nickname: String
  picture: String
  createdAt: DateTime
  updatedAt: DateTime
  lastLoginAt: DateTime
  isViewer: Boolean!
  isExternalUser: Boolean!
  timezone: String
  createdTasks(where: TaskWhereInput, skip: Int, first: Int): [Task!]!
}

type Organization {
  id: ID!
  name: String!
  createdAt: DateTime
  updatedAt: DateTime
  timezone: String
}

type Task {
  id: ID!
  name: String
  type: String!
  status: String!
  completionPercentage: Float
  createdAt: DateTime
  updatedAt: DateTime
  errors: String
  result: String
  metadata: Json
  exportMetadataHeader(streamType: TaskStreamType!): ExportMetadataHeader
  exportFileFromOffset(streamType: TaskStreamType!, offset: UInt64!): ExportFileInfo!
  exportFileFromLine(streamType: TaskStreamType!, line: UInt64!): ExportFileInfo!
}

type ExportMetadataHeader {
  totalSize: UInt64!
  totalLines: UInt64!
}

type Range {
  start: UInt64!
  end: UInt64!
}

type ExportFileInfo {
  offsets: Range!
  lines: Range!
  file: String!
}

type ExportDataRowsResult {
  taskId: ID!
  isStreamable: Boolean!
}

input SearchServiceQueryInput {
  scope: Json
  query: [Json!]
}

input ExportDataRowsInProjectFiltersInput {
  projectId: ID!
  searchQuery: SearchServiceQueryInput
}

input ExportDataRowsInCatalogFiltersInput {
  searchQuery: SearchServiceQueryInput!
}

input ExportDataRowsInModelRunFiltersInput {
  modelRunId: ID!
}

input ExportDataRowsInSliceFiltersInput {
  sliceId: ID!
}

input ExportDataRowsInProjectInput {
  taskName: String
  isStreamableReady: Boolean
  streamable: Boolean
  filters: ExportDataRowsInProjectFiltersInput!
  params: Json
}

input ExportDataRowsInCatalogInput {
  taskName: String
  isStreamableReady: Boolean
  streamable: Boolean
  filters: ExportDataRowsInCatalogFiltersInput!
  params: Json
}

input ExportDataRowsInModelRunInput {
  taskName: String
  isStreamableReady: Boolean
  streamable: Boolean
  filters: ExportDataRowsInModelRunFiltersInput!
  params: Json
}

input ExportDataRowsInSliceInput {
  taskName: String
  isStreamableReady: Boolean
  streamable: Boolean
  filters: ExportDataRowsInSliceFiltersInput!
  params: Json
}
"""
