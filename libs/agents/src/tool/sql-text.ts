/**
 * Static check of a query text written in an agent's config, before it ever reaches PostgreSQL. The text is
 * tokenized (not parsed): anything this small grammar does not know is refused, so a construct that could
 * hide a second statement or a call (comments, dollar quoting, escape strings, quoted identifiers, `;`) never
 * passes. What it enforces:
 * - one SELECT (or WITH ... SELECT) and no statement keyword that writes, locks or changes settings;
 * - every relation after FROM / JOIN (and in a FROM list after a comma) is on the allow-list, qualified at most
 *   with the configured schema; it is rewritten quoted and schema-qualified;
 * - every function called is on the function allow-list (so no `set_config`, `query_to_xml`, `pg_read_file`, ...);
 * - parameters are `$1..$n` with n the number of declared parameters.
 * The role the query runs as and the READ ONLY transaction are the layers behind this one.
 */
export interface SqlTextProblem {
  message: string;
}

type Token =
  | { kind: 'ident'; value: string; lower: string }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: string }
  | { kind: 'param'; value: string; index: number }
  | { kind: 'punct'; value: string };

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const PARAM = /\$([0-9]+)/y;
const OPERATORS = ['::', '<=', '>=', '<>', '!=', '||', '(', ')', ',', '.', '+', '-', '*', '/', '%', '<', '>', '=', '[', ']'];

/** Keywords that write, lock, change the session or run other statements: never in a query of the tool. */
const FORBIDDEN = new Set([
  'insert',
  'update',
  'delete',
  'merge',
  'copy',
  'create',
  'alter',
  'drop',
  'truncate',
  'grant',
  'revoke',
  'set',
  'reset',
  'call',
  'do',
  'execute',
  'prepare',
  'deallocate',
  'lock',
  'listen',
  'notify',
  'unlisten',
  'vacuum',
  'analyze',
  'explain',
  'into',
  'for',
  'returning',
  'begin',
  'commit',
  'rollback',
  'savepoint',
  'release',
  'declare',
  'fetch',
  'move',
  'close',
  'discard',
  'load',
  'security',
  'refresh',
  'cluster',
  'reindex',
  'comment',
  'import',
  'checkpoint',
  'table',
]);

/** Keywords that may stand before `(` without being a call. */
const PAREN_KEYWORDS = new Set([
  'select',
  'from',
  'where',
  'and',
  'or',
  'not',
  'in',
  'exists',
  'any',
  'all',
  'some',
  'as',
  'over',
  'filter',
  'cast',
  'values',
  'on',
  'using',
  'join',
  'having',
  'when',
  'then',
  'else',
  'by',
  'lateral',
  'with',
  'union',
  'intersect',
  'except',
  'between',
  'is',
  'like',
  'ilike',
  'case',
  'array',
  'row',
  'within',
  'partition',
  'distinct',
  'group',
  'order',
  'limit',
  'offset',
]);

/** Functions a query may call unless the config replaces the list: arithmetic, text, dates, aggregates, windows. */
export const DEFAULT_ALLOWED_FUNCTIONS = [
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'stddev',
  'variance',
  'bool_and',
  'bool_or',
  'array_agg',
  'string_agg',
  'json_agg',
  'jsonb_agg',
  'json_build_object',
  'jsonb_build_object',
  'coalesce',
  'nullif',
  'greatest',
  'least',
  'round',
  'trunc',
  'floor',
  'ceil',
  'abs',
  'sign',
  'sqrt',
  'power',
  'mod',
  'lower',
  'upper',
  'length',
  'substr',
  'left',
  'right',
  'concat',
  'concat_ws',
  'replace',
  'split_part',
  'position',
  'date_trunc',
  'date_part',
  'to_char',
  'to_date',
  'now',
  'row_number',
  'rank',
  'dense_rank',
  'lag',
  'lead',
  'first_value',
  'last_value',
  'percentile_cont',
  'generate_series',
  'unnest',
];

