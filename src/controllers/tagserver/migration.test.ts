import { describe, expect, it } from 'vitest';
import {
  auditTags,
  judgeMigration,
  migrationStarted,
  modelProblem,
  type Probe,
  parseMigrationOutput,
  parseProbe,
  parsePyLiteral,
} from './migration.js';

// The runbook's own sample output (seed 000), verbatim.
const RUNBOOK_OUTPUT = `Here is a probe response:
{'action': 'DescribeTagsResponse', 'total_count': 40, 'tag_set': [{'resource_type_count': [{'count': 5, 'resource_type': 'volume'}], 'tag_name': 'SameName', 'description': None, 'resource_count': 5, 'color': 'default', 'controller': 'self', 'tag_id': 'tag-ssssssss', 'console_id': 'admin', 'root_user_id': 'admin', 'create_time': '2020-02-18T03:32:21Z', 'owner': 'admin', 'tag_key': 'default'}], 'ret_code': 0}
There are 40 tag items to migrate.
 
+(inserted)  ^(update)  X(error)  W(warning)
tag: 39 +  0 ^  0 X  1 W  resource_tag: 29 +  0 ^  0 X
All done.
`;

describe('Python literal and probe parsing', () => {
  it('parses the runbook probe response', () => {
    const p = parseProbe(RUNBOOK_OUTPUT);
    expect(p.totalCount).toBe(40);
    expect(p.tags).toEqual([
      { tagId: 'tag-ssssssss', tagName: 'SameName', owner: 'admin', resourceCount: 5 },
    ]);
  });

  it('handles escapes, double-quoted strings, nested containers and tuples', () => {
    expect(
      parsePyLiteral(
        `{'a': "it's", 'b': 'x\\'y\\\\z\\n', 'c': (1, -2.5, None), 'd': [True, False], 'e': u'\\xe9\\u4e2d'}`,
      ),
    ).toEqual({
      a: "it's",
      b: "x'y\\z\n",
      c: [1, -2.5, null],
      d: [true, false],
      e: 'é中',
    });
  });

  it('rejects what is not a literal, and a probe with ret_code != 0', () => {
    expect(() => parsePyLiteral("{'a': 1")).toThrow(/unterminated|expected/);
    expect(() => parsePyLiteral("{'a': os.system('x')}")).toThrow(/unexpected token/);
    expect(() =>
      parseProbe("{'action': 'DescribeTagsResponse', 'ret_code': 2100, 'message': 'zone not found'}"),
    ).toThrow(/ret_code 2100: zone not found/);
    expect(() => parseProbe('Traceback (most recent call last):')).toThrow(/no DescribeTagsResponse/);
  });
});

describe('migration summary', () => {
  it('parses the runbook summary line', () => {
    expect(parseMigrationOutput(RUNBOOK_OUTPUT)).toEqual({
      totalCount: 40,
      inserted: 39,
      updated: 0,
      errors: 0,
      warnings: 1,
      resourceInserted: 29,
      resourceUpdated: 0,
      resourceErrors: 0,
      allDone: true,
    });
    expect(migrationStarted(RUNBOOK_OUTPUT)).toBe(true);
  });

  it('parses it inside exec_nodes.sh framing and with wide numbers', () => {
    const out = `==== webservice-b3 (127.77.3.43) ====\n{'action': 'DescribeTagsResponse', 'ret_code': 0, 'total_count': 1200, 'tag_set': []}\nThere are 1200 tag items to migrate.\ntag: 1190 + 3 ^ 2 X 5 W  resource_tag: 2000 + 0 ^ 1 X\nAll done.\nexec_nodes: 1 ok, 0 failed\n`;
    expect(parseMigrationOutput(out)).toMatchObject({
      totalCount: 1200,
      inserted: 1190,
      updated: 3,
      errors: 2,
      warnings: 5,
      resourceErrors: 1,
    });
  });

  it('returns undefined without a summary (not finished), and started is told apart', () => {
    expect(parseMigrationOutput('There are 4 tag items to migrate.\n')).toBeUndefined();
    expect(migrationStarted('There are 4 tag items to migrate.\n')).toBe(true);
    expect(
      migrationStarted(
        'ssh: connect to host 127.0.0.1 port 22: Connection refused\nexec_nodes: 0 ok, 1 failed',
      ),
    ).toBe(false);
  });
});

