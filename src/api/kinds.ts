/** The registry of the group's kinds: names, printer columns, schema and runtime parser of each. */
import type { z } from 'zod';
import { type Component, ComponentSchema, parseComponent } from './component.js';
import { type NodePool, NodePoolSchema, parseNodePool } from './nodepool.js';
import { parseTagServer, type TagServer, TagServerSchema } from './tagserver.js';
import {
  parseWebserviceUpgrade,
  type WebserviceUpgrade,
  WebserviceUpgradeSchema,
} from './webserviceupgrade.js';
import { parseZone, type Zone, ZoneSchema } from './zone.js';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  /** 0 shows in `kubectl get`, 1 only with `-o wide`. */
  priority?: number;
}

export interface KindInfo<T = unknown> {
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  printerColumns: PrinterColumn[];
  schema: z.ZodType<T>;
  parse: (obj: unknown) => T;
}

const CATEGORIES = ['pitrix'];

const zoneCol: PrinterColumn = {
  name: 'Zone',
  type: 'string',
  jsonPath: '.spec.zoneRef.name',
  description: 'The Zone object this belongs to.',
};
const readyCol: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description: 'Status of the Ready condition.',
};
const reasonCol: PrinterColumn = {
  name: 'Reason',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  description: 'Reason of the Ready condition.',
  priority: 1,
};
const stepCol: PrinterColumn = {
  name: 'Step',
  type: 'string',
  jsonPath: '.status.currentStep',
  description: 'The plan step running or waiting.',
};
const ageCol: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since creation.',
};

export const zoneKind: KindInfo<Zone> = {
  kind: 'Zone',
  listKind: 'ZoneList',
  plural: 'zones',
  singular: 'zone',
  shortNames: ['pz'],
  categories: CATEGORIES,
  printerColumns: [
    { name: 'ZoneID', type: 'string', jsonPath: '.spec.zoneId', description: 'Zone id.' },
    { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'Deployment mode.' },
    {
      name: 'Installer',
      type: 'string',
      jsonPath: '.status.installerVersion',
      description: 'Installer version.',
    },
    {
      name: 'Reachable',
      type: 'boolean',
      jsonPath: '.status.reachable',
      description: 'Firstbox answers over SSH.',
    },
    readyCol,
    {
      name: 'Lock',
      type: 'string',
      jsonPath: '.status.lock.operation',
      description: 'Operation holding the zone.',
    },
    reasonCol,
    ageCol,
  ],
  schema: ZoneSchema,
  parse: parseZone,
};

export const nodePoolKind: KindInfo<NodePool> = {
  kind: 'NodePool',
  listKind: 'NodePoolList',
  plural: 'nodepools',
  singular: 'nodepool',
  shortNames: ['np'],
  categories: CATEGORIES,
  printerColumns: [
    zoneCol,
    { name: 'Role', type: 'string', jsonPath: '.spec.role', description: 'Node role.' },
    { name: 'Nodes', type: 'string', jsonPath: '.status.nodesReady', description: 'Deployed/desired nodes.' },
    readyCol,
    stepCol,
    reasonCol,
    ageCol,
  ],
  schema: NodePoolSchema,
  parse: parseNodePool,
};

export const componentKind: KindInfo<Component> = {
  kind: 'Component',
  listKind: 'ComponentList',
  plural: 'components',
  singular: 'component',
  shortNames: ['pcomp'],
  categories: CATEGORIES,
  printerColumns: [
    zoneCol,
    { name: 'Name', type: 'string', jsonPath: '.spec.name', description: 'Which component.' },
    { name: 'State', type: 'string', jsonPath: '.spec.state', description: 'Present or Absent.' },
    readyCol,
    stepCol,
    reasonCol,
    ageCol,
  ],
  schema: ComponentSchema,
  parse: parseComponent,
};

export const tagServerKind: KindInfo<TagServer> = {
  kind: 'TagServer',
  listKind: 'TagServerList',
  plural: 'tagservers',
  singular: 'tagserver',
  shortNames: ['ts'],
  categories: CATEGORIES,
  printerColumns: [zoneCol, readyCol, stepCol, reasonCol, ageCol],
  schema: TagServerSchema,
  parse: parseTagServer,
};

export const webserviceUpgradeKind: KindInfo<WebserviceUpgrade> = {
  kind: 'WebserviceUpgrade',
  listKind: 'WebserviceUpgradeList',
  plural: 'webserviceupgrades',
  singular: 'webserviceupgrade',
  shortNames: ['wsu'],
  categories: CATEGORIES,
  printerColumns: [
    zoneCol,
    { name: 'Progress', type: 'string', jsonPath: '.status.progress', description: 'Rebuilt/all nodes.' },
    { name: 'Node', type: 'string', jsonPath: '.status.currentNode', description: 'Node being rebuilt.' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Phase of the rebuild.' },
    readyCol,
    reasonCol,
    ageCol,
  ],
  schema: WebserviceUpgradeSchema,
  parse: parseWebserviceUpgrade,
};

/** The kinds in dependency order (a Zone before what references it). */
export const kinds = [zoneKind, nodePoolKind, componentKind, tagServerKind, webserviceUpgradeKind] as const;

export type KindName = (typeof kinds)[number]['kind'];

const registered: KindInfo<unknown>[] = [];

/**
 * Adds a kind defined outside this module (a runbook registered through the controllers' registry,
 * e.g. one defined by a test) so that status clamping and zone-lock holder lookups know it.
 */
export function registerKind(info: KindInfo<unknown>): void {
  if (!kindInfo(info.kind)) registered.push(info);
}

/** The registry entry of a kind, or undefined for a kind outside this group. */
export function kindInfo(kind: string): KindInfo | undefined {
  return [...(kinds as readonly KindInfo<unknown>[]), ...registered].find((k) => k.kind === kind);
}

/** Validates any object of this group by its `kind`; throws ApiValidationError naming the field. */
export function parseResource(obj: unknown): Zone | NodePool | Component | TagServer | WebserviceUpgrade {
  const kind = (obj as { kind?: unknown } | null)?.kind;
  const info = typeof kind === 'string' ? kindInfo(kind) : undefined;
  if (!info)
    throw new Error(
      `unknown kind ${JSON.stringify(kind)}: expected one of ${kinds.map((k) => k.kind).join(', ')}`,
    );
  return info.parse(obj) as Zone | NodePool | Component | TagServer | WebserviceUpgrade;
}
