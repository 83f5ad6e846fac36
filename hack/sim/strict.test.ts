import { describe, expect, it } from 'vitest';
import { firstboxTools } from './layout.js';
import { NAMED, strictRefusal } from './strict.js';

describe('simulator strict mode', () => {
  it('runs what the originals name, with the options they show', () => {
    expect(strictRefusal('describe-nodes.py', ['-s', 'new'])).toBeUndefined();
    expect(strictRefusal('exec_nodes.sh', ['hyper', 'supervisorctl status'])).toBeUndefined();
    expect(strictRefusal('django_manage.sh', ['rebuild_cache'])).toBeUndefined();
    expect(strictRefusal('config-qingcloud.py', ['-h'])).toBeUndefined();
    // Machine commands are real tools, not the installer's: never refused here.
    expect(strictRefusal('supervisorctl', ['status', '--bogus'])).toBeUndefined();
  });

  it('refuses an option the originals never show with usage and exit 2', () => {
    const r = strictRefusal('describe-nodes.py', ['-s', 'all', '-f', 'json']);
    expect(r?.code).toBe(2);
    expect(r?.message).toMatch(/^usage: describe-nodes\.py \[-h\] \[-s \.\.\.\]\n/);
    expect(r?.message).toContain('error: unrecognized arguments: -f');
    expect(strictRefusal('add-nodes.py', ['-I', 'LIST', '-z', 'pek3a'])?.code).toBe(2);
    expect(strictRefusal('django_manage.sh', ['check_default_password'])?.code).toBe(2);
  });

  it('answers 127 for a script the originals never name', () => {
    expect(strictRefusal('describe-zones.py', ['-f', 'json'])).toEqual({
      code: 127,
      message: 'sh: 1: describe-zones.py: not found',
    });
  });

  it('knows every firstbox tool it simulates as named or not', () => {
    const unnamed = firstboxTools('4.6.2')
      .map((p) => p.slice(p.lastIndexOf('/') + 1))
      .filter((n) => !NAMED[n]);
    // The simulator's own extras beyond the originals, each an ASSUMPTION of the operator's.
    expect(unnamed).toEqual(['describe-zones.py']);
  });
});
