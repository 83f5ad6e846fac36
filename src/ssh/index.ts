/** The SSH layer's public surface. */
export * from './command.js';
export { KEX_ALGORITHMS } from './connection.js';
export * from './credentials.js';
export * from './errors.js';
export * from './hostkeys.js';
export { MASK, maskSecrets } from './output.js';
export * from './pool.js';
export type * from './types.js';
