/**
 * What PostgreSQL spends on a bench cell (BENCH_PROFILE=1, see bench-database.ts): statements by total execution
 * time (pg_stat_statements, nested statements included, so trigger bodies show), wait events sampled every 10 ms
 * from pg_stat_activity (a backend "idle in transaction" is waiting for the client: a round trip), CPU of the server's
 * processes against the bench process and the machine, rows written per table (and how many updates were HOT), WAL
 * and commits. Numbers are per cell: counters are read before and after it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

interface Snapshot {
  statements: Map<string, StatementRow>;
  tables: Map<string, TableRow>;
  database: Record<string, number>;
  wal: Record<string, number>;
  serverTicks: number;
  machine: { busy: number; total: number };
  node: NodeJS.CpuUsage;
  at: number;
}

interface StatementRow {
  query: string;
  calls: number;
  plans: number;
  plan_ms: number;
  total_ms: number;
  rows: number;
  wal_bytes: number;
  blks_hit: number;
  blks_dirtied: number;
}

interface TableRow {
  ins: number;
  upd: number;
  hot: number;
  /** Row versions dead and not yet vacuumed, now (not a counter). */
  dead: number;
  autovacuums: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function machineTicks(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - cpu[3] - (cpu[4] ?? 0), total };
}

/** utime + stime of the postmaster and its children (backends, WAL writer, checkpointer...), live or exited, in ticks. */
function serverTicks(postmasterPid: number | null): number {
  if (postmasterPid === null) return 0;
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(join('/proc', entry, 'stat'), 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    const ppid = Number(fields[1]);
    if (ppid === postmasterPid) ticks += Number(fields[11]) + Number(fields[12]);
    // The postmaster's own time, and that of the children it has reaped: a backend that exits (a pool closing an idle
    // connection) would otherwise take its whole CPU time with it, and the server's total would go down.
    if (pid === postmasterPid) ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return ticks;
}

/**
 * CPU time spent by the bench process and by the embedded server's processes over a stretch of the bench: on a shared
 * machine, CPU milliseconds per step move far less with other load than steps per second do.
 */
export class CpuMeter {
  private readonly postmasterPid: number | null;
  private node = 0;
  private server = 0;

  /** `nodePid`: the Baton process to measure (absent: this one). */
  constructor(
    serverDir: string | null,
    private readonly nodePid?: number,
  ) {
    this.postmasterPid = serverDir ? Number(readFileSync(join(serverDir, 'postmaster.pid'), 'utf8').split('\n')[0]) : null;
  }

  private nodeMs(): number {
    if (this.nodePid === undefined) {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1000;
    }
    return (processTicks(this.nodePid) * 1000) / TICKS_PER_SECOND;
  }

  start(): void {
    this.node = this.nodeMs();
    this.server = serverTicks(this.postmasterPid);
  }

  /** CPU milliseconds since start: the Baton process, and the server (NaN on DATABASE_URL's server). */
  stop(): { nodeMs: number; serverMs: number } {
    return {
      nodeMs: this.nodeMs() - this.node,
      serverMs: this.postmasterPid === null ? NaN : ((serverTicks(this.postmasterPid) - this.server) * 1000) / TICKS_PER_SECOND,
    };
  }
}

/** utime + stime of one process, in ticks. */
function processTicks(pid: number): number {
  const stat = readFileSync(join('/proc', String(pid), 'stat'), 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

export class PgProfile {
  private readonly client: pg.Client;
  private readonly postmasterPid: number | null;
  private before: Snapshot | null = null;
  private sampler: NodeJS.Timeout | null = null;
  private sampling = false;
  private readonly waits = new Map<string, number>();
  private samples = 0;

  constructor(url: string, serverDir: string | null) {
    this.client = new pg.Client({ connectionString: url, application_name: 'bench-profile' });
    this.postmasterPid = serverDir ? Number(readFileSync(join(serverDir, 'postmaster.pid'), 'utf8').split('\n')[0]) : null;
  }

  async open(): Promise<void> {
    await this.client.connect();
  }

  async close(): Promise<void> {
    await this.client.end();
  }

  async start(): Promise<void> {
    this.waits.clear();
    this.samples = 0;
    this.before = await this.snapshot();
    this.sampler = setInterval(() => void this.sample(), 10);
  }

  /** Stops sampling and returns the cell's report as text. */
  async stop(): Promise<string> {
    if (this.sampler) clearInterval(this.sampler);
    while (this.sampling) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, 1100)); // backends flush table and WAL statistics at most once a second
    const after = await this.snapshot();
    return this.report(this.before as Snapshot, after);
  }

  private async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const { rows } = await this.client.query<{ key: string }>(
        `SELECT CASE WHEN state = 'active' THEN coalesce(wait_event_type || ':' || wait_event, 'CPU (active, no wait)')
                     WHEN state = 'idle in transaction' THEN 'idle in transaction (waiting for the client)'
                     ELSE coalesce(state, backend_type) || coalesce(' ' || wait_event, '') END AS key
           FROM pg_stat_activity
          WHERE pid <> pg_backend_pid() AND (datname = current_database() OR backend_type <> 'client backend')
            AND NOT (state = 'idle' AND backend_type = 'client backend')
            AND backend_type NOT IN ('autovacuum launcher', 'logical replication launcher', 'archiver')`,
      );
      this.samples++;
      for (const { key } of rows) this.waits.set(key, (this.waits.get(key) ?? 0) + 1);
    } catch {
      // a sample lost is no loss
    } finally {
      this.sampling = false;
    }
  }

  private async snapshot(): Promise<Snapshot> {
    const statements = new Map<string, StatementRow>();
    const { rows } = await this.client.query<StatementRow & { id: string }>(
      `SELECT queryid::text || ':' || toplevel::text AS id, query, calls::float8 AS calls, plans::float8 AS plans, total_plan_time AS plan_ms,
              total_exec_time AS total_ms, rows::float8 AS rows,
              wal_bytes::float8 AS wal_bytes, shared_blks_hit::float8 AS blks_hit, shared_blks_dirtied::float8 AS blks_dirtied
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    for (const row of rows) statements.set(row.id, row);
    const tables = new Map<string, TableRow>();
    const t = await this.client.query<TableRow & { name: string }>(
      `SELECT relname AS name, n_tup_ins::float8 AS ins, n_tup_upd::float8 AS upd, n_tup_hot_upd::float8 AS hot,
              n_dead_tup::float8 AS dead, autovacuum_count::float8 AS autovacuums
         FROM pg_stat_user_tables`,
    );
    for (const row of t.rows) tables.set(row.name, row);
    const [database] = (
      await this.client.query(
        `SELECT xact_commit::float8 AS commits, xact_rollback::float8 AS rollbacks, deadlocks::float8 AS deadlocks, blks_read::float8 AS blks_read
           FROM pg_stat_database WHERE datname = current_database()`,
      )
    ).rows;
    const [wal] = (
      await this.client.query(`SELECT wal_records::float8 AS records, wal_fpi::float8 AS fpi, wal_bytes::float8 AS bytes FROM pg_stat_wal`)
    ).rows;
    const fsyncs = await this.client
      .query(
        `SELECT coalesce(sum(fsyncs), 0)::float8 AS fsyncs, coalesce(sum(fsync_time), 0)::float8 AS fsync_ms FROM pg_stat_io WHERE object = 'wal'`,
      )
      .then((r) => r.rows[0] as Record<string, number>)
      .catch(() => ({}) as Record<string, number>);
    return {
      statements,
      tables,
      database,
      wal: { ...wal, ...fsyncs },
      serverTicks: serverTicks(this.postmasterPid),
      machine: machineTicks(),
      node: process.cpuUsage(),
      at: Date.now(),
    };
  }

  private report(a: Snapshot, b: Snapshot): string {
    const seconds = (b.at - a.at) / 1000;
    const lines: string[] = [];
    const commits = b.database.commits - a.database.commits;
    const node = process.cpuUsage(a.node);
    const nodeCpu = (node.user + node.system) / 1e6;
    const serverCpu = (b.serverTicks - a.serverTicks) / TICKS_PER_SECOND;
    const machineBusy = (b.machine.busy - a.machine.busy) / Math.max(1, b.machine.total - a.machine.total);
    lines.push(
      `  cpu over ${seconds.toFixed(1)} s (incl. 1.1 s idle flush wait): postgres ${((serverCpu / seconds) * 100).toFixed(0)}% of a core, ` +
        `bench process ${((nodeCpu / seconds) * 100).toFixed(0)}%, machine ${(machineBusy * 100).toFixed(0)}% busy (all processes, both cores)`,
    );
    lines.push(
      `  commits ${commits} (${(commits / seconds).toFixed(0)}/s), rollbacks ${b.database.rollbacks - a.database.rollbacks}, deadlocks ${b.database.deadlocks - a.database.deadlocks}; ` +
        `WAL ${((b.wal.bytes - a.wal.bytes) / Math.max(1, commits)).toFixed(0)} B/commit, ${((b.wal.records - a.wal.records) / Math.max(1, commits)).toFixed(1)} records/commit, ` +
        `${b.wal.fpi - a.wal.fpi} full-page images` +
        (b.wal.fsyncs !== undefined
          ? `, ${b.wal.fsyncs - a.wal.fsyncs} WAL fsyncs (${(b.wal.fsync_ms - a.wal.fsync_ms).toFixed(0)} ms)`
          : ''),
    );
    const stmts = [...b.statements].map(([id, s]) => {
      const p = a.statements.get(id);
      return {
        query: s.query,
        calls: s.calls - (p?.calls ?? 0),
        plans: s.plans - (p?.plans ?? 0),
        planMs: s.plan_ms - (p?.plan_ms ?? 0),
        ms: s.total_ms - (p?.total_ms ?? 0),
        rows: s.rows - (p?.rows ?? 0),
        wal: s.wal_bytes - (p?.wal_bytes ?? 0),
        hit: s.blks_hit - (p?.blks_hit ?? 0),
        dirtied: s.blks_dirtied - (p?.blks_dirtied ?? 0),
        top: id.endsWith(':true'),
      };
    });
    const top = stmts.filter((s) => s.top && s.calls > 0);
    const totalMs = top.reduce((n, s) => n + s.ms, 0);
    lines.push(
      `  statements (top level): ${top.reduce((n, s) => n + s.calls, 0)} calls, ${totalMs.toFixed(0)} ms executing (${((totalMs / 1000 / seconds) * 100).toFixed(0)}% of a core)`,
    );
    const planned = top.reduce((n, s) => n + s.plans, 0);
    lines.push(
      `  planning (statements planned again on a call: custom plans): ${planned} plans, ${top.reduce((n, s) => n + s.planMs, 0).toFixed(0)} ms`,
    );
    lines.push('    total ms  share    calls  ms/call plans/call plan ms rows/call blks/call WAL B/call  statement');
    const shown = [
      ...top.sort((x, y) => y.ms - x.ms).slice(0, 16),
      ...stmts
        .filter((x) => !x.top && x.calls > 0)
        .sort((x, y) => y.ms - x.ms)
        .slice(0, 6),
    ];
    for (const s of shown) {
      const text = s.query.replace(/\s+/g, ' ').slice(0, 110);
      lines.push(
        `    ${s.ms.toFixed(0).padStart(8)} ${(((s.ms / Math.max(1, totalMs)) * 100).toFixed(1) + '%').padStart(6)} ${String(s.calls).padStart(8)} ` +
          `${(s.ms / s.calls).toFixed(3).padStart(8)} ${(s.plans / s.calls).toFixed(2).padStart(10)} ${s.planMs.toFixed(0).padStart(7)} ` +
          `${(s.rows / s.calls).toFixed(1).padStart(9)} ${((s.hit + s.dirtied) / s.calls).toFixed(1).padStart(9)} ` +
          `${(s.wal / s.calls).toFixed(0).padStart(10)}  ${s.top ? '' : '(nested) '}${text}`,
      );
    }
    const waits = [...this.waits].sort((x, y) => y[1] - x[1]);
    lines.push(`  backend states, ${this.samples} samples (average backends in each state):`);
    for (const [key, n] of waits.slice(0, 12)) lines.push(`    ${(n / Math.max(1, this.samples)).toFixed(2).padStart(6)}  ${key}`);
    const tables = [...b.tables]
      .map(([name, t]) => {
        const p = a.tables.get(name);
        return {
          name,
          ins: t.ins - (p?.ins ?? 0),
          upd: t.upd - (p?.upd ?? 0),
          hot: t.hot - (p?.hot ?? 0),
          dead: t.dead,
          autovacuums: t.autovacuums - (p?.autovacuums ?? 0),
        };
      })
      .filter((t) => t.ins + t.upd > 0)
      .sort((x, y) => y.ins + y.upd - (x.ins + x.upd));
    lines.push(
      `  rows written (per commit): ` +
        tables
          .map(
            (t) =>
              `${t.name} ins ${(t.ins / Math.max(1, commits)).toFixed(2)} upd ${(t.upd / Math.max(1, commits)).toFixed(2)} (HOT ${t.upd > 0 ? ((t.hot / t.upd) * 100).toFixed(0) : '-'}%)`,
          )
          .join('; '),
    );
    lines.push(
      `  dead row versions at the end (autovacuums during the cell): ` +
        tables
          .filter((t) => t.dead > 0 || t.autovacuums > 0)
          .map((t) => `${t.name} ${t.dead} (${t.autovacuums})`)
          .join('; '),
    );
    return lines.join('\n');
  }
}
