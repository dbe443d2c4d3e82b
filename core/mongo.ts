import { type Collection, type Db, MongoClient } from 'mongodb';
import type {
  AttemptDoc,
  StoredDelivery,
  EndpointDoc,
  FailedDoc,
  IdempotencyDoc,
  JobDoc,
  MessageDoc,
  OutcomeDoc,
  PortalCodeDoc,
  PortalSessionDoc,
  PrincipalDoc,
  SettingDoc,
  StatsDoc,
  StatsWriterDoc,
  TopicDoc,
} from './model.js';

export interface Collections {
  topics: Collection<TopicDoc>;
  endpoints: Collection<EndpointDoc>;
  messages: Collection<MessageDoc>;
  idempotency: Collection<IdempotencyDoc>;
  deliveries: Collection<StoredDelivery>;
  outcomes: Collection<OutcomeDoc>;
  attempts: Collection<AttemptDoc>;
  settings: Collection<SettingDoc>;
  principals: Collection<PrincipalDoc>;
  portalCodes: Collection<PortalCodeDoc>;
  portalSessions: Collection<PortalSessionDoc>;
  failed: Collection<FailedDoc>;
  jobs: Collection<JobDoc>;
  stats: Collection<StatsDoc>;
  statsWriters: Collection<StatsWriterDoc>;
}

export interface Mongo {
  client: MongoClient;
  db: Db;
  col: Collections;
  close(): Promise<void>;
}

export async function connectMongo(url: string): Promise<Mongo> {
  const client = new MongoClient(url, {
    // While the store is away, an operation fails after this long instead of waiting for
    // it: a publish answers 503 within seconds, and dispatchers hand their work back to
    // JetStream to be tried again.
    serverSelectionTimeoutMS: 3_000,
    appName: 'hookline',
  });
  await client.connect();
  const db = client.db(); // the database named in the URL's path
  const col: Collections = {
    topics: db.collection('topics'),
    endpoints: db.collection('endpoints'),
    messages: db.collection('messages'),
    idempotency: db.collection('idempotency'),
    deliveries: db.collection('deliveries'),
    outcomes: db.collection('outcomes'),
    attempts: db.collection('attempts'),
    settings: db.collection('settings'),
    principals: db.collection('principals'),
    portalCodes: db.collection('portal_codes'),
    portalSessions: db.collection('portal_sessions'),
    failed: db.collection('failed'),
    jobs: db.collection('jobs'),
    stats: db.collection('stats'),
    statsWriters: db.collection('stats_writers'),
  };
  let closed: Promise<void> | null = null;
  return {
    client,
    db,
    col,
    close: () => {
      closed ??= client.close();
      return closed;
    },
  };
}

/**
 * Idempotent; every process runs it at start. Unique indexes everywhere. The others only
 * on MongoDB: FerretDB v1 answers every query but one by _id with a scan, so it never uses
 * them, and each one costs every insert (a third more per delivery, measured).
 */
export async function ensureIndexes(mongo: Pick<Mongo, 'db' | 'col'>): Promise<void> {
  const { col } = mongo;
  // Every collection exists from the start: on FerretDB the first write to a missing one
  // creates its table, which stalls the writes of that moment (measured: the first events
  // after a start took 100–380 ms instead of 10).
  const existing = new Set(
    (await mongo.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name),
  );
  for (const c of Object.values(col) as Collection[]) {
    if (existing.has(c.collectionName)) continue;
    await mongo.db.createCollection(c.collectionName).catch((err: unknown) => {
      if ((err as { codeName?: string }).codeName !== 'NamespaceExists') throw err;
    });
  }
  await Promise.all([
    col.topics.createIndex({ name: 1 }, { unique: true }),
    col.principals.createIndex({ key_hash: 1 }, { unique: true }),
  ]);
  if (await isFerretDB(mongo.db)) return;
  await Promise.all([
    col.topics.createIndex({ created_at: -1 }),
    col.endpoints.createIndex({ created_at: -1 }),
    col.messages.createIndex({ created_at: -1 }),
    col.messages.createIndex({ topic: 1, created_at: -1 }),
    col.idempotency.createIndex({ created_at: 1 }),
    col.deliveries.createIndex({ message_id: 1 }),
    col.deliveries.createIndex({ created_at: -1 }),
    col.deliveries.createIndex({ endpoint_id: 1, created_at: -1 }),
    col.attempts.createIndex({ delivery_id: 1, created_at: -1 }),
    col.outcomes.createIndex({ status: 1, created_at: -1 }),
    col.outcomes.createIndex({ endpoint_id: 1, created_at: -1 }),
    col.outcomes.createIndex({ message_id: 1 }),
    col.outcomes.createIndex({ owner_id: 1, created_at: -1 }),
    col.principals.createIndex({ kind: 1, created_at: -1 }),
    col.endpoints.createIndex({ owner_id: 1, created_at: -1 }),
    col.deliveries.createIndex({ owner_id: 1, created_at: -1 }),
    col.portalCodes.createIndex({ expires_at: 1 }),
    col.portalSessions.createIndex({ subscriber_id: 1 }),
    col.portalSessions.createIndex({ expires_at: 1 }),
    col.failed.createIndex({ owner_id: 1, created_at: -1 }),
    col.failed.createIndex({ endpoint_id: 1, created_at: -1 }),
    col.jobs.createIndex({ created_at: 1 }),
  ]);
}

/** FerretDB says so in buildInfo. */
export async function isFerretDB(db: Db): Promise<boolean> {
  const info = await db.admin().command({ buildInfo: 1 });
  return typeof info.ferretdbVersion === 'string';
}

export function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: number }).code === 11000;
}

/**
 * The positions of the documents an unordered insertMany refused as duplicates. Rethrows
 * anything that is not only duplicate keys.
 */
export function duplicateKeyIndexes(err: unknown): number[] {
  const raw = (err as { writeErrors?: unknown }).writeErrors;
  const list = (Array.isArray(raw) ? raw : raw ? [raw] : []) as Array<{
    code?: number;
    index?: number;
  }>;
  if (list.length === 0 || !list.every((e) => e.code === 11000)) throw err;
  return list.map((e) => e.index ?? -1).filter((i) => i >= 0);
}
