import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { and, inDir, or, pipe, quote, redirect, seq, sh, shell, validated, withEnv } from './command.js';
import { ValidationError } from './errors.js';

const SHELLS = ['/bin/sh', '/bin/bash'].filter((s) => existsSync(s));

/** Runs a script locally and returns its stdout bytes. */
function run(shellPath: string, script: string): Buffer {
  const r = spawnSync(shellPath, ['-c', script], { maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r.stdout;
}

/** What `printf '%s\0' args...` must print when every arg arrives intact. */
function expectedBytes(args: readonly string[]): Buffer {
  return Buffer.concat(args.flatMap((a) => [Buffer.from(a, 'utf8'), Buffer.from([0])]));
}

const META = [
  ...`;&|<>()$\`\\"' \t\n\r*?[]{}~#!=%^,-+@:/.`.split(''),
  '$(reboot)',
  '`id`',
  "'\\''",
  '$' + '{IFS}',
  '$((1+1))',
  '&&',
  '||',
  '>/tmp/pwned',
  '*',
  '-rf',
  '--',
  '\u00a0',
  '\u202e',
  'é',
  '😀',
  '\ud800',
];

const hostile: fc.Arbitrary<string> = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.string({ unit: fc.constantFrom(...META), maxLength: 12 }),
    fc.tuple(fc.constantFrom('-', '--', '-e ', '-n'), fc.string({ maxLength: 10 })).map(([a, b]) => a + b),
    fc.constantFrom('', ' ', "'", '"', '\n', 'if', 'then', 'time', '~', '~root', 'a=b', '!', '{', '}'),
  )
  .filter((s) => !s.includes('\0'));

describe('quote() against real shells', () => {
  it('keeps ≥10,000 hostile strings as exactly one argument each, byte for byte', () => {
    let total = 0;
    fc.assert(
      fc.property(fc.array(hostile, { minLength: 200, maxLength: 200 }), (args) => {
        const script = `printf '%s\\0' ${args.map(quote).join(' ')}`;
        for (const s of SHELLS) {
          expect(run(s, script).equals(expectedBytes(args))).toBe(true);
        }
        total += args.length;
      }),
      { numRuns: 55 },
    );
    expect(total).toBeGreaterThanOrEqual(10_000);
  });

  it('keeps values intact through withEnv, inDir, pipe and the sh template', () => {
    fc.assert(
      fc.property(fc.array(hostile, { minLength: 20, maxLength: 20 }), (vals) => {
        // The expansion text is constant source (what sh`` literals are); only the values vary.
        const text = `printf '%s\\0' ${vals.map((_, i) => `"$V${i}"`).join(' ')}`;
        const literal = Object.assign([text], { raw: [text] }) as unknown as TemplateStringsArray;
        const printEnv = withEnv(
          Object.fromEntries(vals.map((v, i) => [`V${i}`, v])),
          sh('print env')(literal),
        );
        expect(run('/bin/sh', printEnv.script).equals(expectedBytes(vals))).toBe(true);
        const direct = shell(['printf', '%s\\0', ...vals], 'print');
        const piped = pipe([direct, shell(['cat'], 'copy')]);
        expect(run('/bin/sh', inDir('/', piped).script).equals(expectedBytes(vals))).toBe(true);
      }),
      { numRuns: 20 },
    );
  });
});

describe('quote()', () => {
  it('leaves plain words readable and quotes the rest', () => {
    expect(quote('/pitrix/bin/x')).toBe('/pitrix/bin/x');
    expect(quote('10.0.0.1')).toBe('10.0.0.1');
    expect(quote('')).toBe("''");
    expect(quote('a b')).toBe("'a b'");
    expect(quote("it's")).toBe("'it'\\''s'");
    expect(quote('a=b')).toBe("'a=b'");
    expect(quote('~')).toBe("'~'");
    expect(quote('if')).toBe("'if'");
    expect(quote('$(reboot)')).toBe("'$(reboot)'");
  });
  it('refuses NUL bytes', () => {
    expect(() => quote('a\0b')).toThrow(ValidationError);
    expect(() => quote('a\0b')).toThrow(/NUL/);
  });
});

describe('composition', () => {
  const a = shell(['echo', 'a b'], 'say a');
  const b = shell(['grep', 'a'], 'filter');
  it('builds readable scripts', () => {
    expect(a.script).toBe("echo 'a b'");
    expect(pipe([a, b]).script).toBe("echo 'a b' | grep a");
    expect(and([a, b], 'both').script).toBe("echo 'a b' && grep a");
    expect(and([a, b], 'both').purpose).toBe('both');
    expect(seq([a, b]).purpose).toBe('say a, then filter');
    expect(pipe([and([a, a]), b]).script).toBe("{ echo 'a b' && echo 'a b'; } | grep a");
    expect(inDir('/opt/my dir', a).script).toBe("(cd -- '/opt/my dir' && echo 'a b')");
    expect(redirect(a, '/tmp/x y', { append: true, mergeStderr: true }).script).toBe(
      "echo 'a b' >> '/tmp/x y' 2>&1",
    );
    expect(redirect(a, '/dev/null', { fd: 2 }).script).toBe("echo 'a b' 2> /dev/null");
    expect(withEnv({ LANG: 'C' }, a).script).toBe("LANG=C echo 'a b'");
    expect(withEnv({ A: 'x y' }, pipe([a, b])).script).toBe("(export A='x y' && { echo 'a b' | grep a; })");
  });
  it('runs composed scripts with shell semantics', () => {
    const out = run(
      '/bin/sh',
      seq([
        or([shell(['false'], 'fail'), shell(['echo', 'recovered'], 'recover')]),
        withEnv({ X: '$(id)' }, sh('print X')`printf '%s\\n' "$X"`),
        inDir('/', shell(['pwd'], 'where')),
        shell(['pwd'], 'where again'),
      ]).script,
    ).toString();
    const lines = out.trim().split('\n');
    expect(lines.slice(0, 3)).toEqual(['recovered', '$(id)', '/']);
    expect(lines[3]).not.toBe('/'); // the cd stayed in its subshell (cwd of the test is the repo)
  });
  it('rejects bad input', () => {
    expect(() => shell([], 'nothing')).toThrow(/empty argv/);
    expect(() => withEnv({ 'A;B': 'x' }, a)).toThrow(ValidationError);
    expect(() => and([])).toThrow();
  });
});

describe('validated()', () => {
  it('passes good values through', () => {
    expect(validated('HOST', '10.0.0.1', 'spec.nodes[0].address')).toBe('10.0.0.1');
    expect(validated('HOST', 'node-1.example.com', 'spec.nodes[0].address')).toBe('node-1.example.com');
    expect(validated('DEVICE', 'nvme0n1', 'spec.eraseDataDisks.devices[0]')).toBe('nvme0n1');
    expect(validated('PACKAGE', 'pitrix-ks-proxy-tag', 'spec.packages[0]')).toBe('pitrix-ks-proxy-tag');
  });
  it('names the field, the value and the fix', () => {
    expect(() => validated('HOST', '10.0.0.1;reboot', 'spec.nodes[2].address')).toThrow(
      'spec.nodes[2].address: "10.0.0.1;reboot" is not an IPv4 address or hostname; use a dotted quad',
    );
    try {
      validated('DEVICE', '-rf', 'spec.eraseDataDisks.devices[1]');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).field).toBe('spec.eraseDataDisks.devices[1]');
    }
  });
  it('rejects every hostile string that is not a clean value', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        for (const name of ['HOST', 'DEVICE', 'PACKAGE', 'NODE_ID', 'ZONE_ID', 'YAML_KEY_PATH'] as const) {
          let ok = true;
          try {
            validated(name, s, 'f');
          } catch {
            ok = false;
          }
          if (ok) expect(s).toMatch(/^[A-Za-z0-9_.+:-]+$/);
          if (ok) expect(s.startsWith('-')).toBe(false);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
