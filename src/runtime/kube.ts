/**
 * The thin layer over @kubernetes/client-node the runtime needs: typed access to our custom
 * resources (get, list, status update, metadata patch), Secrets, Events and Leases, and one
 * place that turns client errors into facts (`notFound`, `conflict`, `gone`).
 *
 * Every write names its field manager (`fieldManager` on each create, replace and patch), so
 * `managedFields` and GitOps tools show who owns what; without it the API server derives the
 * manager from the User-Agent, `kubernetes-client-javascript`, which names no one.
 */
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
}

export interface SecretRead {
  /** base64-encoded values, as the API returns them. */
  data: Record<string, string>;
  labels: Record<string, string>;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: Record<string, unknown>;
}

export function statusCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const e = err as { code?: unknown; statusCode?: unknown } | undefined;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  if (typeof e?.code === 'number') return e.code;
  return undefined;
}
export const isNotFound = (err: unknown) => statusCode(err) === 404;
export const isConflict = (err: unknown) => statusCode(err) === 409;
export const isGone = (err: unknown) => statusCode(err) === 410;

/** Loads kubeconfig the usual way: explicit path, $KUBECONFIG, ~/.kube/config, in-cluster. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

/** The field manager of the operator's writes (status, finalizers, Events, the leader Lease). */
export const FIELD_MANAGER = 'pitrix-operator';
/**
 * The field manager of `kubectl pitrix` (approve, pause, resume): a person's decision, recorded as
 * theirs, the way kubectl records `kubectl-annotate` or `kubectl-patch`, not as the operator's.
 */
export const PLUGIN_FIELD_MANAGER = 'kubectl-pitrix';

export class KubeClient {
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly coordination: CoordinationV1Api;

  /** `fieldManager` names every write this client makes; pass it to the raw APIs' writes too. */
  constructor(
    readonly config: KubeConfig,
    readonly fieldManager: string = FIELD_MANAGER,
  ) {
    this.custom = config.makeApiClient(CustomObjectsApi);
    this.core = config.makeApiClient(CoreV1Api);
    this.coordination = config.makeApiClient(CoordinationV1Api);
  }

  /** URL path of a resource collection, for list and watch. */
  static collectionPath(t: ResourceType, namespace?: string): string {
    const base = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
    return namespace ? `${base}/namespaces/${namespace}/${t.plural}` : `${base}/${t.plural}`;
  }

  async list(t: ResourceType, namespace?: string): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const res = namespace
      ? await this.custom.listNamespacedCustomObject({
          group: t.group,
          version: t.version,
          namespace,
          plural: t.plural,
        })
      : await this.custom.listClusterCustomObject({ group: t.group, version: t.version, plural: t.plural });
    const body = res as { items: KubeObject[]; metadata: { resourceVersion: string } };
    return { items: body.items, resourceVersion: body.metadata.resourceVersion };
  }

  async get(t: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        group: t.group,
        version: t.version,
        namespace,
        plural: t.plural,
        name,
      })) as KubeObject;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** PUT of the status subresource with the object's resourceVersion: a stale writer gets 409. */
  async replaceStatus(t: ResourceType, obj: KubeObject): Promise<KubeObject> {
    return (await this.custom.replaceNamespacedCustomObjectStatus({
      group: t.group,
      version: t.version,
      namespace: obj.metadata.namespace,
      plural: t.plural,
      name: obj.metadata.name,
      body: obj,
      fieldManager: this.fieldManager,
    })) as KubeObject;
  }

  /** JSON merge patch of the main resource (metadata: finalizers, annotations). */
  async mergePatch(t: ResourceType, namespace: string, name: string, patch: object): Promise<KubeObject> {
    return (await this.custom.patchNamespacedCustomObject(
      {
        group: t.group,
        version: t.version,
        namespace,
        plural: t.plural,
        name,
        body: patch,
        fieldManager: this.fieldManager,
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as KubeObject;
  }

  async mergePatchStatus(
    t: ResourceType,
    namespace: string,
    name: string,
    patch: object,
  ): Promise<KubeObject> {
    return (await this.custom.patchNamespacedCustomObjectStatus(
      {
        group: t.group,
        version: t.version,
        namespace,
        plural: t.plural,
        name,
        body: patch,
        fieldManager: this.fieldManager,
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as KubeObject;
  }

  /**
   * A Secret's data and labels (the labels carry the owner's consent that the operator may use it,
   * see controllers/consent.ts); undefined when it does not exist.
   */
  async readSecret(namespace: string, name: string): Promise<SecretRead | undefined> {
    try {
      const s = await this.core.readNamespacedSecret({ namespace, name });
      return { data: s.data ?? {}, labels: s.metadata?.labels ?? {} };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
