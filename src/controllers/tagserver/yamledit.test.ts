import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { serverYaml } from '../../../hack/sim/templates.js';
import { checkOnlyKeysChanged, editYaml, pendingEdits, YamlEditError } from './yamledit.js';

const sub = serverYaml(
  { zone_id: 'pek3b', region_id: 'pek3', is_global_zone: 0, mode: 'standard', status: 'active' },
  {
    domain: 'pek3.qingcloud.local',
    proxyVip: '127.77.3.6',
    globalZone: 'pek3a',
    qemu: 'QEMU emulator version 2.5.0',
  },
);
const glob = serverYaml(
  { zone_id: 'pek3a', region_id: 'pek3', is_global_zone: 1, mode: 'standard', status: 'active' },
  {
    domain: 'pek3.qingcloud.local',
    proxyVip: '127.77.3.5',
    globalZone: 'pek3a',
    qemu: 'QEMU emulator version 2.5.0',
  },
);

describe('server.yaml key edits', () => {
  it('changes only the bytes of the values of existing keys', () => {
    const r = editYaml(sub, [
      { key: 'common.enable_global_tag_server', value: true },
      { key: 'fg_server.tag_proxy_host', value: 'pek3b-proxy' },
    ]);
    expect(r.changes).toEqual([
      { key: 'common.enable_global_tag_server', before: 'false', after: 'true' },
      { key: 'fg_server.tag_proxy_host', before: "''", after: "'pek3b-proxy'" },
    ]);
    const expected = sub
      .replace('enable_global_tag_server: false', 'enable_global_tag_server: true')
      .replace("tag_proxy_host: ''", "tag_proxy_host: 'pek3b-proxy'");
    expect(r.text).toBe(expected);
  });

  it('is a no-op when the values are already there', () => {
    const once = editYaml(glob, [
      { key: 'common.enable_global_tag_server', value: true },
      { key: 'common.zones_enable_tag_server', value: 'pek3' },
      { key: 'tag_server.register_to_zk', value: true },
    ]);
    // zones_enable_tag_server is missing in the template: one line added under common, comments kept.
    expect(parse(once.text).common.zones_enable_tag_server).toBe('pek3');
    expect(once.text).toContain('# deployment mode: standard | fusion | devops');
    expect(once.text).toContain('  zones_enable_tag_server: pek3\n');
    const twice = editYaml(once.text, [
      { key: 'common.enable_global_tag_server', value: true },
      { key: 'common.zones_enable_tag_server', value: 'pek3' },
      { key: 'tag_server.register_to_zk', value: true },
    ]);
    expect(twice.changes).toEqual([]);
    expect(twice.text).toBe(once.text);
  });

  it('keeps a trailing comment on the edited line', () => {
    const text = "common:\n  zones_enable_tag_server: 'pek3'  # region ids, comma separated\n  x: 1\n";
    const r = editYaml(text, [{ key: 'common.zones_enable_tag_server', value: 'pek3,gd2' }]);
    expect(r.text).toBe(
      "common:\n  zones_enable_tag_server: 'pek3,gd2'  # region ids, comma separated\n  x: 1\n",
    );
  });

  it('refuses a key path through a list or a value, and invalid YAML', () => {
    expect(() => editYaml('fg_server: [a, b]\n', [{ key: 'fg_server.tag_proxy_host', value: 'x' }])).toThrow(
      YamlEditError,
    );
    expect(() => editYaml('common:\n  a: [1\n', [{ key: 'common.a', value: true }])).toThrow(
      /not valid YAML/,
    );
    expect(() =>
      editYaml('common:\n  enable_global_tag_server:\n    a: 1\n', [
        { key: 'common.enable_global_tag_server', value: true },
      ]),
    ).toThrow(/holds a mapping/);
  });

  it('detects any other change', () => {
    expect(() => checkOnlyKeysChanged('a: 1\nb: 2\n', 'a: 1\nb: 3\n', [{ key: 'a', value: 'x' }])).toThrow(
      /more than a/,
    );
    expect(() => checkOnlyKeysChanged('# keep me\na: 1\n', 'a: true\n', [{ key: 'a', value: true }])).toThrow(
      /drop the comment/,
    );
    expect(pendingEdits('a:\n  b: true\n', [{ key: 'a.b', value: true }])).toEqual([]);
    expect(pendingEdits('a:\n  b: "true"\n', [{ key: 'a.b', value: true }])).toHaveLength(1);
  });
});
