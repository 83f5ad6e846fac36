/**
 * What the simulated installer knows about packages: which supervisor programs a package brings,
 * which packages a role gets when scale-qingcloud.py / install_nodes.sh deploys it, and the group
 * names update.sh accepts besides package names (R1 `tag`, R3 `boss`, R5 `global-webservice` ...).
 */

export const PACKAGE_PROGRAMS: Record<string, string[]> = {
  'pitrix-ks-webservice': ['ws_server', 'billing_resource'],
  'pitrix-ks-api': ['api_server'],
  'pitrix-ks-cli': [],
  'pitrix-ks-console': ['console_server'],
  'pitrix-ks-zone-webservice': ['ws_server', 'billing_resource'],
  'pitrix-ks-proxy': ['proxy_server'],
  'pitrix-ks-tag-server': ['tag_server'],
  'pitrix-ks-proxy-tag': ['tag_proxy'],
  'pitrix-tag-server': ['tag_server'],
  'pitrix-tag-proxy': ['tag_proxy'],
  'pitrix-hyper': ['compute_server', 'hyper_agent'],
  'pitrix-vg': ['vg_server', 'vg_agent'],
  'pitrix-seed': ['seed_server'],
  'pitrix-vbr': ['vbr_server'],
  'pitrix-snapshot': ['snapshot_server'],
  'pitrix-zoocassa': ['zookeeper', 'cassandra'],
  'pitrix-pgserver': ['pgserver'],
  'pitrix-ks-boss2': ['boss2_server', 'boss2_worker'],
  'pitrix-ks-boss2-console': ['boss2_console'],
  'pitrix-ks-boss2-conf': [],
  'pitrix-transit-upload-server': ['transit_upload_server'],
  'pitrix-cronus': ['cronus_server'],
  'pitrix-ks-webservice-websupervisor': ['websupervisor'],
  'pitrix-global-conf': [],
  'pitrix-node-base': [],
};

/** Packages a freshly deployed node of a role gets. */
export const ROLE_PACKAGES: Record<string, string[]> = {
  webservice: [
    'pitrix-node-base',
    'pitrix-global-conf',
    'pitrix-ks-webservice',
    'pitrix-ks-api',
    'pitrix-ks-cli',
    'pitrix-ks-console',
  ],
  proxy: ['pitrix-node-base', 'pitrix-global-conf', 'pitrix-ks-proxy'],
  hyper: ['pitrix-node-base', 'pitrix-global-conf', 'pitrix-hyper'],
  vg: ['pitrix-node-base', 'pitrix-global-conf', 'pitrix-vg'],
  seed: ['pitrix-node-base', 'pitrix-global-conf', 'pitrix-seed'],
  vbr: ['pitrix-node-base', 'pitrix-global-conf', 'pitrix-vbr'],
  snapshot: ['pitrix-node-base', 'pitrix-global-conf', 'pitrix-snapshot'],
  zoocassa: ['pitrix-node-base', 'pitrix-global-conf', 'pitrix-zoocassa'],
  pgserver: ['pitrix-node-base', 'pitrix-global-conf', 'pitrix-pgserver'],
  boss: ['pitrix-node-base', 'pitrix-global-conf'],
};

/** BOSS V1 leftovers per role (R3 step 1). */
export const BOSS_V1_PROGRAMS: Record<string, string[]> = {
  webservice: ['boss_collector', 'boss_aggregator', 'boss_aggregator_proxy'],
  boss: ['boss_hypervisor', 'boss_hypervisor_proxy', 'pitrix-boss-console'],
  hyper: ['boss_daemon'],
};

/** Roles whose nodes run nginx / haproxy / memcached as init services. */
export const ROLE_SERVICES: Record<string, string[]> = {
  webservice: ['nginx', 'keepalived'],
  // The memcache servers of operate_cache_by_re -S (seed 003 §3.3).
  zoocassa: ['memcached'],
  proxy: ['nginx', 'haproxy', 'keepalived'],
  boss: ['nginx'],
};

/** update.sh package groups. Global vs sub zone webservice lists follow R5 step 6. */
export const PACKAGE_GROUPS: Record<string, string[]> = {
  'global-webservice': ['pitrix-ks-webservice', 'pitrix-ks-api'],
  'global-website': ['pitrix-ks-console'],
  'zone-webservice': ['pitrix-ks-zone-webservice'],
  tag: ['pitrix-tag-server', 'pitrix-tag-proxy', 'pitrix-ks-tag-server', 'pitrix-ks-proxy-tag'],
  boss: ['pitrix-ks-boss2', 'pitrix-ks-boss2-console', 'pitrix-ks-boss2-conf'],
};

/** Roles the installer lets scale-qingcloud.py add (R4). */
export const SCALABLE_ROLES = ['hyper', 'vg', 'seed', 'vbr', 'snapshot'];

export function programsOf(pkg: string): string[] {
  return PACKAGE_PROGRAMS[pkg] ?? [];
}

/** `a.b.c-N` style comparison, numeric where both sides are numbers. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.\-+~:]/);
  const pb = b.split(/[.\-+~:]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    if (x === y) continue;
    const nx = Number(x);
    const ny = Number(y);
    if (x !== '' && y !== '' && !Number.isNaN(nx) && !Number.isNaN(ny)) return nx - ny;
    return x < y ? -1 : 1;
  }
  return 0;
}
