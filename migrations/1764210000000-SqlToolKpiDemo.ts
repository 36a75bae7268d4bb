import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The `sql-query` tool (tool agents such as supabase-agent) and the demo KPI data it reads.
 *
 * - Schema `kpi_demo`: the tables of the KPI tracking example (regions, KPIs with their unit and direction,
 *   quarterly values with the quarter's target, annual targets, revenue and cost by region). The rows are seeded by the seed runner, not here: migrations hold schema only.
 * - A role the tool switches to (`SET LOCAL ROLE` inside its read-only transaction) that may only SELECT those
 *   tables, so even a query text an admin wrote that tried to write, or to read another table, is refused by
 *   PostgreSQL itself. Roles are cluster-wide while tests (and some installs) keep several databases on one cluster,
 *   so the role's name is derived from the database's (`baton_sql_tool_role()`), its creation is idempotent, and
 *   `down()` drops only this database's role. The connecting user is made a member so it may switch to the role.
 */
const ROLE_FUNCTION = `CREATE FUNCTION baton_sql_tool_role() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT 'baton_sql_' || substr(md5(current_database()), 1, 16)
$$`;

const TABLES = ['regions', 'kpis', 'kpi_metrics', 'kpi_targets', 'revenue_by_region'];

export const SQL_TOOL_KPI_DEMO_UP = [
  ROLE_FUNCTION,
  `CREATE SCHEMA kpi_demo`,
  `CREATE TABLE kpi_demo.regions (
    code varchar(20) PRIMARY KEY,
    name text NOT NULL
  )`,
  `CREATE TABLE kpi_demo.kpis (
    metric varchar(50) PRIMARY KEY,
    name text NOT NULL,
    unit varchar(20) NOT NULL,
    higher_is_better boolean NOT NULL DEFAULT true
  )`,
  `CREATE TABLE kpi_demo.kpi_metrics (
    quarter varchar(7) NOT NULL CHECK (quarter ~ '^[0-9]{4}-Q[1-4]$'),
    region varchar(20) NOT NULL REFERENCES kpi_demo.regions (code),
    metric varchar(50) NOT NULL REFERENCES kpi_demo.kpis (metric),
    value numeric(16, 2) NOT NULL,
    target numeric(16, 2) NOT NULL,
    PRIMARY KEY (quarter, region, metric)
  )`,
  `CREATE TABLE kpi_demo.kpi_targets (
    year integer NOT NULL,
    region varchar(20) NOT NULL REFERENCES kpi_demo.regions (code),
    metric varchar(50) NOT NULL REFERENCES kpi_demo.kpis (metric),
    target numeric(16, 2) NOT NULL,
    PRIMARY KEY (year, region, metric)
  )`,
  `CREATE TABLE kpi_demo.revenue_by_region (
    quarter varchar(7) NOT NULL CHECK (quarter ~ '^[0-9]{4}-Q[1-4]$'),
    region varchar(20) NOT NULL REFERENCES kpi_demo.regions (code),
    revenue numeric(16, 2) NOT NULL,
    cost numeric(16, 2) NOT NULL,
    PRIMARY KEY (quarter, region)
  )`,
  `DO $$
  DECLARE
    reader text := baton_sql_tool_role();
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = reader) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT NOCREATEDB NOCREATEROLE', reader);
    END IF;
    EXECUTE format('GRANT %I TO CURRENT_USER', reader);
    EXECUTE format('GRANT USAGE ON SCHEMA kpi_demo TO %I', reader);
    EXECUTE format('GRANT SELECT ON ${TABLES.map((t) => `kpi_demo.${t}`).join(', ')} TO %I', reader);
  END $$`,
];

export const SQL_TOOL_KPI_DEMO_DOWN = [
  `DO $$
  DECLARE
    reader text := baton_sql_tool_role();
  BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = reader) THEN
      -- DROP OWNED revokes what the role holds in this database only; other databases have their own role.
      EXECUTE format('DROP OWNED BY %I', reader);
      EXECUTE format('DROP ROLE %I', reader);
    END IF;
  END $$`,
  `DROP SCHEMA kpi_demo CASCADE`,
  `DROP FUNCTION baton_sql_tool_role()`,
];

export class SqlToolKpiDemo1764210000000 implements MigrationInterface {
  name = 'SqlToolKpiDemo1764210000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of SQL_TOOL_KPI_DEMO_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of SQL_TOOL_KPI_DEMO_DOWN) await queryRunner.query(sql);
  }
}
