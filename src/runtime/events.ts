/**
 * Kubernetes Events on our objects, the way client-go's recorder does it: a searchable CamelCase
 * reason, a human message, and repeats folded into one Event whose `count` grows instead of a new
 * object per occurrence (an operator retrying every few seconds must not flood etcd).
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeClient, KubeObject } from './kube.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  event(obj: KubeObject, type: EventType, reason: string, message: string): void;
}

interface Seen {
  name: string;
  count: number;
  last: number;
}

export class KubeEventRecorder implements EventRecorder {
  private readonly seen = new Map<string, Seen>();

  constructor(
    private readonly client: KubeClient,
    private readonly component: string,
    private readonly log?: Logger,
    private readonly foldWindowMs = 10 * 60_000,
  ) {}

  /** Fire and forget: an Event that cannot be written is logged, never fails a reconcile. */
  event(obj: KubeObject, type: EventType, reason: string, message: string): void {
    this.record(obj, type, reason, message).catch((err) =>
      this.log?.warn({ err: String(err), reason }, 'could not record event'),
    );
  }

  async record(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const { namespace, name, uid } = obj.metadata;
    const key = `${uid}/${type}/${reason}/${message}`;
    const now = new Date();
    const prior = this.seen.get(key);
    if (prior && now.getTime() - prior.last < this.foldWindowMs) {
      prior.count += 1;
      prior.last = now.getTime();
      await this.client.core.patchNamespacedEvent(
        {
          namespace,
          name: prior.name,
          body: { count: prior.count, lastTimestamp: now.toISOString() },
          fieldManager: this.client.fieldManager,
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return;
    }
    const eventName = `${name}.${now.getTime().toString(16)}${Math.random().toString(16).slice(2, 6)}`;
    await this.client.core.createNamespacedEvent({
      namespace,
      fieldManager: this.client.fieldManager,
      body: {
        metadata: { name: eventName, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name,
          namespace,
          uid,
          resourceVersion: obj.metadata.resourceVersion,
        },
        type,
        reason,
        message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
        source: { component: this.component },
        reportingComponent: this.component,
        reportingInstance: this.component,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
    this.seen.set(key, { name: eventName, count: 1, last: now.getTime() });
    if (this.seen.size > 5000) {
      for (const [k, v] of this.seen) if (now.getTime() - v.last > this.foldWindowMs) this.seen.delete(k);
    }
  }
}

/** Records nothing; for the CLI's plan command and unit tests. */
export const noopRecorder: EventRecorder = { event() {} };
