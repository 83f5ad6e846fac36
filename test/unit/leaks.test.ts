import { describe, expect, it } from 'vitest';
import { findLeaks, needles } from '../helpers/leaks.js';

const KEY = [
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  'QyNTUxOQAAACBzbmFrZW9pbHNuYWtlb2lsc25ha2VvaWxzbmFrZW9pbAAAAJgAAAAAAAAA',
  '-----END OPENSSH PRIVATE KEY-----',
].join('\n');

describe('the suite leak check', () => {
  it('finds a password in an Event, raw or JSON-escaped, and names it masked', () => {
    const leaks = findLeaks(
      [
        { file: 'shown-1.txt', text: '{"message":"auth failed for pa\\"ss w0rd"}' },
        { file: 'shown-2.txt', text: 'nothing here' },
      ],
      ['pa"ss w0rd'],
    );
    expect(leaks).toEqual([{ file: 'shown-1.txt', secret: 'pa… (10 chars)' }]);
  });

  it('finds one line of a private key that leaked on its own', () => {
    const line = KEY.split('\n')[2]!;
    expect(findLeaks([{ file: 'shown-9.txt', text: `ssh said: ${line}` }], [KEY])).toHaveLength(1);
    // The armor lines are public knowledge, not the key.
    expect(needles(KEY).some((n) => n.includes('BEGIN'))).toBe(false);
  });

  it('reports nothing when no value is shown, and skips values too short to search', () => {
    expect(findLeaks([{ file: 'f', text: 'root ubuntu 2/2 Ready' }], ['n0t-default', 'abc'])).toEqual([]);
    expect(needles('abc')).toEqual([]);
  });
});
