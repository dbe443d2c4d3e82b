import type { Collection, Document, Filter } from 'mongodb';
import { ApiError } from '../core/errors.js';

export interface Page {
  limit: number;
  before: string | null;
}

/** `?limit=` (default 50, at most 1000) and the opaque `?cursor=` of the previous page. */
export function pageParams(q: { limit?: string | undefined; cursor?: string | undefined }): Page {
  const limit = q.limit === undefined ? 50 : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new ApiError('invalid_request', 'limit must be a whole number from 1 to 1000');
  }
  let before: string | null = null;
  if (q.cursor !== undefined && q.cursor !== '') {
    before = Buffer.from(q.cursor, 'base64url').toString('utf8');
    if (!/^[a-z]+_[0-9A-Z]+$/.test(before))
      throw new ApiError('invalid_request', 'cursor is not valid');
  }
  return { limit, before };
}

/**
 * Newest first by `_id` (ids begin with a ULID, so they sort by time). Reads one more
 * than the page to know whether another page follows.
 */
export async function listPage<T extends Document & { _id: string }, V>(
  col: Collection<T>,
  filter: Filter<T>,
  page: Page,
  view: (doc: T) => V,
): Promise<{ data: V[]; next_cursor: string | null }> {
  const f = (page.before ? { ...filter, _id: { $lt: page.before } } : filter) as Filter<T>;
  const docs = (await col
    .find(f)
    .sort({ _id: -1 })
    .limit(page.limit + 1)
    .toArray()) as T[];
  const more = docs.length > page.limit;
  const pageDocs = more ? docs.slice(0, page.limit) : docs;
  const last = pageDocs[pageDocs.length - 1];
  return {
    data: pageDocs.map(view),
    next_cursor: more && last ? Buffer.from(last._id, 'utf8').toString('base64url') : null,
  };
}
