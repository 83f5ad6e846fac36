import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixture } from '../../test/fixtures/facts/load.js';
import { FactsParseError } from './errors.js';
import { parseFirstboxOutput } from './firstbox.js';
import { PROBE_SECTIONS, parseProbeOutput } from './probe.js';

/** Anything but a FactsParseError escaping is a crash. */
function onlyParseErrors(run: () => unknown): boolean {
  try {
    run();
    return true;
  } catch (err) {
    if (err instanceof FactsParseError) return true;
    throw err;
  }
}

const sectionName = fc.constantFrom(
  ...PROBE_SECTIONS,
  'end',
  'nodes',
  'version',
  'zones',
  'constructor',
  '__proto__',
);
const junkLine = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    'MemTotal: 99999999999999999999 kB',
    '{"blockdevices":[{"name":"sda","children":{"x":1}}]}',
    '{"blockdevices":[null,{"name":"sda","size":-1,"rota":2}]}',
    'NAME="sda" TYPE="disk" SIZE="1e400"',
    'NAME="" TYPE=""',
    'x    RUNNING',
    '1: eth0    inet 999.1.1.1/99',
    'pitrix-x 1 install ok installed',
    'QEMU emulator version 9999999999999999999.1',
    '0',
    '-1',
    '{"action":"DescribeNodesResponse","ret_code":0,"node_set":[{}]}',
  ),
);
const framed = fc
  .array(fc.tuple(sectionName, fc.array(junkLine, { maxLength: 6 })), { maxLength: 16 })
  .map((parts) => parts.map(([s, lines]) => `@@pitrix:${s}@@\n${lines.join('\n')}`).join('\n'));

describe('parseProbeOutput never crashes', () => {
  it('on random text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 500 }), (s) => onlyParseErrors(() => parseProbeOutput(s))),
      {
        numRuns: 2000,
      },
    );
  });

  it('on random framed sections', () => {
    fc.assert(
      fc.property(
        framed,
        (s) => onlyParseErrors(() => parseProbeOutput(s)) && onlyParseErrors(() => parseFirstboxOutput(s)),
      ),
      { numRuns: 3000 },
    );
  });

  it('on real output with random damage', () => {
    const real = fixture('ubuntu-16.04-hyper.probe.txt');
    const damaged = fc
      .tuple(fc.nat({ max: real.length }), fc.nat({ max: 200 }), fc.string({ maxLength: 30 }))
      .map(([at, cut, insert]) => real.slice(0, at) + insert + real.slice(Math.min(real.length, at + cut)));
    fc.assert(
      fc.property(damaged, (s) => onlyParseErrors(() => parseProbeOutput(s))),
      { numRuns: 2000 },
    );
  });

  it('on real output with whole sections replaced by junk', () => {
    const real = fixture('ubuntu-14.04-hyper.probe.txt');
    const replaced = fc
      .array(fc.tuple(fc.constantFrom(...PROBE_SECTIONS), fc.array(junkLine, { maxLength: 5 })), {
        maxLength: 4,
      })
      .map((edits) =>
        edits.reduce((text, [section, lines]) => {
          const start = text.indexOf(`@@pitrix:${section}@@\n`) + `@@pitrix:${section}@@\n`.length;
          const end = text.indexOf('\n@@pitrix:', start);
          return text.slice(0, start) + lines.join('\n') + text.slice(end);
        }, real),
      );
    fc.assert(
      fc.property(replaced, (s) => onlyParseErrors(() => parseProbeOutput(s))),
      { numRuns: 3000 },
    );
  });

  it('still parses real output exactly', () => {
    expect(parseProbeOutput(fixture('ubuntu-16.04-hyper.probe.txt')).cpuCores).toBe(48);
  });
});
