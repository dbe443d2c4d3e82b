import { isSystemTopic, isTopicName } from '../core/event.js';

/** How a service's log lines become events: from its labels, or from --flags. */
export interface Rules {
  service: string;
  topics: ReadonlySet<string>;
  /** In a JSON line, the field naming the topic. */
  field: string;
  /** The field holding the payload; when a line lacks it, the whole line is the payload. */
  dataField: string;
  /** For text lines: a regular expression with named groups `topic` and `data`. */
  pattern: RegExp | null;
}

export class RulesError extends Error {
  override name = 'RulesError';
}

export const LABEL = {
  enable: 'hookline.enable',
  service: 'hookline.service',
  topics: 'hookline.topics',
  field: 'hookline.field',
  data: 'hookline.data',
  pattern: 'hookline.pattern',
} as const;

/** The longest pattern accepted: a log label is no place for a program. */
const MAX_PATTERN = 1024;

export function rulesFrom(input: {
  service: string;
  topics: string | undefined;
  field?: string | undefined;
  data?: string | undefined;
  pattern?: string | undefined;
}): Rules {
  const topics = (input.topics ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (topics.length === 0)
    throw new RulesError(`service "${input.service}" declares no topics (${LABEL.topics})`);
  const bad = topics.filter((t) => !isTopicName(t));
  if (bad.length > 0)
    throw new RulesError(`service "${input.service}": invalid topic name(s) ${bad.join(', ')}`);
  const reserved = topics.filter(isSystemTopic);
  if (reserved.length > 0)
    throw new RulesError(
      `service "${input.service}": ${reserved.join(', ')} ${reserved.length > 1 ? 'are' : 'is'} hookline's own (${LABEL.topics})`,
    );
  let pattern: RegExp | null = null;
  if (input.pattern) {
    if (input.pattern.length > MAX_PATTERN)
      throw new RulesError(`${LABEL.pattern} is longer than ${MAX_PATTERN} characters`);
    try {
      pattern = new RegExp(input.pattern);
    } catch (err) {
      throw new RulesError(
        `${LABEL.pattern} is not a valid regular expression: ${(err as Error).message}`,
      );
    }
    if (!/\(\?<topic>/.test(input.pattern))
      throw new RulesError(`${LABEL.pattern} needs a named group (?<topic>…)`);
  }
  return {
    service: input.service,
    topics: new Set(topics),
    field: input.field || 'event',
    dataField: input.data || 'data',
    pattern,
  };
}

/** Rules from a container's labels, or null when the container is not enabled. */
export function rulesFromLabels(
  labels: Record<string, string>,
  containerName: string,
): Rules | null {
  if ((labels[LABEL.enable] ?? '').toLowerCase() !== 'true') return null;
  return rulesFrom({
    service: labels[LABEL.service] || containerName.replace(/^\//, ''),
    topics: labels[LABEL.topics],
    field: labels[LABEL.field],
    data: labels[LABEL.data],
    pattern: labels[LABEL.pattern],
  });
}
