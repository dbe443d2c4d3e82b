/**
 * For Node services that log with pino: the fields that make a log line a hookline event,
 * in the sidecar's default conventions (`hookline.field=event`, `hookline.data=data`).
 *
 *   import { hooklineEvent } from 'hookline/tag';
 *   logger.info(hooklineEvent('book.created', book), 'book created');
 *   // {"level":30,"time":…,"event":"book.created","data":{…},"msg":"book created"}
 */
export function hooklineEvent<T>(
  topic: string,
  data: T,
  field = 'event',
  dataField = 'data',
): Record<string, unknown> {
  return { [field]: topic, [dataField]: data };
}