describe('verdict', () => {
  const insert = parseMigrationOutput(RUNBOOK_OUTPUT)!;
  const update = { ...insert, inserted: 0, warnings: 0 };
  it('verified iff no errors, total == inserted + warnings, update inserts nothing (seed 000 l. 84)', () => {
    expect(judgeMigration({ insert, update, predictedWarnings: 1, requireUpdatePass: true })).toEqual({
      state: 'verified',
      problems: [],
      notes: [],
    });
    expect(judgeMigration({ insert, predictedWarnings: 1, requireUpdatePass: true }).state).toBe('pending');
    expect(judgeMigration({ insert, predictedWarnings: 1, requireUpdatePass: false }).state).toBe('verified');
  });
  it('fails with the numbers', () => {
    const lost = { ...insert, inserted: 36 };
    expect(judgeMigration({ insert: lost, predictedWarnings: 1, requireUpdatePass: true })).toEqual({
      state: 'failed',
      problems: ['total_count 40 != inserted 36 + warnings 1 (3 unaccounted)'],
      notes: [],
    });
    // A prediction missed is reported, but the original's rule decides.
    const off = judgeMigration({ insert, update, predictedWarnings: 0, requireUpdatePass: true });
    expect(off.state).toBe('verified');
    expect(off.notes[0]).toMatch(/^1 warning\(s\) \(W\) where the pre-flight audit predicted 0/);
    expect(
      judgeMigration({ insert: { ...insert, errors: 2 }, predictedWarnings: 1, requireUpdatePass: true })
        .problems[0],
    ).toBe('2 tag error(s) (X)');
    // resource_tag errors count too.
    const rt = judgeMigration({ insert: { ...insert, resourceErrors: 1 }, update, requireUpdatePass: true });
    expect([rt.state, rt.problems]).toEqual(['failed', ['1 resource_tag error(s) (X)']]);
    expect(
      judgeMigration({ insert, update: { ...update, resourceErrors: 2 }, requireUpdatePass: true }).problems,
    ).toEqual(['the update pass reported 2 resource_tag error(s)']);
    expect(
      judgeMigration({
        insert,
        update: { ...update, inserted: 3 },
        predictedWarnings: 1,
        requireUpdatePass: true,
      }).problems,
    ).toEqual(['the update pass inserted 3 tag(s); it must insert nothing']);
    expect(judgeMigration({ insertStartedWithoutSummary: true, requireUpdatePass: true }).state).toBe(
      'failed',
    );
  });
});

describe('pre-flight audit', () => {
  const probe = (tags: Array<[string, string, string]>): Probe => ({
    totalCount: tags.length,
    tags: tags.map(([tagId, owner, tagName]) => ({ tagId, owner, tagName })),
  });
  const probes = {
    pek3a: probe([
      ['t1', 'usr-1', 'web'],
      ['t2', 'usr-2', 'db'],
    ]),
    pek3b: probe([
      ['t3', 'usr-1', 'web'], // same owner, same name: warns when pek3b goes after pek3a
      ['t4', 'usr-3', 'db'], // same name, other owner: no warning
      ['t5', 'usr-1', 'web'], // second copy in the same zone: warns too
    ]),
    pek3c: probe([
      ['t6', 'usr-2', 'db'],
      ['t7', 'usr-9', `os::version::14.04`],
      ['t8', 'usr-9', 'reservedMemory::'],
      ['t9', 'usr-9', 'x'.repeat(2049)],
    ]),
  };
  it('predicts warnings from zones migrated earlier in the order', () => {
    const a = auditTags(['pek3a', 'pek3b', 'pek3c'], probes);
    expect(a.pek3a!.predictedWarnings).toBe(0);
    expect(a.pek3b!.predictedWarnings).toBe(2);
    expect(a.pek3b!.sameName[0]).toBe('usr-1/web (t3; also in pek3a)');
    expect(a.pek3c!.predictedWarnings).toBe(1);
    // Another order, other predictions.
    const b = auditTags(['pek3c', 'pek3a'], probes);
    expect(b.pek3c!.predictedWarnings).toBe(0);
    expect(b.pek3a!.predictedWarnings).toBe(1);
  });
  it('counts zones migrated before, outside the order', () => {
    expect(auditTags(['pek3b'], probes, new Set(['pek3a'])).pek3b!.predictedWarnings).toBe(2);
  });
  it('finds tags that break the R2 model', () => {
    const a = auditTags(['pek3c'], probes);
    expect(a.pek3c!.violations.map((v) => v.tagId)).toEqual(['t8', 't9']);
    expect(a.pek3c!.violations[1]!.problem).toBe('longer than 2048 characters (2049)');
    expect(modelProblem('primaryStorage::allocator::userTag::SSD::required')).toBeUndefined();
    expect(modelProblem('capability:liveSnapshot')).toBeUndefined();
    expect(modelProblem('a:::b')).toMatch(/malformed/);
    expect(modelProblem('::x')).toMatch(/malformed/);
  });
});
