import {
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
} from 'nats';
import type { Logger } from '../core/logger.js';
import type { ChangeEvent, EndpointDoc } from '../core/model.js';
import type { Mongo } from '../core/mongo.js';
import type { NatsNames } from '../core/nats.js';
import type { SecretBox } from '../core/secretbox.js';
import { secretKey } from '../core/signing.js';

/** Announcements applied together at most, their endpoints read in parallel. */
const CHANGE_BATCH = 256;

/** An endpoint as the dispatcher needs it: the secrets already decoded into keys. */
export interface LiveEndpoint {
  id: string;
  url: string;
  topics: string[];
  status: EndpointDoc['status'];
  rateLimit: number | null;
  failingSince: number | null;
  ownerId: string | null;
  headers: Record<string, string>;
  keys: Array<{ key: Buffer; expiresAt: number | null }>;
}

function toLive(e: EndpointDoc, box: SecretBox): LiveEndpoint {
  return {
    id: e._id,
    url: e.url,
    topics: e.topics,
    status: e.status,
    rateLimit: e.rate_limit,
    failingSince: e.failing_since?.getTime() ?? null,
    ownerId: e.owner_id ?? null,
    headers: e.headers ?? {},
    keys: e.secrets.map((s) => ({
      key: secretKey(box.open(s.secret)),
      expiresAt: s.expires_at?.getTime() ?? null,
    })),
  };
}

export function signingKeys(e: LiveEndpoint, now = Date.now()): Buffer[] {
  return e.keys.filter((k) => k.expiresAt === null || k.expiresAt > now).map((k) => k.key);
}

/**
 * topic → endpoints, in memory. Loaded from MongoDB at start, changed by the registry's
 * announcements at once, and reloaded every `resyncMs` in case an announcement was missed
 * (core NATS does not store them).
 */
export class SubscriptionCache {
  private byId = new Map<string, LiveEndpoint>();
  private byTopic = new Map<string, LiveEndpoint[]>();
  private changes: ConsumerMessages | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Reloads under way, and the endpoints changed meanwhile (see reload). */
  private reloading = 0;
  private touched = new Set<string>();
  /** The last change on the changes stream that this cache reflects. */
  private appliedSeq = 0;
  private waiters: Array<{ seq: number; resolve: () => void }> = [];

  constructor(
    private readonly mongo: Mongo,
    private readonly log: Logger,
    private readonly box: SecretBox,
  ) {}

