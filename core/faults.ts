import type { Config } from './config.js';

/**
 * Fault points for the crash tests: the process kills itself with SIGKILL at the point
 * HOOKLINE_TEST_CRASH_AT names, exactly where a real crash would hurt most. Never set in
 * production; with it empty, a point costs one string comparison.
 */
export type CrashPoint = 'publish.claimed';

export function crashPoint(config: Pick<Config, 'crashAt'>, point: CrashPoint): void {
  if (config.crashAt === point) process.kill(process.pid, 'SIGKILL');
}