/** After FROM/JOIN: words that end the FROM item rather than alias it. */
const NOT_ALIAS = new Set([
  'where',
  'join',
  'inner',
  'left',
  'right',
  'full',
  'cross',
  'natural',
  'on',
  'using',
  'group',
  'order',
  'limit',
  'offset',
  'union',
  'intersect',
  'except',
  'having',
  'window',
  'and',
  'or',
  'lateral',
]);

export function tokenize(sql: string): { tokens: Token[]; problem?: string } {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i];
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (sql.startsWith('--', i) || sql.startsWith('/*', i)) return { tokens, problem: 'comments are not allowed in a query text' };
    if (ch === ';') return { tokens, problem: 'a query text is one statement: ";" is not allowed' };
    if (ch === '"') return { tokens, problem: 'quoted identifiers are not allowed: use plain lower-case names' };
    if (ch === "'") {
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= sql.length) return { tokens, problem: 'unterminated string literal' };
        if (sql[j] === "'" && sql[j + 1] === "'") {
          value += "'";
          j += 2;
        } else if (sql[j] === "'") break;
        else value += sql[j++];
      }
      tokens.push({ kind: 'string', value });
      i = j + 1;
      continue;
    }
    if (ch === '$') {
      PARAM.lastIndex = i;
      const m = PARAM.exec(sql);
      if (!m) return { tokens, problem: 'dollar quoting is not allowed; "$" only in parameters $1..$n' };
      tokens.push({ kind: 'param', value: m[0], index: Number(m[1]) });
      i += m[0].length;
      continue;
    }
    IDENT.lastIndex = i;
    const ident = IDENT.exec(sql);
    if (ident) {
      // E'..', U&'..', B'..', X'..' have other escaping rules than '..': refusing them keeps the tokenizer exact.
      const after = sql[i + ident[0].length];
      if (after === "'" || (ident[0].toLowerCase() === 'u' && after === '&'))
        return { tokens, problem: `prefixed string literals (${ident[0]}'...') are not allowed` };
      tokens.push({ kind: 'ident', value: ident[0], lower: ident[0].toLowerCase() });
      i += ident[0].length;
      continue;
    }
    NUMBER.lastIndex = i;
    const number = NUMBER.exec(sql);
    if (number) {
      tokens.push({ kind: 'number', value: number[0] });
      i += number[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => sql.startsWith(o, i));
    if (!op) return { tokens, problem: `unexpected character "${ch}"` };
    tokens.push({ kind: 'punct', value: op });
    i += op.length;
  }
  return { tokens };
}

const quote = (name: string) => `"${name}"`;

export interface CheckedSql {
  /** The text with every relation quoted and schema-qualified. */
  text: string;
  tables: string[];
  maxParam: number;
}

