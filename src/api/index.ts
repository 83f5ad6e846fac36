/** The public API of ops.pitrix.io/v1alpha1: types, runtime parsers, the kinds registry. */
export * from './common.js';
export * from './component.js';
export { crdObject, openApiSchema, renderCrds } from './crd.js';
export * from './kinds.js';
export * from './nodepool.js';
export * from './tagserver.js';
export * from './webserviceupgrade.js';
export * from './zone.js';
