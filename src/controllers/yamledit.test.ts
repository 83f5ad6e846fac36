/**
 * The shared YAML editor on a deliberately awkward server.yaml: comments everywhere, flow style,
 * anchors and merges, long lines, octal-looking numbers, yes/no, quoted and plain strings. The
 * before/after diff must be exactly the edited lines.
 */
import { describe, expect, it } from 'vitest';
import { editsHold, editYaml, pendingChanges, readPath, YamlEditError } from './yamledit.js';

const LONG = `${'x'.repeat(150)} long plain string that a re-dump would fold at eighty columns`;
const AWKWARD = `# pitrix server configuration for zone pek3a
# (hand-edited; keep the comments)

defaults: &defaults   # anchor
  timeout: 30
  retries: 3

common:
  <<: *defaults
  enable_global_tag_server: no      # was turned off in 2019
  tag_server_hosts: [ tag0 , tag1 ]  # flow list, odd spacing
  mode: 0755
  zone_code: 010
  debug: yes
  name: "pek3a"
  owner: 'ops'
  plain: hello world
  long: ${LONG}

tag_server:
  {host: 10.16.1.5, port: 9876}   # flow mapping

notify:
  channels:
    - email   # first
    - sms
  # trailing comment in notify
last_key: on
`;

function diff(before: string, after: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const out: string[] = [];
  let i = 0;
  let j = 0;
  // Line diff good enough for edits that change or insert lines (no reordering).
  while (i < a.length || j < b.length) {
    if (a[i] === b[j]) {
      i++;
      j++;
    } else if (b.slice(j + 1).includes(a[i]!) && !a.slice(i + 1).includes(b[j]!)) {
      out.push(`+ ${b[j++]}`);
    } else {
      out.push(`- ${a[i++]}`, `+ ${b[j++]}`);
    }
  }
  return out;
}

describe('shared YAML editor (YAML 1.1, byte-preserving)', () => {
  it('changes only the edited lines, keeping their inline comments and spelling family', () => {
    const r = editYaml(
      AWKWARD,
      [
        { path: ['common', 'enable_global_tag_server'], value: true },
        { path: ['common', 'name'], value: 'pek3b' },
        { path: ['last_key'], value: false },
      ],
      'server.yaml.pek3a',
    );
    expect(diff(AWKWARD, r.text)).toEqual([
      '-   enable_global_tag_server: no      # was turned off in 2019',
      '+   enable_global_tag_server: yes      # was turned off in 2019',
      '-   name: "pek3a"',
      '+   name: "pek3b"',
      '- last_key: on',
      '+ last_key: off',
    ]);
    expect(r.changes.map((c) => [c.path.join('.'), c.before, c.after])).toEqual([
      ['common.enable_global_tag_server', 'false', 'true'],
      ['common.name', "'pek3a'", "'pek3b'"],
      ['last_key', 'true', 'false'],
    ]);
  });

  it('adds a missing key as one line at its mapping indentation; missing parents too', () => {
    const r = editYaml(
      AWKWARD,
      [
        { path: ['notify', 'enabled'], value: true },
        { path: ['boss', 'v2', 'host'], value: '10.16.1.9' },
      ],
      'server.yaml.pek3a',
    );
    const d = diff(AWKWARD, r.text);
    expect(d).toEqual(['+   enabled: true', '+ boss:', '+   v2:', '+     host: 10.16.1.9']);
    expect(readPath(r.text, ['notify', 'channels'], 'x')).toEqual(['email', 'sms']);
  });

  it('reads YAML 1.1 as the platform does: 0755 is 493, 010 is 8, yes is true', () => {
    expect(readPath(AWKWARD, ['common', 'mode'], 'x')).toBe(493);
    expect(readPath(AWKWARD, ['common', 'zone_code'], 'x')).toBe(8);
    expect(readPath(AWKWARD, ['common', 'debug'], 'x')).toBe(true);
    expect(readPath(AWKWARD, ['common', 'timeout'], 'x')).toBeUndefined();
    expect(editsHold(AWKWARD, [{ path: ['common', 'debug'], value: true }], 'x')).toBe(true);
    expect(pendingChanges(AWKWARD, [{ path: ['common', 'debug'], value: 'yes' }], 'x')).toHaveLength(1);
  });

  it('quotes a string that would be re-typed, and keeps untouched octal-looking values as they were', () => {
    const r = editYaml(
      AWKWARD,
      [
        { path: ['common', 'plain'], value: '0644' },
        { path: ['common', 'owner'], value: "o'brien" },
      ],
      'x',
    );
    expect(diff(AWKWARD, r.text)).toEqual([
      "-   owner: 'ops'",
      "+   owner: 'o''brien'",
      '-   plain: hello world',
      "+   plain: '0644'",
    ]);
    expect(readPath(r.text, ['common', 'plain'], 'x')).toBe('0644');
    expect(r.text).toContain('  mode: 0755\n');
    expect(r.text).toContain(`  long: ${LONG}\n`);
    // A plain string that stays a string is written plain, like its neighbour.
    const p = editYaml(AWKWARD, [{ path: ['common', 'plain'], value: 'hello there' }], 'x');
    expect(diff(AWKWARD, p.text)).toEqual(['-   plain: hello world', '+   plain: hello there']);
    for (const s of ['yes', 'off', '1:20', '012', 'null', '~', '1e3']) {
      const q = editYaml(AWKWARD, [{ path: ['common', 'plain'], value: s }], 'x');
      expect(readPath(q.text, ['common', 'plain'], 'x'), s).toBe(s);
      expect(q.text).toContain(`  plain: '${s}'\n`);
    }
  });

  it('edits values in flow style in place and replaces a list without touching its neighbours', () => {
    const r = editYaml(
      AWKWARD,
      [
        { path: ['tag_server', 'port'], value: 9877 },
        { path: ['common', 'tag_server_hosts'], value: ['tag0', 'tag2'] },
      ],
      'x',
    );
    expect(diff(AWKWARD, r.text)).toEqual([
      '-   tag_server_hosts: [ tag0 , tag1 ]  # flow list, odd spacing',
      '+   tag_server_hosts: [tag0, tag2]  # flow list, odd spacing',
      '-   {host: 10.16.1.5, port: 9876}   # flow mapping',
      '+   {host: 10.16.1.5, port: 9877}   # flow mapping',
    ]);
  });

  it('refuses what it cannot do byte for byte, naming the key', () => {
    // A new key in a flow mapping, a shared anchor, a path through a value: left to a human.
    expect(() => editYaml(AWKWARD, [{ path: ['tag_server', 'tls'], value: true }], 'x')).toThrow(
      /tag_server is a flow mapping/,
    );
    expect(() => editYaml(AWKWARD, [{ path: ['defaults', 'timeout'], value: 60 }], 'x')).toThrow(
      YamlEditError,
    );
    expect(() => editYaml(AWKWARD, [{ path: ['last_key', 'x'], value: 1 }], 'x')).toThrow(/not a mapping/);
    expect(() => editYaml('a: [1\n', [{ path: ['a'], value: 1 }], 'x')).toThrow(/not valid YAML/);
  });

  it('is idempotent: the edit applied to its own output changes nothing', () => {
    const edits = [
      { path: ['common', 'enable_global_tag_server'], value: true },
      { path: ['notify', 'enabled'], value: true },
    ];
    const once = editYaml(AWKWARD, edits, 'x').text;
    const twice = editYaml(once, edits, 'x');
    expect(twice.text).toBe(once);
    expect(twice.changes).toEqual([]);
  });
});
