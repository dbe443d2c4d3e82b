// Background jobs (bulk retry): started, run and recorded by the registry that was asked;
// readable from any registry.
import type { Filter } from 'mongodb';
import { loadWithOutcome } from '../core/deliveries.js';
import { ApiError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { withDeadline } from '../core/lifecycle.js';
import type { FailedDoc, JobDoc } from '../core/model.js';
import type { RegistryDeps } from './context.js';
import { retryDelivery } from './retry.js';
import { type TimeRange, timeFilter } from './schemas.js';

/** Which failed deliveries a bulk retry takes. */
export interface RetryFilter {
  endpoint_id?: string;
  topic?: string;
  /** A subscriber's job takes only its own deliveries. */
  owner_id?: string;
  created?: TimeRange;
}

/** Retries of one job under way at once: enough to be quick, few enough to leave the store to others. */
const PARALLEL = 4;
/** Progress is written at most this often; a running job not written for STALE_MS was interrupted. */
const PROGRESS_MS = 500;
const STALE_MS = 60_000;
/** This many unexpected errors in a row (the store or NATS away) fail the job. */
const GIVE_UP_AFTER = 10;

/**
 * Background jobs, stored in `jobs` so that any registry can answer for them; the one that
 * started a job runs it and is the only one that writes it. Today one kind: a bulk retry of
 * failed deliveries, each retried exactly as `POST /v1/deliveries/{id}/retry` does
 * (registry/retry.ts). The deliveries are taken from `failed` (FailedDoc), which holds
 * only failed deliveries, so finding them reads nothing else.
 *
 * A registry that stops while its job runs marks it failed; one that dies leaves it
 * running, and readers report it failed once its progress is a minute old.
 */
export function createJobs(deps: RegistryDeps) {
  const { jobs, failed } = deps.mongo.col;
  const log = deps.log.child({ component: 'jobs' });
  const running = new Map<string, Promise<void>>();
  let stopping = false;

  async function startRetry(filter: RetryFilter): Promise<JobDoc> {
    const { created, ...fields } = filter;
    const f = { ...fields, ...timeFilter(created) } as Filter<FailedDoc>;
    const ids = (await failed.find(f, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
    const now = new Date();
    const job: JobDoc = {
      _id: newId('job'),
      kind: 'retry',
      status: ids.length === 0 ? 'done' : 'running',
      total: ids.length,
      done: 0,
      errors: 0,
      owner_id: filter.owner_id ?? null,
      filter: { ...fields, ...(created ?? {}) },
      error: null,
      created_at: now,
      updated_at: now,
      finished_at: ids.length === 0 ? now : null,
    };
    await jobs.insertOne(job);
    if (ids.length > 0) {
      const p = run(job, ids).finally(() => running.delete(job._id));
      running.set(job._id, p);
    }
    return job;
  }

  async function run(job: JobDoc, ids: string[]): Promise<void> {
    let done = 0;
    let errors = 0;
    let unexpected = 0;
    let next = 0;
    let written = Date.now();
    let failure: string | null = null;
    const progress = async () => {
      written = Date.now();
      await jobs.updateOne(
        { _id: job._id },
        { $set: { done, errors, updated_at: new Date(written) } },
      );
    };

    async function one(id: string): Promise<void> {
      try {
        const found = await loadWithOutcome(deps.mongo.col, id);
        if (!found || (job.owner_id !== null && found.delivery.owner_id !== job.owner_id)) {
          // Removed by the retention sweep since (or never this owner's): nothing to retry.
          errors++;
          return;
        }
        // Retried already (by hand, or by another job) and pending or succeeded since: its
        // entry in `failed` is stale.
        if (found.delivery.status !== 'failed') await failed.deleteOne({ _id: id });
        await retryDelivery(deps, found.delivery, found.outcome);
        unexpected = 0;
      } catch (err) {
        errors++;
        if (err instanceof ApiError) {
          unexpected = 0;
          return;
        }
        log.warn({ err, job_id: job._id, delivery_id: id }, 'a delivery of a bulk retry failed');
        if (++unexpected >= GIVE_UP_AFTER) failure = String((err as Error).message ?? err);
      }
    }

    const worker = async () => {
      while (!stopping && failure === null && next < ids.length) {
        const id = ids[next++] as string;
        await one(id);
        done++;
        if (Date.now() - written >= PROGRESS_MS) await progress().catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, ids.length) }, worker));
    if (failure === null && done < ids.length) failure = 'interrupted: the registry stopped';
    const now = new Date();
    try {
      await jobs.updateOne(
        { _id: job._id },
        {
          $set: {
            status: failure === null ? 'done' : 'failed',
            done,
            errors,
            error: failure,
            updated_at: now,
            finished_at: now,
          },
        },
      );
    } catch (err) {
      log.warn({ err, job_id: job._id }, 'could not record the end of a job');
    }
    log.info({ job_id: job._id, total: ids.length, done, errors, failure }, 'bulk retry ended');
  }

  return {
    startRetry,
    /** The job as it stands; a running one whose progress is a minute old was interrupted. */
    async get(id: string): Promise<JobDoc | null> {
      const doc = await jobs.findOne({ _id: id });
      if (doc?.status === 'running' && Date.now() - doc.updated_at.getTime() > STALE_MS)
        return { ...doc, status: 'failed', error: 'interrupted' };
      return doc;
    },
    /** Stops taking deliveries; jobs under way record where they stopped (bounded). */
    async close(): Promise<void> {
      stopping = true;
      await withDeadline(Promise.allSettled(running.values()), 5_000, []);
    },
  };
}
export type Jobs = ReturnType<typeof createJobs>;

export function jobView(j: JobDoc) {
  return {
    id: j._id,
    kind: j.kind,
    status: j.status,
    total: j.total,
    done: j.done,
    errors: j.errors,
    created_at: j.created_at.toISOString(),
    finished_at: j.finished_at ? j.finished_at.toISOString() : null,
  };
}
