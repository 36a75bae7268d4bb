/**
 * The engine's own connection pool: its hot path speaks SQL through `pg` directly (batched statements,
 * arrays as parameters), leaving TypeORM to the CRUD edges. Every engine transaction goes through `tx`, which
 * retries it (safe: a transaction either commits whole or not at all; an error answered to a statement or to COMMIT
 * means it did not commit): at once on deadlock and serialization failures, after a backoff when the database was
 * busy (a statement timeout, a full disk: isDatabaseBusy). A fault that outlasts the retries reaches the caller, which
 * retries in its own time (the worker's loops back off, the API answers 503); the fencing of results makes a
 * re-applied batch a no-op for what did commit.
 *
 * NOTIFY is sent after COMMIT, never inside the transaction: PostgreSQL serialises the commits of all
 * transactions that notify (a global lock held across the commit's WAL flush), which would cap the engine at
 * one commit per fsync. Notifications are wake-up hints (every listener also polls), so sending them just after
 * the commit loses nothing but a few milliseconds if the process dies in between. Bursts are coalesced, and new events
 * are announced to other instances at most every BATON_EVENTS_NOTIFY_MS (this process's own listeners hear at once):
 * one NOTIFY per commit cost a tenth of a chain's throughput (a transaction, and a wake-up of every listening backend
 * and process, each).
 *
 * Statements inside transactions are sent as named prepared statements (see `prepared`): the engine repeats a few
 * dozen statement texts, and PostgreSQL then parses and plans each once per connection instead of on every call.
 *
 * The connections run in pg's pipeline mode: statements issued without awaiting the previous one are written at
 * once and answered in order. The server still executes them one after another in the order sent, so a caller may
 * issue statements that do not need each other's results together (Promise.all) and pay one round trip for all;
 * BEGIN always travels with the transaction's first statements.
 */
