import type { Logger } from '../core/logger.js';

/**
 * Registers declared topics in the registry's catalogue (POST /v1/topics). A topic that
 * exists already (409) is done; an unreachable registry is retried with backoff, in the
 * background, so publishing never waits for it.
 */
export function createTopicRegistrar(opts: {
  url: string;
  token: string;
  log: Logger;
  maxDelayMs?: number;
}) {
  const done = new Set<string>();
  const inFlight = new Map<string, Promise<void>>();
  let stopped = false;
  const maxDelay = opts.maxDelayMs ?? 30_000;

  async function register(topic: string, description: string): Promise<void> {
    let delay = 250;
    while (!stopped) {
      try {
        const res = await fetch(`${opts.url}/v1/topics`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          },
          body: JSON.stringify({ name: topic, description }),
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        if (res.status === 201 || res.status === 409) {
          done.add(topic);
          if (res.status === 201) opts.log.info({ topic }, 'topic registered in the catalogue');
          return;
        }
        if (res.status === 401 || res.status === 403 || res.status === 422) {
          opts.log.error(
            { topic, status: res.status },
            'the registry refused the topic; check HOOKLINE_TOKEN and the topic name',
          );
          return;
        }
        opts.log.warn(
          { topic, status: res.status, retry_in_ms: delay },
          'topic registration failed; retrying',
        );
      } catch (err) {
        opts.log.warn(
          { topic, err: String(err), retry_in_ms: delay },
          'registry unreachable; retrying topic registration',
        );
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, maxDelay);
    }
  }

  return {
    ensure(topics: Iterable<string>, service: string): void {
      for (const t of topics) {
        if (done.has(t) || inFlight.has(t)) continue;
        const p = register(t, `published by ${service}`).finally(() => inFlight.delete(t));
        inFlight.set(t, p);
      }
    },
    isRegistered: (t: string) => done.has(t),
    async stop(): Promise<void> {
      stopped = true;
    },
  };
}
export type TopicRegistrar = ReturnType<typeof createTopicRegistrar>;
