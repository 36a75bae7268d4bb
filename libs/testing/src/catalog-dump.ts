/**
 * A deterministic description of the `public` schema, used to prove that migrations are reversible
 * (up, down to zero, up again gives the same schema) and that supabase/migrations matches them.
 * It lists what a migration can change (tables, columns, constraints, indexes, sequences, functions,
 * triggers, types), never data, and leaves out TypeORM's own bookkeeping table.
 */
import pg from 'pg';

/** TypeORM's bookkeeping: present only when migrations ran through TypeORM, so never part of the comparison. */
export const MIGRATIONS_TABLE = 'typeorm_migrations';

export interface CatalogColumn {
  name: string;
  type: string;
  nullable: boolean;
  default: string | null;
}

export interface CatalogTable {
  name: string;
  columns: CatalogColumn[];
  /** name -> pg_get_constraintdef */
  constraints: Record<string, string>;
  /** name -> pg_get_indexdef */
  indexes: Record<string, string>;
  /** name -> pg_get_triggerdef */
  triggers: Record<string, string>;
}

export interface CatalogDump {
  tables: CatalogTable[];
  /** name -> "type start increment owned_by" */
  sequences: Record<string, string>;
  /** signature -> pg_get_functiondef */
  functions: Record<string, string>;
  /** name -> kind and labels (enums, domains, composites created by migrations) */
  types: Record<string, string>;
}

type Rows<T> = Promise<T[]>;

async function rows<T>(client: pg.Client, sql: string, params: unknown[] = []): Rows<T> {
  return (await client.query(sql, params)).rows as T[];
}

function record(entries: { name: string; def: string }[]): Record<string, string> {
  return Object.fromEntries([...entries].sort((a, b) => a.name.localeCompare(b.name)).map((e) => [e.name, e.def]));
}

/** Reads the catalog of `url`'s public schema. Column order is kept (it is what `SELECT *` returns); everything else is sorted by name. */
export async function catalogDump(url: string): Promise<CatalogDump> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await rows<{ oid: number; name: string }>(
      client,
      `SELECT c.oid::int AS oid, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname <> $1 ORDER BY c.relname`,
      [MIGRATIONS_TABLE],
    );
    const result: CatalogDump = { tables: [], sequences: {}, functions: {}, types: {} };
    for (const table of tables) {
      const columns = await rows<CatalogColumn>(
        client,
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
                pg_get_expr(d.adbin, d.adrelid) AS default
           FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [table.oid],
      );
      const constraints = await rows<{ name: string; def: string }>(
        client,
        `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1`,
        [table.oid],
      );
      const indexes = await rows<{ name: string; def: string }>(
        client,
        `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE i.indrelid = $1`,
        [table.oid],
      );
      const triggers = await rows<{ name: string; def: string }>(
        client,
        `SELECT tgname AS name, pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal`,
        [table.oid],
      );
      result.tables.push({
        name: table.name,
        columns,
        constraints: record(constraints),
        indexes: record(indexes),
        triggers: record(triggers),
      });
    }
    const sequences = await rows<{ name: string; def: string }>(
      client,
      `SELECT s.sequencename AS name,
              concat_ws(' ', s.data_type, 'start', s.start_value, 'increment', s.increment_by, 'owned by',
                        coalesce(owner.relname || '.' || a.attname, 'none')) AS def
         FROM pg_sequences s
         JOIN pg_class c ON c.relname = s.sequencename
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
         LEFT JOIN pg_depend dep ON dep.objid = c.oid AND dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
         LEFT JOIN pg_class owner ON owner.oid = dep.refobjid
         LEFT JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
        WHERE s.schemaname = 'public' AND coalesce(owner.relname, '') <> $1`,
      [MIGRATIONS_TABLE],
    );
    result.sequences = record(sequences);
    const functions = await rows<{ name: string; def: string }>(
      client,
      `SELECT p.oid::regprocedure::text AS name, pg_get_functiondef(p.oid) AS def
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')`,
    );
    result.functions = record(functions);
    const types = await rows<{ name: string; def: string }>(
      client,
      `SELECT t.typname AS name,
              CASE t.typtype
                WHEN 'e' THEN 'enum ' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
                ELSE 'domain ' || format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
              END AS def
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')`,
    );
    result.types = record(types);
    return result;
  } finally {
    await client.end();
  }
}

/** The dump as stable, diff-friendly text (what tests compare, so a failure shows the differing lines). */
export function catalogText(dump: CatalogDump): string {
  const lines: string[] = [];
  for (const table of dump.tables) {
    lines.push(`table ${table.name}`);
    for (const c of table.columns)
      lines.push(`  column ${c.name} ${c.type}${c.nullable ? '' : ' NOT NULL'}${c.default === null ? '' : ` DEFAULT ${c.default}`}`);
    for (const [name, def] of Object.entries(table.constraints)) lines.push(`  constraint ${name} ${def}`);
    for (const [name, def] of Object.entries(table.indexes)) lines.push(`  index ${name} ${def}`);
    for (const [name, def] of Object.entries(table.triggers)) lines.push(`  trigger ${name} ${def}`);
  }
  for (const [name, def] of Object.entries(dump.sequences)) lines.push(`sequence ${name} ${def}`);
  for (const [name, def] of Object.entries(dump.functions))
    lines.push(
      `function ${name}`,
      ...def
        .trimEnd()
        .split('\n')
        .map((l) => `  | ${l}`),
    );
  for (const [name, def] of Object.entries(dump.types)) lines.push(`type ${name} ${def}`);
  return `${lines.join('\n')}\n`;
}
