import { defineConfig } from 'vitest/config';

// Two projects: `unit` is pure logic with no network (fast, parallel); `integration` starts real
// kube-apiserver/etcd/sshd processes per file. Integration files mostly wait on the simulator's
// clock, so two run side by side (the default worker count on this 2-core machine); each file's
// simulated hosts live in their own 127.77.<subnet>.0/24 (test/unit/subnets.test.ts checks it).
export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts', 'hack/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Keeps what every file showed and fails the run if a Secret's value is in it.
          globalSetup: ['./test/leakcheck.global.ts'],
          fileParallelism: true,
          maxWorkers: 2,
          testTimeout: 240_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
