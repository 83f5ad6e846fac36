import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../ssh/types.js';
import { completeOutput } from './complete.js';
import { FactsParseError } from './errors.js';

const result = (truncated: boolean): ExecResult => ({
  host: 'firstbox',
  purpose: 'describe nodes',
  exitCode: 0,
  signal: null,
  durationMs: 1,
  stdout: '{"nodes": [',
  stderr: '',
  truncated,
});

describe('completeOutput', () => {
  it('hands a complete output to the parser', () => {
    expect(completeOutput(result(false), 'node list')).toBe('{"nodes": [');
  });
  it('refuses a cut output instead of parsing it as if complete, naming the command and host', () => {
    expect(() => completeOutput(result(true), 'node list')).toThrow(FactsParseError);
    expect(() => completeOutput(result(true), 'node list')).toThrow(
      /node list: the output of "describe nodes" on firstbox was larger than the capture limit and was cut; it is not parsed as if complete/,
    );
  });
});
