-- A catalog at schema version 1 on postgresql, made by labelport at f874ee0.
-- Written by tests/store/catalogs/make_catalogs.py: do not edit.
CREATE TABLE schema_version (
	version INTEGER NOT NULL, 
	applied_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_schema_version PRIMARY KEY (version)
)
;
CREATE TABLE organization (
	id VARCHAR(64) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	timezone VARCHAR(64) DEFAULT 'UTC' NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_organization PRIMARY KEY (id), 
	CONSTRAINT uq_organization_name UNIQUE (name)
)
;
CREATE TABLE app_user (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	email VARCHAR(320) NOT NULL, 
	name VARCHAR(200), 
	role VARCHAR(16) DEFAULT 'editor' NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_app_user PRIMARY KEY (id), 
	CONSTRAINT uq_app_user_org_id_email UNIQUE (org_id, email), 
	CONSTRAINT fk_app_user_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id)
)
;
CREATE TABLE metadata_field (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	parent_id VARCHAR(64), 
	name VARCHAR(500) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	reserved BOOLEAN DEFAULT false NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_metadata_field PRIMARY KEY (id), 
	CONSTRAINT fk_metadata_field_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id), 
	CONSTRAINT fk_metadata_field_parent_id_metadata_field FOREIGN KEY(parent_id) REFERENCES metadata_field (id)
)
;
CREATE INDEX ix_metadata_field_org_id_name ON metadata_field (org_id, name)
;
CREATE TABLE embedding (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	dimensions INTEGER NOT NULL, 
	is_custom BOOLEAN NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_embedding PRIMARY KEY (id), 
	CONSTRAINT fk_embedding_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id)
)
;
CREATE TABLE ontology (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	media_type VARCHAR(32), 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_ontology PRIMARY KEY (id), 
	CONSTRAINT fk_ontology_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id)
)
;
CREATE TABLE api_key (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	user_id VARCHAR(64) NOT NULL, 
	name VARCHAR(200), 
	secret_hash VARCHAR(64) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_used_at TIMESTAMP WITH TIME ZONE, 
	revoked_at TIMESTAMP WITH TIME ZONE, 
	CONSTRAINT pk_api_key PRIMARY KEY (id), 
	CONSTRAINT fk_api_key_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id), 
	CONSTRAINT fk_api_key_user_id_app_user FOREIGN KEY(user_id) REFERENCES app_user (id)
)
;
CREATE TABLE dataset (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	description TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	created_by_id VARCHAR(64), 
	CONSTRAINT pk_dataset PRIMARY KEY (id), 
	CONSTRAINT fk_dataset_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id), 
	CONSTRAINT fk_dataset_created_by_id_app_user FOREIGN KEY(created_by_id) REFERENCES app_user (id)
)
;
CREATE INDEX ix_dataset_org_id_name ON dataset (org_id, name)
;
CREATE TABLE feature (
	ontology_id VARCHAR(64) NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	parent_id VARCHAR(64), 
	kind VARCHAR(16) NOT NULL, 
	type VARCHAR(64) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	value VARCHAR(500), 
	position INTEGER NOT NULL, 
	CONSTRAINT pk_feature PRIMARY KEY (ontology_id, id), 
	CONSTRAINT fk_feature_ontology_id_ontology FOREIGN KEY(ontology_id) REFERENCES ontology (id)
)
;
CREATE TABLE project (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	description TEXT, 
	media_type VARCHAR(32), 
	ontology_id VARCHAR(64), 
	tags TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_project PRIMARY KEY (id), 
	CONSTRAINT fk_project_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id), 
	CONSTRAINT fk_project_ontology_id_ontology FOREIGN KEY(ontology_id) REFERENCES ontology (id)
)
;
CREATE INDEX ix_project_org_id_name ON project (org_id, name)
;
CREATE TABLE model (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	ontology_id VARCHAR(64), 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_model PRIMARY KEY (id), 
	CONSTRAINT fk_model_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id), 
	CONSTRAINT fk_model_ontology_id_ontology FOREIGN KEY(ontology_id) REFERENCES ontology (id)
)
;
CREATE TABLE catalog_slice (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	description TEXT, 
	filters TEXT NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	created_by_id VARCHAR(64), 
	CONSTRAINT pk_catalog_slice PRIMARY KEY (id), 
	CONSTRAINT fk_catalog_slice_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id), 
	CONSTRAINT fk_catalog_slice_created_by_id_app_user FOREIGN KEY(created_by_id) REFERENCES app_user (id)
)
;
CREATE TABLE export_task (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	created_by_id VARCHAR(64), 
	name VARCHAR(500), 
	scope_kind VARCHAR(32) NOT NULL, 
	scope_id VARCHAR(64), 
	params TEXT NOT NULL, 
	filters TEXT NOT NULL, 
	format VARCHAR(32) NOT NULL, 
	fingerprint VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	progress_done BIGINT DEFAULT '0' NOT NULL, 
	progress_total BIGINT, 
	result_bytes BIGINT, 
	result_lines BIGINT, 
	error_bytes BIGINT, 
	error_lines BIGINT, 
	location TEXT, 
	manifest TEXT, 
	error_message TEXT, 
	archived BOOLEAN DEFAULT false NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE, 
	finished_at TIMESTAMP WITH TIME ZONE, 
	CONSTRAINT pk_export_task PRIMARY KEY (id), 
	CONSTRAINT fk_export_task_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id), 
	CONSTRAINT fk_export_task_created_by_id_app_user FOREIGN KEY(created_by_id) REFERENCES app_user (id)
)
;
CREATE INDEX ix_export_task_status ON export_task (status)
;
CREATE INDEX ix_export_task_org_id_scope_kind_scope_id_created_at ON export_task (org_id, scope_kind, scope_id, created_at)
;
CREATE INDEX ix_export_task_fingerprint ON export_task (fingerprint)
;
CREATE TABLE data_row (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	dataset_id VARCHAR(64) NOT NULL, 
	global_key VARCHAR(1024), 
	external_id VARCHAR(1024), 
	row_data TEXT NOT NULL, 
	media_type VARCHAR(32) NOT NULL, 
	media_attributes TEXT, 
	attachments TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	created_by_id VARCHAR(64), 
	last_activity_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_data_row PRIMARY KEY (id), 
	CONSTRAINT uq_data_row_org_id_global_key UNIQUE (org_id, global_key), 
	CONSTRAINT fk_data_row_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id), 
	CONSTRAINT fk_data_row_dataset_id_dataset FOREIGN KEY(dataset_id) REFERENCES dataset (id), 
	CONSTRAINT fk_data_row_created_by_id_app_user FOREIGN KEY(created_by_id) REFERENCES app_user (id)
)
;
CREATE INDEX ix_data_row_dataset_id_created_at_id ON data_row (dataset_id, created_at, id)
;
CREATE INDEX ix_data_row_org_id_created_at_id ON data_row (org_id, created_at, id)
;
CREATE INDEX ix_data_row_org_id_last_activity_at ON data_row (org_id, last_activity_at)
;
CREATE TABLE batch (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	project_id VARCHAR(64) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_batch PRIMARY KEY (id), 
	CONSTRAINT fk_batch_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id), 
	CONSTRAINT fk_batch_project_id_project FOREIGN KEY(project_id) REFERENCES project (id)
)
;
CREATE INDEX ix_batch_project_id ON batch (project_id)
;
CREATE TABLE model_run (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	model_id VARCHAR(64) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	training_metadata TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	created_by_id VARCHAR(64), 
	CONSTRAINT pk_model_run PRIMARY KEY (id), 
	CONSTRAINT fk_model_run_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id), 
	CONSTRAINT fk_model_run_model_id_model FOREIGN KEY(model_id) REFERENCES model (id), 
	CONSTRAINT fk_model_run_created_by_id_app_user FOREIGN KEY(created_by_id) REFERENCES app_user (id)
)
;
CREATE INDEX ix_model_run_model_id ON model_run (model_id)
;
CREATE TABLE data_row_metadata (
	data_row_id VARCHAR(64) NOT NULL, 
	position INTEGER NOT NULL, 
	schema_id VARCHAR(64) NOT NULL, 
	value TEXT NOT NULL, 
	CONSTRAINT pk_data_row_metadata PRIMARY KEY (data_row_id, position), 
	CONSTRAINT fk_data_row_metadata_data_row_id_data_row FOREIGN KEY(data_row_id) REFERENCES data_row (id), 
	CONSTRAINT fk_data_row_metadata_schema_id_metadata_field FOREIGN KEY(schema_id) REFERENCES metadata_field (id)
)
;
CREATE INDEX ix_data_row_metadata_schema_id ON data_row_metadata (schema_id)
;
CREATE TABLE data_row_embedding (
	data_row_id VARCHAR(64) NOT NULL, 
	embedding_id VARCHAR(64) NOT NULL, 
	position INTEGER NOT NULL, 
	vectors TEXT NOT NULL, 
	CONSTRAINT pk_data_row_embedding PRIMARY KEY (data_row_id, embedding_id), 
	CONSTRAINT fk_data_row_embedding_data_row_id_data_row FOREIGN KEY(data_row_id) REFERENCES data_row (id), 
	CONSTRAINT fk_data_row_embedding_embedding_id_embedding FOREIGN KEY(embedding_id) REFERENCES embedding (id)
)
;
CREATE TABLE project_data_row (
	project_id VARCHAR(64) NOT NULL, 
	data_row_id VARCHAR(64) NOT NULL, 
	workflow_status VARCHAR(16) NOT NULL, 
	priority INTEGER, 
	batch_id VARCHAR(64), 
	task_id VARCHAR(64), 
	task_name VARCHAR(500), 
	consensus_expected_label_count INTEGER, 
	selected_label_id VARCHAR(64), 
	position INTEGER NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_project_data_row PRIMARY KEY (project_id, data_row_id), 
	CONSTRAINT fk_project_data_row_project_id_project FOREIGN KEY(project_id) REFERENCES project (id), 
	CONSTRAINT fk_project_data_row_data_row_id_data_row FOREIGN KEY(data_row_id) REFERENCES data_row (id), 
	CONSTRAINT fk_project_data_row_batch_id_batch FOREIGN KEY(batch_id) REFERENCES batch (id)
)
;
CREATE INDEX ix_project_data_row_batch_id ON project_data_row (batch_id)
;
CREATE INDEX ix_project_data_row_data_row_id ON project_data_row (data_row_id)
;
CREATE INDEX ix_project_data_row_project_id_workflow_status ON project_data_row (project_id, workflow_status)
;
CREATE TABLE workflow_history (
	project_id VARCHAR(64) NOT NULL, 
	data_row_id VARCHAR(64) NOT NULL, 
	position INTEGER NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE, 
	entry TEXT NOT NULL, 
	CONSTRAINT pk_workflow_history PRIMARY KEY (project_id, data_row_id, position), 
	CONSTRAINT fk_workflow_history_project_id_project FOREIGN KEY(project_id) REFERENCES project (id), 
	CONSTRAINT fk_workflow_history_data_row_id_data_row FOREIGN KEY(data_row_id) REFERENCES data_row (id)
)
;
CREATE TABLE label (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	project_id VARCHAR(64) NOT NULL, 
	data_row_id VARCHAR(64) NOT NULL, 
	position INTEGER NOT NULL, 
	label_kind VARCHAR(32) NOT NULL, 
	version VARCHAR(16) NOT NULL, 
	annotations TEXT NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	created_by_id VARCHAR(64), 
	content_last_updated_at TIMESTAMP WITH TIME ZONE, 
	reviews TEXT NOT NULL, 
	seconds_to_create FLOAT, 
	seconds_to_review FLOAT, 
	skipped BOOLEAN, 
	performance_v2 TEXT, 
	benchmark_reference_label VARCHAR(64), 
	benchmark_score FLOAT, 
	consensus_score FLOAT, 
	consensus_label_count INTEGER, 
	consensus_labels TEXT, 
	CONSTRAINT pk_label PRIMARY KEY (id), 
	CONSTRAINT fk_label_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id), 
	CONSTRAINT fk_label_project_id_project FOREIGN KEY(project_id) REFERENCES project (id), 
	CONSTRAINT fk_label_data_row_id_data_row FOREIGN KEY(data_row_id) REFERENCES data_row (id), 
	CONSTRAINT fk_label_created_by_id_app_user FOREIGN KEY(created_by_id) REFERENCES app_user (id)
)
;
CREATE INDEX ix_label_data_row_id ON label (data_row_id)
;
CREATE INDEX ix_label_project_id_data_row_id ON label (project_id, data_row_id)
;
CREATE INDEX ix_label_org_id_created_at ON label (org_id, created_at)
;
CREATE TABLE model_run_data_row (
	model_run_id VARCHAR(64) NOT NULL, 
	data_row_id VARCHAR(64) NOT NULL, 
	run_data_row_id VARCHAR(64) NOT NULL, 
	split VARCHAR(16), 
	position INTEGER NOT NULL, 
	CONSTRAINT pk_model_run_data_row PRIMARY KEY (model_run_id, data_row_id), 
	CONSTRAINT fk_model_run_data_row_model_run_id_model_run FOREIGN KEY(model_run_id) REFERENCES model_run (id), 
	CONSTRAINT fk_model_run_data_row_data_row_id_data_row FOREIGN KEY(data_row_id) REFERENCES data_row (id)
)
;
CREATE INDEX ix_model_run_data_row_data_row_id ON model_run_data_row (data_row_id)
;
CREATE TABLE model_run_label (
	model_run_id VARCHAR(64) NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	data_row_id VARCHAR(64) NOT NULL, 
	position INTEGER NOT NULL, 
	label_kind VARCHAR(32) NOT NULL, 
	version VARCHAR(16) NOT NULL, 
	annotations TEXT NOT NULL, 
	CONSTRAINT pk_model_run_label PRIMARY KEY (model_run_id, id), 
	CONSTRAINT fk_model_run_label_model_run_id_model_run FOREIGN KEY(model_run_id) REFERENCES model_run (id), 
	CONSTRAINT fk_model_run_label_data_row_id_data_row FOREIGN KEY(data_row_id) REFERENCES data_row (id)
)
;
CREATE INDEX ix_model_run_label_model_run_id_data_row_id ON model_run_label (model_run_id, data_row_id)
;
CREATE TABLE prediction (
	model_run_id VARCHAR(64) NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	data_row_id VARCHAR(64) NOT NULL, 
	position INTEGER NOT NULL, 
	label_kind VARCHAR(32) NOT NULL, 
	version VARCHAR(16) NOT NULL, 
	annotations TEXT NOT NULL, 
	CONSTRAINT pk_prediction PRIMARY KEY (model_run_id, id), 
	CONSTRAINT fk_prediction_model_run_id_model_run FOREIGN KEY(model_run_id) REFERENCES model_run (id), 
	CONSTRAINT fk_prediction_data_row_id_data_row FOREIGN KEY(data_row_id) REFERENCES data_row (id)
)
;
CREATE INDEX ix_prediction_model_run_id_data_row_id ON prediction (model_run_id, data_row_id)
;
CREATE TABLE annotation_set (
	id VARCHAR(64) NOT NULL, 
	org_id VARCHAR(64) NOT NULL, 
	display_name VARCHAR(500) NOT NULL, 
	objective VARCHAR(64) NOT NULL, 
	dataset_id VARCHAR(64), 
	project_id VARCHAR(64), 
	model_run_id VARCHAR(64), 
	settings TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	CONSTRAINT pk_annotation_set PRIMARY KEY (id), 
	CONSTRAINT annotation_set_one_source CHECK ((project_id IS NULL) <> (model_run_id IS NULL)), 
	CONSTRAINT fk_annotation_set_org_id_organization FOREIGN KEY(org_id) REFERENCES organization (id), 
	CONSTRAINT fk_annotation_set_dataset_id_dataset FOREIGN KEY(dataset_id) REFERENCES dataset (id), 
	CONSTRAINT fk_annotation_set_project_id_project FOREIGN KEY(project_id) REFERENCES project (id), 
	CONSTRAINT fk_annotation_set_model_run_id_model_run FOREIGN KEY(model_run_id) REFERENCES model_run (id)
)
;
INSERT INTO schema_version (version, applied_at) VALUES (1, '2026-11-23 17:29:22+00:00')
;
