const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `100ms`, `5s`, `5m`, `2h`, `1d` (and decimals such as `1.5s`) into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(text);
  if (!m) throw new Error(`"${text}" is not a duration (examples: 100ms, 5s, 5m, 2h, 1d)`);
  return Math.round(Number(m[1]) * (UNITS[m[2] as string] as number));
}

/** Parses a comma-separated schedule such as `5s,5m,30m`. An empty string means no retries. */
export function parseSchedule(text: string): number[] {
  if (text.trim() === '') return [];
  return text.split(',').map(parseDuration);
}

export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