import { Inject, Injectable, Optional, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { APP_CONFIG, type AppConfig } from '#config';
import { backoffDelayMs, faultPoint, type BackoffPolicy } from '#core';
import { EVENTS_CHANNEL, PgListener } from '#events';
import { DatabaseServer, isDatabaseBusy, statementName } from '#persistence';
import type { CommittedEvent, CommittedEventsObserver } from './committed-event.js';

export type Queryable = Pick<pg.PoolClient, 'query'>;

/** Deadlock and serialization failure: retried at once, up to MAX_ATTEMPTS in all. */
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 5;
/** A busy database: retried twice, after about 100 and 200 ms, before the caller hears of it. */
export const BUSY_RETRIES = 2;
const BUSY_BACKOFF: BackoffPolicy = { initialDelayMs: 100, maxDelayMs: 1000 };

const ignore = (): void => undefined;

function prepared(text: string, values: unknown[] | undefined): pg.QueryConfig | null {
  if (values === undefined) return null; // BEGIN, COMMIT and friends
  const name = statementName(text);
  return name === null ? null : { name, text, values };
}

interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * Holds back the connection's writes until the end of this turn of the event loop, then sends them in one write.
 * pg writes each statement with a syscall of its own; on loopback every write also runs the receiving side (and wakes
 * the server process), so statements issued together (a pipeline, the event append riding with COMMIT, BEGIN with the
 * first statements) cost one wake-up instead of one each. setImmediate runs in the same loop turn, after the I/O
 * callbacks being processed: the server gets the batch as soon as the process is done reacting to what it read.
 */
function batchingWrites(client: pg.PoolClient): () => void {
  const stream = (client as unknown as { connection?: { stream?: Partial<Corkable> } }).connection?.stream;
  if (typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function') return () => undefined;
  const socket = stream as Corkable;
  let held = false;
  const release = () => {
    held = false;
    socket.uncork();
  };
  return () => {
    if (held) return;
    held = true;
    socket.cork();
    setImmediate(release);
  };
}

/**
 * The transaction's connection as the engine's SQL sees it: every parameterized statement goes prepared, and the
 * statements issued in one turn of the event loop leave in one write.
 */
function preparing(client: pg.PoolClient, hold: () => void): Queryable {
  const query = (text: string | pg.QueryConfig, values?: unknown[]) => {
    hold();
    const config = typeof text === 'string' ? prepared(text, values) : null;
    return config ? client.query(config) : client.query(text as string, values);
  };
  return { query: query as Queryable['query'] };
}

const requested = new WeakMap<object, Set<string>>();

/** Registers a NOTIFY to send once the transaction of `client` commits (dropped if it rolls back). */
export function notifyAfterCommit(client: object, channel: string, payload = ''): void {
  let set = requested.get(client);
  if (!set) requested.set(client, (set = new Set()));
  set.add(`${channel}\u0000${payload}`);
}

/**
 * Awaits statements issued together on one transaction's connection (pipelined). When one fails, the transaction
 * is aborted and the ones after it fail too; the error thrown is that of the first in issue order, the cause.
 */
export async function together<T extends readonly unknown[] | []>(statements: T): Promise<{ -readonly [P in keyof T]: Awaited<T[P]> }> {
  const settled: PromiseSettledResult<unknown>[] = await Promise.allSettled(statements as readonly unknown[]);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as { -readonly [P in keyof T]: Awaited<T[P]> };
}

const owed = new WeakMap<object, Set<string>>();

/**
 * Records work the transaction of `client` must do before it commits (for example: settle the parent steps of the
 * child runs it ended). `tx` refuses to commit, rolling back, while any is owed: a forgotten follow-up is a loud bug,
 * never a parent step left waiting forever.
 */
export function owe(client: object, duty: string): void {
  let set = owed.get(client);
  if (!set) owed.set(client, (set = new Set()));
  set.add(duty);
}

export function discharge(client: object, duty: string): void {
  owed.get(client)?.delete(duty);
}

const appended = new WeakMap<object, CommittedEvent[]>();

/**
 * Registers events appended on the transaction of `client` (see appendEvents) for the observers of committed events:
 * they see them once COMMIT succeeded, never those of a transaction that rolled back (or retried).
 */
export function observeAfterCommit(client: object, events: CommittedEvent[]): void {
  if (events.length === 0) return;
  const list = appended.get(client);
  if (list) list.push(...events);
  else appended.set(client, [...events]);
}

const riding = new WeakMap<object, Promise<unknown>[]>();

const IN_FAILED_TRANSACTION = '25P02';

/**
 * The error that aborted a transaction: a statement awaited after a pipelined one that failed reports only "current
 * transaction is aborted"; the cause (a deadlock to retry, say) is the first pipelined statement that failed.
 */
function causeOf(thrown: unknown, riders: PromiseSettledResult<unknown>[]): unknown {
  if ((thrown as { code?: string } | null)?.code !== IN_FAILED_TRANSACTION) return thrown;
  const first = riders.find(
    (r): r is PromiseRejectedResult => r.status === 'rejected' && (r.reason as { code?: string } | null)?.code !== IN_FAILED_TRANSACTION,
  );
  return first ? first.reason : thrown;
}

/**
 * Lets statements whose results the transaction does not need travel with later ones instead of a round trip of their
 * own (the event append, with COMMIT; a batch's step updates, with the release of dependents): `tx` sends COMMIT right
 * behind them and fails (the server having turned the COMMIT into a ROLLBACK) if any of them failed; a statement that
 * failed because one of these aborted the transaction is reported as the one that did (see causeOf).
 */
export function commitWith(client: object, ...statements: Promise<unknown>[]): void {
  let list = riding.get(client);
  if (!list) riding.set(client, (list = []));
  for (const statement of statements) {
    statement.catch(() => undefined); // observed by tx; never an unhandled rejection
    list.push(statement);
  }
}

@Injectable()
export class EngineDatabase implements OnApplicationShutdown {
  readonly pool: pg.Pool;

  /**
   * The worker's own connections (claims, result lanes, heartbeats, reaping): a burst of API requests on the
   * general pool can never starve the worker of the connections it needs to finish work.
   */
  readonly workerPool: pg.Pool;

  private readonly observers = new Set<CommittedEventsObserver>();

  /** Least milliseconds between two NOTIFYs of a channel, by channel (others: none). */
  private readonly spacing: ReadonlyMap<string, number>;

  constructor(
    database: DatabaseServer,
    @Inject(APP_CONFIG) config: AppConfig,
    @Optional() private readonly listener?: PgListener,
  ) {
    this.spacing = new Map([[EVENTS_CHANNEL, config.eventsNotifyMs]]);
    // Every engine statement addresses rows through an index (ids, run ids, the ready and lease indexes). The planner
    // must not trade that for a sequential scan because statistics lag behind tables that grow and churn this fast
    // (a run row is rewritten several times per step): with prepared statements' generic plans it did, on runs and
    // steps, and chained steps ran at half speed; with seq scans off, 1.7x the original chain throughput (benchmarks.md).
    // And every statement keeps its generic plan: left to choose (plan_cache_mode=auto), PostgreSQL went on planning most
    // engine statements again on every call (custom plans: their generic plans' cost estimates, with seq scans off and
    // arrays as parameters, never looked better), about 0.5 ms of planning per chain step, a third of the server's CPU.
    const options = '-c enable_seqscan=off -c plan_cache_mode=force_generic_plan';
    // A connection that cannot be opened in time fails (and the caller retries or answers 503) rather than waits forever.
    const connectionTimeoutMillis = config.dbConnectTimeoutMs;
    this.pool = new pg.Pool({
      connectionString: database.url,
      max: config.enginePoolSize,
      application_name: 'baton-engine',
      pipeline: true,
      options,
      connectionTimeoutMillis,
    });
    this.workerPool = new pg.Pool({
      connectionString: database.url,
      max: config.workerPoolSize,
      application_name: 'baton-worker',
      pipeline: true,
      options,
      connectionTimeoutMillis,
    });
    // NOTIFYs go out on connections of their own, with synchronous_commit off: a notifying transaction gets an xid and a
    // commit record, and with synchronous commit it would wait for a WAL flush of its own, one fsync per wake-up hint.
    // Off, it is delivered at commit all the same (listeners check the commit, not the flush), and if the server
    // crashes before the flush the hint is lost, which every listener already survives by polling.
    this.notifier = new pg.Pool({
      connectionString: database.url,
      max: 1,
      application_name: 'baton-notify',
      options: '-c synchronous_commit=off',
      connectionTimeoutMillis,
    });
    for (const pool of [this.pool, this.workerPool, this.notifier]) pool.on('error', () => undefined); // idle client errors surface on the next query
  }

  /** Connections that only send NOTIFYs (see the constructor). */
  private readonly notifier: pg.Pool;

  /**
   * Calls `observer` with the events of every transaction of this process that commits (metrics, transition logs,
   * run spans), synchronously just after COMMIT. Returns the unsubscribe function. An observer's error is swallowed:
   * observing must never fail a transition that has committed.
   */
  onCommitted(observer: CommittedEventsObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  private publish(events: CommittedEvent[] | undefined): void {
    if (!events) return;
    for (const observer of this.observers) {
      try {
        observer(events);
      } catch {
        // an observer must not break the engine
      }
    }
  }

  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.pool.query<R>(sql, params)).rows;
  }

  async tx<T>(fn: (client: Queryable) => Promise<T>, pool: pg.Pool = this.pool): Promise<T> {
    let busy = 0;
    let wait = 0;
    for (let attempt = 1; ; attempt++) {
      // the backoff waits with no connection held
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      wait = 0;
      const client = await pool.connect();
      // A checked-out client has no error listener of the pool's: a connection dying mid-transaction would emit an
      // unhandled 'error' and crash the process. The failing statement reports it; the pool drops the dead client.
      client.on('error', ignore);
      const hold = batchingWrites(client);
      const statements = preparing(client, hold);
      hold();
      const begin = client.query('BEGIN');
      try {
        const result = await fn(statements);
        const unpaid = owed.get(statements);
        if (unpaid && unpaid.size > 0) throw new Error(`transaction left undone: ${[...unpaid].join(', ')}`);
        const fault = faultPoint('engine.tx.beforeCommit', client);
        if (fault) await fault;
        await together([begin, ...(riding.get(statements) ?? []), statements.query('COMMIT')]);
        riding.delete(statements);
        const notes = requested.get(statements);
        requested.delete(statements);
        for (const note of notes ?? []) this.send(note);
        const committed = appended.get(statements);
        appended.delete(statements);
        this.publish(committed);
        return result;
      } catch (thrown) {
        await begin.catch(() => undefined);
        const riders = await Promise.allSettled(riding.get(statements) ?? []);
        const error = causeOf(thrown, riders);
        riding.delete(statements);
        requested.delete(statements);
        owed.delete(statements);
        appended.delete(statements);
        await statements.query('ROLLBACK').catch(() => undefined);
        if (attempt < MAX_ATTEMPTS && RETRYABLE.has((error as { code?: string }).code ?? '')) continue;
        if (busy < BUSY_RETRIES && isDatabaseBusy(error)) {
          wait = backoffDelayMs(BUSY_BACKOFF, ++busy);
          continue;
        }
        throw error;
      } finally {
        client.off('error', ignore);
        client.release();
      }
    }
  }

  private readonly sending = new Map<string, boolean>();

  /** Wakes this process's listeners of the note's channel, and tells the other processes (see transmit). */
  private send(note: string): void {
    const [channel, payload] = note.split('\u0000');
    if (this.spacing.has(channel)) this.listener?.deliverLocally(channel, payload);
    this.transmit(note);
  }

  /**
   * One NOTIFY per key in flight, and per the channel's spacing; keys asked for meanwhile are sent once more after it
   * (coalescing bursts).
   */
  private transmit(note: string): void {
    if (this.sending.has(note)) {
      this.sending.set(note, true);
      return;
    }
    this.sending.set(note, false);
    const [channel, payload] = note.split('\u0000');
    const sentAt = Date.now();
    const done = () => {
      const again = this.sending.get(note);
      this.sending.delete(note);
      if (again) this.transmit(note);
    };
    this.notifier
      .query('SELECT pg_notify($1, $2)', [channel, payload])
      .catch(() => undefined)
      .finally(() => {
        const wait = (this.spacing.get(channel) ?? 0) - (Date.now() - sentAt);
        if (wait > 0) setTimeout(done, wait).unref();
        else done();
      });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.workerPool.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    await this.notifier.end().catch(() => undefined);
  }
}
