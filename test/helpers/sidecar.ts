import { startSidecar } from '../../cli/server.js';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';

/**
 * A sidecar following one file as the service `books`, in process. With no registry at
 * `url` (the default answers nothing), topic registration retries in the background.
 */
export function startFileSidecar(opts: {
  natsUrl: string;
  namespace: string;
  path: string;
  topics: string;
  url?: string;
  token?: string;
}) {
  const config = loadConfig(
    {
      natsUrl: opts.natsUrl,
      namespace: opts.namespace,
      url: opts.url ?? 'http://127.0.0.1:9',
      ...(opts.token ? { token: opts.token } : {}),
      logLevel: process.env.HOOKLINE_TEST_LOG ?? 'silent',
    },
    {},
  );
  return startSidecar(config, createLogger(config.logLevel), {
    kind: 'file',
    path: opts.path,
    service: 'books',
    topics: opts.topics,
  });
}
