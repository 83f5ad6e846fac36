/** The OpenAPI v3 → kubeconform schema conversion (test/helpers/kubeconform-schemas.ts). */
import { describe, expect, it } from 'vitest';
import { kindSchemas, SCHEMA_LOCATION, schemaFileName, strict } from '../helpers/kubeconform-schemas.js';

const doc = {
  components: {
    schemas: {
      'io.k8s.api.apps.v1.Deployment': {
        type: 'object',
        'x-kubernetes-group-version-kind': [{ group: 'apps', version: 'v1', kind: 'Deployment' }],
        properties: {
          apiVersion: { type: 'string' },
          kind: { type: 'string' },
          spec: { allOf: [{ $ref: '#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec' }], default: {} },
        },
      },
      'io.k8s.api.apps.v1.DeploymentSpec': {
        type: 'object',
        properties: {
          replicas: { type: 'integer', format: 'int32' },
          maxSurge: { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString' },
          cpu: { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity' },
          note: { type: 'string', nullable: true },
          extra: {
            type: 'object',
            'x-kubernetes-preserve-unknown-fields': true,
            properties: { a: { type: 'string' } },
          },
        },
      },
      'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { type: 'string', format: 'int-or-string' },
      'io.k8s.apimachinery.pkg.api.resource.Quantity': { type: 'string' },
      'io.k8s.api.core.v1.Unrelated': { type: 'object', properties: { x: { type: 'string' } } },
      'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions': {
        type: 'object',
        'x-kubernetes-group-version-kind': [
          { group: '', version: 'v1', kind: 'DeleteOptions' },
          { group: 'apps', version: 'v1', kind: 'DeleteOptions' },
        ],
        properties: { apiVersion: { type: 'string' }, kind: { type: 'string' } },
      },
    },
  },
};

describe('kubeconform schemas from OpenAPI v3', () => {
  it('names files as kubeconform looks them up', () => {
    expect(SCHEMA_LOCATION).toBe('{{ .ResourceKind }}_{{ .Group }}_{{ .ResourceAPIVersion }}.json');
    expect(schemaFileName('apps/v1', 'Deployment')).toBe('deployment_apps_v1.json');
    expect(schemaFileName('v1', 'Service')).toBe('service_v1_v1.json');
    expect(schemaFileName('ops.pitrix.io/v1alpha1', 'NodePool')).toBe('nodepool_ops.pitrix.io_v1alpha1.json');
  });

  it('writes one standalone strict schema per kind, with only what it references', () => {
    const out = kindSchemas(doc);
    expect([...out.keys()]).toEqual(['deployment_apps_v1.json']);
    const s = out.get('deployment_apps_v1.json') as {
      $ref: string;
      definitions: Record<string, Record<string, unknown>>;
    };
    expect(s.$ref).toBe('#/definitions/io.k8s.api.apps.v1.Deployment');
    expect(Object.keys(s.definitions).sort()).toEqual([
      'io.k8s.api.apps.v1.Deployment',
      'io.k8s.api.apps.v1.DeploymentSpec',
      'io.k8s.apimachinery.pkg.api.resource.Quantity',
      'io.k8s.apimachinery.pkg.util.intstr.IntOrString',
    ]);
    const spec = s.definitions['io.k8s.api.apps.v1.DeploymentSpec']!;
    expect(spec.additionalProperties).toBe(false);
    const props = spec.properties as Record<string, Record<string, unknown>>;
    expect(props.maxSurge).toEqual({ $ref: '#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString' });
    expect(props.note).toEqual({ type: ['string', 'null'] });
    expect(props.extra!.additionalProperties).toBeUndefined();
    expect(s.definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString']).toEqual({
      oneOf: [{ type: 'string' }, { type: 'integer' }],
    });
    expect(s.definitions['io.k8s.apimachinery.pkg.api.resource.Quantity']).toEqual({
      oneOf: [{ type: 'string' }, { type: 'number' }],
    });
  });

  it('leaves defaults and enums as data', () => {
    const data = { properties: { a: { type: 'string' } } };
    expect(strict({ type: 'object', default: data, enum: [data] })).toEqual({
      type: 'object',
      default: data,
      enum: [data],
    });
  });
});