/** Checks `sql` (see the file comment); returns the rewritten text or the problems found. */
export function checkSqlText(
  sql: string,
  rules: { schema: string; allowedTables: readonly string[]; allowedFunctions: readonly string[]; paramCount: number },
): CheckedSql | { problems: string[] } {
  const { tokens, problem } = tokenize(sql);
  if (problem) return { problems: [problem] };
  const problems: string[] = [];
  const first = tokens[0];
  if (!first || first.kind !== 'ident' || !['select', 'with'].includes(first.lower))
    problems.push('a query text starts with SELECT or WITH');
  const allowedTables = new Set(rules.allowedTables);
  // Names a WITH clause defines (`WITH name AS (` / `, name AS (`) are relations of the query itself.
  const cteNames = new Set<string>();
  tokens.forEach((t, i) => {
    const [prev, as, paren] = [tokens[i - 1], tokens[i + 1], tokens[i + 2]];
    if (t.kind === 'ident' && as?.kind === 'ident' && as.lower === 'as' && paren?.kind === 'punct' && paren.value === '(')
      if ((prev?.kind === 'ident' && ['with', 'recursive'].includes(prev.lower)) || (prev?.kind === 'punct' && prev.value === ','))
        cteNames.add(t.lower);
  });
  const functions = new Set(rules.allowedFunctions.map((f) => f.toLowerCase()));
  const out: string[] = [];
  const tables = new Set<string>();
  let maxParam = 0;
  /** Paren depth of the FROM list we are in (a comma there starts a new FROM item), or -1. */
  let fromListDepth = -1;
  let depth = 0;
  let expectRelation = false;

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const next = tokens[i + 1];
    if (t.kind === 'punct') {
      if (expectRelation && t.value !== '(') problems.push(`a relation is expected before "${t.value}"`);
      expectRelation = false; // "( subquery )" is not a relation; its own FROM is checked when we get there
      if (t.value === '(') depth++;
      if (t.value === ')') {
        depth--;
        if (depth < fromListDepth) fromListDepth = -1;
      }
      if (t.value === ',' && depth === fromListDepth) expectRelation = true;
      out.push(t.value);
      continue;
    }
    if (t.kind === 'string') {
      out.push(`'${t.value.replace(/'/g, "''")}'`);
      continue;
    }
    if (t.kind === 'number') {
      out.push(t.value);
      continue;
    }
    if (t.kind === 'param') {
      if (t.index < 1 || t.index > rules.paramCount)
        problems.push(`${t.value} is not a declared parameter (declared: ${rules.paramCount})`);
      maxParam = Math.max(maxParam, t.index);
      out.push(t.value);
      continue;
    }
    // identifiers
    if (FORBIDDEN.has(t.lower)) {
      problems.push(`${t.value.toUpperCase()} is not allowed in a read-only query`);
      continue;
    }
    if (expectRelation) {
      expectRelation = false;
      if (next?.kind === 'punct' && next.value === '(') {
        if (!functions.has(t.lower)) problems.push(`function ${t.value} is not allowed`);
        out.push(t.lower);
        continue;
      }
      if (t.lower === 'lateral') {
        expectRelation = true;
        out.push(t.value);
        continue;
      }
      if (cteNames.has(t.lower) && !(tokens[i + 1]?.kind === 'punct' && tokens[i + 1].value === '.')) {
        out.push(t.lower);
        continue;
      }
      let schema: string | null = null;
      let table = t.lower;
      const dot = tokens[i + 1];
      const qualified = tokens[i + 2];
      if (dot?.kind === 'punct' && dot.value === '.' && qualified?.kind === 'ident') {
        schema = t.lower;
        table = qualified.lower;
        i += 2;
      }
      if (schema !== null && schema !== rules.schema) problems.push(`schema ${schema} is not allowed (only ${rules.schema})`);
      if (!allowedTables.has(table)) problems.push(`table ${table} is not on the allow-list`);
      tables.add(table);
      out.push(`${quote(rules.schema)}.${quote(table)}`);
      // an optional alias, then maybe a comma continuing the FROM list (handled by the punct branch)
      continue;
    }
    if (next?.kind === 'punct' && next.value === '(' && !PAREN_KEYWORDS.has(t.lower)) {
      if (!functions.has(t.lower)) problems.push(`function ${t.value} is not allowed`);
    }
    if (t.lower === 'from' || t.lower === 'join') {
      const nextToken = tokens[i + 1];
      // FROM ( subquery ) is not a relation; its own FROM is checked when we get there.
      expectRelation = !(nextToken?.kind === 'punct' && nextToken.value === '(');
      fromListDepth = t.lower === 'from' ? depth : fromListDepth;
    } else if (fromListDepth === depth && NOT_ALIAS.has(t.lower) && t.lower !== 'lateral') {
      if (!['join', 'inner', 'left', 'right', 'full', 'cross', 'natural', 'on', 'using', 'and', 'or'].includes(t.lower)) fromListDepth = -1;
    }
    out.push(t.value);
  }
  if (problems.length > 0) return { problems: [...new Set(problems)] };
  return { text: joinTokens(out), tables: [...tables], maxParam };
}

/** Re-joins tokens with single spaces, except around dots and before commas/closing brackets (readability only). */
function joinTokens(parts: string[]): string {
  let text = '';
  for (const part of parts) {
    if (
      text === '' ||
      part === '.' ||
      text.endsWith('.') ||
      part === ',' ||
      part === ')' ||
      text.endsWith('(') ||
      part === '::' ||
      text.endsWith('::')
    )
      text += part;
    else text += ` ${part}`;
  }
  return text;
}
