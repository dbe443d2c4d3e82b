import type { Rules } from './rules.js';

/** Longest line considered; longer ones are skipped and counted, never buffered whole. */
export const MAX_LINE_BYTES = 256 * 1024;

export type ParseResult =
  | { kind: 'event'; topic: string; data: unknown }
  | { kind: 'skip'; reason: 'not_tagged' | 'undeclared_topic' | 'malformed' | 'too_long' };

/**
 * One log line → an event, or the reason it is not one. Lines are hostile input: anything
 * unexpected is a skip, never an exception.
 */
export function parseLine(line: string, rules: Rules): ParseResult {
  if (line.length > MAX_LINE_BYTES) return { kind: 'skip', reason: 'too_long' };
  const trimmed = line.trim();
  if (trimmed === '') return { kind: 'skip', reason: 'not_tagged' };

  if (trimmed.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(trimmed);
    } catch {
      obj = undefined;
    }
    if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) {
      const record = obj as Record<string, unknown>;
      const topic = record[rules.field];
      if (typeof topic !== 'string')
        return rules.pattern
          ? matchPattern(trimmed, rules)
          : { kind: 'skip', reason: 'not_tagged' };
      if (!rules.topics.has(topic)) return { kind: 'skip', reason: 'undeclared_topic' };
      const data = Object.hasOwn(record, rules.dataField) ? record[rules.dataField] : record;
      return { kind: 'event', topic, data };
    }
  }
  if (rules.pattern) return matchPattern(trimmed, rules);
  return { kind: 'skip', reason: 'not_tagged' };
}

function matchPattern(line: string, rules: Rules): ParseResult {
  const m = (rules.pattern as RegExp).exec(line);
  const topic = m?.groups?.topic;
  if (!m || topic === undefined) return { kind: 'skip', reason: 'not_tagged' };
  if (!rules.topics.has(topic)) return { kind: 'skip', reason: 'undeclared_topic' };
  const raw = m.groups?.data;
  if (raw === undefined || raw === '') return { kind: 'event', topic, data: null };
  try {
    return { kind: 'event', topic, data: JSON.parse(raw) };
  } catch {
    return { kind: 'skip', reason: 'malformed' };
  }
}

/**
 * Splits a byte stream into lines, keeping the byte offset of each line's end so a
 * checkpoint can name exactly where reading resumes. A line longer than the limit is
 * dropped as it streams past (its bytes are counted, not kept).
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private overflow = false;
  /** Bytes consumed up to the end of the last complete line. */
  offset: number;

  constructor(startOffset = 0) {
    this.offset = startOffset;
  }

  push(chunk: Buffer, onLine: (line: string, endOffset: number, tooLong: boolean) => void): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      const tooLong = this.overflow || this.partBytes + piece.length > MAX_LINE_BYTES;
      const line = tooLong
        ? ''
        : Buffer.concat([...this.parts, piece])
            .toString('utf8')
            .replace(/\r$/, '');
      this.offset += this.partBytes + piece.length + 1;
      this.parts = [];
      this.partBytes = 0;
      this.overflow = false;
      onLine(line, this.offset, tooLong);
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length === 0) return;
    if (this.overflow || this.partBytes + rest.length > MAX_LINE_BYTES) {
      this.overflow = true;
      this.partBytes += rest.length;
      this.parts = [];
    } else {
      this.parts.push(Buffer.from(rest));
      this.partBytes += rest.length;
    }
  }

  /** Bytes of an unfinished line held (or skipped) so far. */
  get pending(): number {
    return this.partBytes;
  }
}
