import { AgentError } from '../agent-error.js';
import { readSqlQueryConfig } from './sql-query.config.js';
import { checkSqlText, DEFAULT_ALLOWED_FUNCTIONS } from './sql-text.js';

const rules = { schema: 'kpi_demo', allowedTables: ['kpi_metrics', 'kpis'], allowedFunctions: DEFAULT_ALLOWED_FUNCTIONS, paramCount: 1 };
const refused = (sql: string) => {
  const result = checkSqlText(sql, rules);
  return 'problems' in result ? result.problems.join('; ') : null;
};

describe('sql-query: static check of query texts', () => {
  it('quotes and schema-qualifies allow-listed relations, keeping aliases, joins, CTEs and subqueries', () => {
    const checked = checkSqlText(
      'WITH q AS (SELECT metric, value FROM kpi_metrics WHERE quarter = $1) SELECT k.name, q.value FROM q JOIN kpis k ON k.metric = q.metric, (SELECT 1 AS one) s',
      rules,
    );
    expect(checked).toEqual({
      text: 'WITH q AS (SELECT metric, value FROM "kpi_demo"."kpi_metrics" WHERE quarter = $1) SELECT k.name, q.value FROM q JOIN "kpi_demo"."kpis" k ON k.metric = q.metric, (SELECT 1 AS one) s',
      tables: ['kpi_metrics', 'kpis'],
      maxParam: 1,
    });
    expect(checkSqlText('SELECT * FROM kpi_demo.kpis a, kpi_metrics b WHERE a.metric = b.metric', rules)).toMatchObject({
      tables: ['kpis', 'kpi_metrics'],
    });
  });

  it.each([
    ['SELECT * FROM users', /table users is not on the allow-list/],
    ['SELECT * FROM public.users', /schema public is not allowed/],
    ['SELECT * FROM pg_catalog.pg_authid', /schema pg_catalog/],
    ['SELECT * FROM kpis, pg_shadow', /table pg_shadow/],
    ['SELECT * FROM kpis JOIN information_schema.tables t ON true', /schema information_schema/],
    ["SELECT set_config($1, 'postgres', true)", /function set_config is not allowed/],
    ["SELECT pg_catalog.set_config('role', 'postgres', true)", /function set_config/],
    ["SELECT query_to_xml('select * from users', true, false, '')", /function query_to_xml/],
    ["SELECT pg_read_file('/etc/passwd')", /function pg_read_file/],
    ['SELECT pg_sleep(10)', /function pg_sleep/],
    ['SELECT * FROM kpis; DELETE FROM kpis', /one statement/],
    ['DELETE FROM kpis', /starts with SELECT|DELETE is not allowed/],
    ['WITH d AS (DELETE FROM kpis RETURNING *) SELECT * FROM d', /DELETE is not allowed/],
    ['SELECT * INTO copy_of FROM kpis', /INTO is not allowed/],
    ['SELECT * FROM kpis FOR UPDATE', /FOR is not allowed/],
    ['SELECT * FROM kpis -- comment', /comments/],
    ['SELECT * FROM kpis /* x */', /comments/],
    ['SELECT $$x$$ FROM kpis', /dollar quoting/],
    ["SELECT E'\\' ; DROP TABLE kpis' FROM kpis", /prefixed string literals/],
    ['SELECT * FROM "kpis"', /quoted identifiers/],
    ['SELECT * FROM kpis WHERE metric = $2', /\$2 is not a declared parameter/],
    ['SELECT * FROM kpis WHERE metric = $0', /\$0 is not a declared parameter/],
    ['TABLE kpis', /TABLE is not allowed|starts with SELECT/],
    ["SELECT * FROM kpis WHERE name = 'unterminated", /unterminated/],
  ])('refuses %s', (sql, reason) => {
    expect(refused(sql)).toMatch(reason);
  });

  it('leaves string literals inert (escaped quotes stay inside the literal)', () => {
    expect(checkSqlText("SELECT * FROM kpis WHERE name = 'it''s; DROP TABLE kpis'", rules)).toMatchObject({
      text: `SELECT * FROM "kpi_demo"."kpis" WHERE name = 'it''s; DROP TABLE kpis'`,
    });
  });
});

describe('sql-query: agent config', () => {
  const base = { allowedTables: ['kpis'], queries: { all: { sql: 'SELECT * FROM kpis' } } };
  const configError = (config: Record<string, unknown>) => {
    try {
      readSqlQueryConfig(config);
      return null;
    } catch (error) {
      expect(error).toBeInstanceOf(AgentError);
      expect((error as AgentError).retryable).toBe(false);
      expect((error as AgentError).code).toBe('INVALID_AGENT_CONFIG');
      return (error as AgentError).message;
    }
  };

  it('reads a valid config with defaults (schema kpi_demo, 1000 rows, 5 s)', () => {
    const config = readSqlQueryConfig(base);
    expect(config).toMatchObject({ schema: 'kpi_demo', maxRows: 1000, statementTimeoutMs: 5000, allowedTables: ['kpis'] });
    expect(config.queries.get('all')?.text).toBe('SELECT * FROM "kpi_demo"."kpis"');
  });

  it.each([
    [{ ...base, allowedTables: ['kpis; DROP TABLE users'] }, /allowedTables\[0\] must be a lower-case SQL name/],
    [{ ...base, allowedTables: ['kpis"--'] }, /allowedTables\[0\]/],
    [{ ...base, allowedTables: [] }, /at least one table/],
    [{ ...base, schema: 'public"; DROP SCHEMA kpi_demo; --' }, /schema must be a lower-case SQL name/],
    [{ ...base, allowedFunctions: ['pg_sleep(1)'] }, /allowedFunctions\[0\]/],
    [{ ...base, queries: { all: { sql: 'SELECT * FROM users' } } }, /query all: table users is not on the allow-list/],
    [{ ...base, queries: { all: { sql: 'SELECT * FROM kpis WHERE a = $1', params: ['a; DROP'] } } }, /parameter name/],
    [{ ...base, queries: { all: { sql: 'SELECT * FROM kpis WHERE a = $1', params: [{ name: 'a', type: 'sql' }] } } }, /unknown type/],
    [{ ...base, queries: { all: { sql: 'SELECT 1 FROM kpis', params: ['a', 'a'] } } }, /repeat/],
    [{ ...base, maxRows: 1_000_000 }, /maxRows must be an integer from 1 to 10000/],
    [{ ...base, statementTimeoutMs: 0 }, /statementTimeoutMs/],
    [{ ...base, queries: {} }, /at least one named query/],
  ])('refuses %j', (config, reason) => {
    expect(configError(config as Record<string, unknown>)).toMatch(reason);
  });
});
