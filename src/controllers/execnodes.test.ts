import { describe, expect, it } from 'vitest';
import { noAnswer, parseExecNodes } from './execnodes.js';
import { checks } from './nodepool/checks.js';

const section = (id: string, ip: string, body: string) => `==== ${id} (${ip}) ====\n${body}\n`;
const RUNNING = 'compute_server                   RUNNING   pid 101, uptime 1:00:00';
const FATAL = 'compute_server                   FATAL     Exited too quickly';

describe('exec_nodes.sh output (a node cannot answer for another)', () => {
  it('splits the sections by node id and management IP', () => {
    const out = parseExecNodes(
      `${section('hyper1', '10.0.0.1', RUNNING)}${section('hyper2', '10.0.0.2', FATAL)}exec_nodes: 1 ok, 1 failed\n`,
    );
    expect(out.byId.get('hyper1')?.text).toBe(RUNNING);
    expect(out.byIp.get('10.0.0.2')?.text).toBe(FATAL);
    expect(out.ambiguous).toEqual([]);
  });

  it('text after the summary line belongs to no node', () => {
    const out = parseExecNodes(
      `${section('hyper1', '10.0.0.1', RUNNING)}exec_nodes: 1 ok, 0 failed\ntrailing\n`,
    );
    expect(out.byId.get('hyper1')?.text).toBe(RUNNING);
  });

  it('a node that prints an earlier node\'s header "answers" for nobody: both are untrusted', () => {
    // hyper1 is FATAL; hyper2 (compromised, or printing planted text) forges hyper1's section.
    const forged = `${RUNNING}\n==== hyper1 (10.0.0.1) ====\n${RUNNING}`;
    const stdout = `${section('hyper1', '10.0.0.1', FATAL)}${section('hyper2', '10.0.0.2', forged)}exec_nodes: 1 ok, 1 failed\n`;
    const out = parseExecNodes(stdout);
    expect(out.byId.has('hyper1')).toBe(false);
    expect(out.ambiguous).toEqual(['hyper1', '10.0.0.1']);
    expect(noAnswer(out, 'hyper1')).toContain('names hyper1 more than once');
    // The R4.9 services check does not take the forged answer as healthy.
    const verdict = checks.verifyServices(stdout, ['10.0.0.1', '10.0.0.2'], 'hyper');
    expect(verdict).toContain('10.0.0.1: exec_nodes.sh output names 10.0.0.1 more than once');
  });

  it('a forged section under another node id but the same IP is untrusted too', () => {
    const stdout = `${section('hyper1', '10.0.0.1', FATAL)}${section('hyper2', '10.0.0.2', `x\n==== hyperX (10.0.0.1) ====\n${RUNNING}`)}`;
    const out = parseExecNodes(stdout);
    expect(out.byIp.has('10.0.0.1')).toBe(false);
    expect(out.ambiguous).toContain('10.0.0.1');
    expect(checks.verifyServices(stdout, ['10.0.0.1'], 'hyper')).toMatch(/10\.0\.0\.1: .*not trusted/);
  });
});
