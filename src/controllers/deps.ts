/**
 * What every controller is given: the API client, the shared caches, the status writer, events,
 * metrics and the platform access layer. Controllers get these, never globals, so tests can wire a
 * controller against a real API server with a fake platform or the other way round.
 */
import type { Logger } from 'pino';
import { GROUP, VERSION } from '../api/common.js';
import type { KindInfo } from '../api/kinds.js';
import type { EventRecorder } from '../runtime/events.js';
import type { Informer } from '../runtime/informer.js';
import type { KubeClient, ResourceType } from '../runtime/kube.js';
import type { OperatorMetrics } from '../runtime/metrics.js';
import type { StatusWriter } from '../runtime/status.js';
import type { Platform } from './platform.js';

/** The shared caches, one per registered kind, keyed by each registration's `informer` name. */
export interface Informers {
  zone: Informer;
  nodePool: Informer;
  component: Informer;
  tagServer: Informer;
  webserviceUpgrade: Informer;
  [informer: string]: Informer;
}

export interface ControllerDeps {
  client: KubeClient;
  informers: Informers;
  /** The cache of a registered kind by its `kind` name (the runner reads `spec.paused` from it). */
  informerOf(kind: string): Informer | undefined;
  status: StatusWriter;
  events: EventRecorder;
  metrics: OperatorMetrics;
  platform: Platform;
  log: Logger;
}

export function resourceType(info: Pick<KindInfo, 'kind' | 'plural'>): ResourceType {
  return { group: GROUP, version: VERSION, kind: info.kind, plural: info.plural };
}

/** Parses a duration such as `30s`, `5m`, `1h` (the API's DURATION pattern). */
export function durationMs(text: string): number {
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  let total = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(m[1]) * unit[m[2] as keyof typeof unit];
  return total > 0 ? total : 5 * 60_000;
}

export const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
