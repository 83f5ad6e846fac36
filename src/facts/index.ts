/** Node and firstbox facts: typed, collected in one round trip per host, parsed by pure functions. */
export * from './collector.js';
export * from './disks.js';
export * from './errors.js';
export * from './firstbox.js';
export * from './installer.js';
export * from './ip.js';
export * from './lsblk.js';
export * from './meminfo.js';
export * from './nodes.js';
export * from './os.js';
export * from './packages.js';
export * from './probe.js';
export * from './qemu.js';
export * from './sections.js';
export * from './supervisor.js';
export type * from './types.js';
export * from './version.js';
