export * from './types';
export { SCHEMA_SUBJECTS, SCHEMA_REGISTRY, SCHEMAS_DIR, currentSchema, schemaById, schemaFile, type SchemaSubject, type SchemaVersion } from './schemas';
export * from './errors';
export * from './codec';
export * from './keys';
export * from './guid';
export { entryStateOf } from './state';
export { FIXED_IDS, RegistryIds, schemaIdentity, schemaText, UnregisteredSchemaError, useWireIds, versionOfText, wireIds, type WireIds } from './wire-ids';
