import type { Collection, Document, Filter } from 'mongodb';
import { ApiError } from '../core/errors.js';

export interface Page {
  limit: number;
  /** The last item of the previous page: its creation time and id. */
  after: { at: Date; id: string } | null;
}

/** `?limit=` (default 50, at most 1000) and the opaque `?cursor=` of the previous page. */
export function pageParams(q: { limit?: string | undefined; cursor?: string | undefined }): Page {
  const limit = q.limit === undefined ? 50 : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new ApiError('invalid_request', 'limit must be a whole number from 1 to 1000');
  }
  if (q.cursor === undefined || q.cursor === '') return { limit, after: null };
  const bad = () =>
    new ApiError('invalid_request', 'cursor is not valid: pass next_cursor as given');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(q.cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parsed) || typeof parsed[0] !== 'number' || typeof parsed[1] !== 'string')
    throw bad();
  return { limit, after: { at: new Date(parsed[0]), id: parsed[1] } };
}

/**
 * Newest first: by creation time, then id (ids are unique, so the order is total and a
 * cursor never skips or repeats an item). Reads one more than the page to know whether
 * another page follows.
 */
export async function listPage<T extends Document & { _id: string; created_at: Date }, V>(
  col: Collection<T>,
  filter: Filter<T>,
  page: Page,
  view: (doc: T) => V,
): Promise<{ data: V[]; next_cursor: string | null }> {
  let f = filter;
  if (page.after) {
    const { at, id } = page.after;
    f = {
      ...filter,
      $or: [{ created_at: { $lt: at } }, { created_at: at, _id: { $lt: id } }],
    } as Filter<T>;
  }
  const docs = (await col
    .find(f)
    .sort({ created_at: -1, _id: -1 })
    .limit(page.limit + 1)
    .toArray()) as T[];
  const more = docs.length > page.limit;
  const pageDocs = more ? docs.slice(0, page.limit) : docs;
  const last = pageDocs[pageDocs.length - 1];
  return {
    data: pageDocs.map(view),
    next_cursor: more && last ? cursorOf(last) : null,
  };
}

/** The cursor of the page that follows this item. */
export function cursorOf(doc: { _id: string; created_at: Date }): string {
  return Buffer.from(JSON.stringify([doc.created_at.getTime(), doc._id])).toString('base64url');
}
