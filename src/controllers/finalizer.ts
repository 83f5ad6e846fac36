/** Finalizer helpers: merge patches of metadata.finalizers, idempotent in both directions. */
import type { KubeClient, KubeObject, ResourceType } from '../runtime/kube.js';

export async function ensureFinalizer(
  client: KubeClient,
  type: ResourceType,
  obj: KubeObject,
  finalizer: string,
): Promise<KubeObject> {
  const current = obj.metadata.finalizers ?? [];
  if (current.includes(finalizer)) return obj;
  return client.mergePatch(type, obj.metadata.namespace, obj.metadata.name, {
    metadata: { finalizers: [...current, finalizer], resourceVersion: obj.metadata.resourceVersion },
  });
}

export async function removeFinalizer(
  client: KubeClient,
  type: ResourceType,
  obj: KubeObject,
  finalizer: string,
): Promise<void> {
  const current = obj.metadata.finalizers ?? [];
  if (!current.includes(finalizer)) return;
  await client.mergePatch(type, obj.metadata.namespace, obj.metadata.name, {
    metadata: {
      finalizers: current.filter((f) => f !== finalizer),
      resourceVersion: obj.metadata.resourceVersion,
    },
  });
}