  /**
   * Loads every endpoint, then follows the changes stream in order from the point the load
   * covered (a change applied twice is harmless: it re-reads the endpoint).
   */
  async start(
    js: JetStreamClient,
    jsm: JetStreamManager,
    names: NatsNames,
    resyncMs: number,
  ): Promise<void> {
    const info = await jsm.streams.info(names.changesStream);
    await this.reload();
    this.appliedSeq = info.state.last_seq;
    const consumer = await js.consumers.get(names.changesStream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: info.state.last_seq + 1,
    });
    const changes = await consumer.consume();
    this.changes = changes;
    // Changes that arrive while others are being applied are applied together: a burst of
    // announcements (thousands of endpoints created at once) costs parallel reads, not one
    // read after another.
    const waiting: Array<{ seq: number; data: string }> = [];
    let draining = false;
    const drain = async () => {
      draining = true;
      while (waiting.length > 0) {
        const batch = waiting.splice(0, CHANGE_BATCH);
        try {
          await this.applyAll(batch.map((m) => JSON.parse(m.data) as ChangeEvent));
        } catch (err) {
          this.log.warn({ err }, 'could not apply subscription changes; the next resync will');
        }
        this.advance(batch.at(-1)?.seq ?? 0);
      }
      draining = false;
    };
    void (async () => {
      for await (const m of changes) {
        waiting.push({ seq: m.seq, data: m.string() });
        if (!draining) void drain();
      }
    })();
    this.timer = setInterval(() => {
      this.reload().catch((e: unknown) => this.log.warn({ err: e }, 'subscription resync failed'));
    }, resyncMs);
    this.timer.unref();
  }

  stop(): void {
    this.changes?.stop();
    this.changes = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  private advance(seq: number): void {
    if (seq <= this.appliedSeq) return;
    this.appliedSeq = seq;
    const ready = this.waiters.filter((w) => w.seq <= seq);
    this.waiters = this.waiters.filter((w) => w.seq > seq);
    for (const w of ready) w.resolve();
  }

  /**
   * Resolves once the change with sequence `seq` (and all before it) is applied. After
   * `timeoutMs` it reloads everything from MongoDB instead, which covers it as well.
   */
  async caughtUp(seq: number, timeoutMs = 2000): Promise<void> {
    if (seq <= this.appliedSeq) return;
    let timer: NodeJS.Timeout | undefined;
    const applied = new Promise<boolean>((resolve) =>
      this.waiters.push({ seq, resolve: () => resolve(true) }),
    );
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const inTime = await Promise.race([applied, late]);
    clearTimeout(timer);
    if (!inTime) {
      this.log.warn(
        { seq, applied: this.appliedSeq },
        'subscription changes are late; reloading from MongoDB',
      );
      await this.reload();
      this.advance(seq);
    }
  }

  /**
   * Reads every endpoint and replaces the cache with them. Changes applied while the read
   * runs may be newer than what it returns, and the cache would lose them for good (their
   * announcements count as applied): the endpoints they named are read again afterwards.
   * Seen in the bench: a resync that fell during the creation of 10,000 endpoints left
   * each dispatcher some 500 short until the next one, a minute later.
   */
  async reload(): Promise<void> {
    this.reloading++;
    try {
      const docs = await this.mongo.col.endpoints.find({}).toArray();
      const byId = new Map<string, LiveEndpoint>();
      for (const d of docs) byId.set(d._id, toLive(d, this.box));
      this.byId = byId;
      this.rebuildTopics();
    } finally {
      this.reloading--;
    }
    if (this.reloading > 0 || this.touched.size === 0) return;
    const ids = [...this.touched];
    this.touched.clear();
    await this.applyAll(ids.map((id) => ({ kind: 'endpoint', op: 'upsert', id }) as const));
  }

  /**
   * Applies changes in the order announced. Each endpoint named is read once, all in
   * parallel (a read gives its state now, which already includes every change announced
   * before); a resync reads everything, which covers the rest of the batch.
   */
  async applyAll(changes: readonly ChangeEvent[]): Promise<void> {
    if (changes.some((c) => c.kind === 'resync')) return this.reload();
    const ids = [
      ...new Set(
        changes.flatMap((c) => (c.kind === 'endpoint' && c.op === 'upsert' ? [c.id] : [])),
      ),
    ];
    const docs = await Promise.all(ids.map((id) => this.mongo.col.endpoints.findOne({ _id: id })));
    const found = new Map(ids.map((id, i) => [id, docs[i]]));
    for (const c of changes) {
      if (c.kind !== 'endpoint') continue;
      const doc = c.op === 'delete' ? null : found.get(c.id);
      this.put(c.id, doc ? toLive(doc, this.box) : null);
    }
  }

  /** Endpoints that receive new events of a topic: active ones only. */
  forTopic(topic: string): readonly LiveEndpoint[] {
    return this.byTopic.get(topic) ?? [];
  }

  /** The cached endpoint, or a fresh read when this dispatcher has not heard of it yet. */
  async get(id: string): Promise<LiveEndpoint | undefined> {
    const hit = this.byId.get(id);
    if (hit) return hit;
    const doc = await this.mongo.col.endpoints.findOne({ _id: id });
    if (!doc) return undefined;
    const live = toLive(doc, this.box);
    this.put(id, live);
    return live;
  }

  /** The cached endpoint, without reading the store. */
  peek(id: string): LiveEndpoint | undefined {
    return this.byId.get(id);
  }

  /** Marks an endpoint disabled locally at once, before the announcement comes back. */
  markDisabled(id: string): void {
    const e = this.byId.get(id);
    if (e) this.put(id, { ...e, status: 'disabled' });
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * Replaces (or, with null, removes) one endpoint and updates only its topics' lists, so
   * an announcement costs the size of those lists, not of the whole cache. Lists are
   * replaced rather than changed in place: a fan-out iterating one is not disturbed.
   */
  private put(id: string, next: LiveEndpoint | null): void {
    if (this.reloading > 0) this.touched.add(id);
    const prev = this.byId.get(id);
    if (prev?.status === 'active') {
      for (const t of prev.topics) {
        const rest = (this.byTopic.get(t) ?? []).filter((e) => e.id !== id);
        if (rest.length > 0) this.byTopic.set(t, rest);
        else this.byTopic.delete(t);
      }
    }
    if (next === null) {
      this.byId.delete(id);
      return;
    }
    this.byId.set(id, next);
    if (next.status === 'active') {
      for (const t of next.topics) this.byTopic.set(t, [...(this.byTopic.get(t) ?? []), next]);
    }
  }

  private rebuildTopics(): void {
    const byTopic = new Map<string, LiveEndpoint[]>();
    for (const e of this.byId.values()) {
      if (e.status !== 'active') continue;
      for (const t of e.topics) {
        const list = byTopic.get(t);
        if (list) list.push(e);
        else byTopic.set(t, [e]);
      }
    }
    this.byTopic = byTopic;
  }
}
