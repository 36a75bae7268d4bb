import { isDatabaseBusy, isDatabaseUnavailable, isDataException } from './database-errors.js';

const pg = (code: string, message = 'x') => Object.assign(new Error(message), { code });
/** TypeORM's QueryFailedError keeps pg's error in driverError. */
const typeorm = (inner: Error) => Object.assign(new Error(inner.message), { driverError: inner });

describe('database error classes', () => {
  it.each([
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['admin shutdown (57P01)', pg('57P01')],
    ['too many connections (53300)', pg('53300')],
    ['a connection exception (08006)', typeorm(pg('08006'))],
    ['a terminated connection', new Error('Connection terminated unexpectedly')],
    ['a server reached by its Unix socket stopped (the socket gone)', Object.assign(new Error('connect ENOENT /data/pg/.s.PGSQL.55432'), { code: 'ENOENT' })],
    ['both addresses of a dual-stack connect', Object.assign(new AggregateError([pg('ECONNREFUSED'), pg('ECONNREFUSED')]), {})],
  ])('%s: unavailable', (_what, error) => {
    expect([isDatabaseUnavailable(error), isDatabaseBusy(error), isDataException(error)]).toEqual([true, false, false]);
  });

  it.each([
    ['statement timeout (57014)', pg('57014', 'canceling statement due to statement timeout')],
    ['lock timeout (55P03)', pg('55P03')],
    ['disk full (53100)', typeorm(pg('53100', 'could not extend file'))],
    ['out of memory (53200)', pg('53200')],
  ])('%s: busy, not unavailable', (_what, error) => {
    expect([isDatabaseUnavailable(error), isDatabaseBusy(error), isDataException(error)]).toEqual([false, true, false]);
  });

  it.each([
    ['not a uuid (22P02)', typeorm(pg('22P02', 'invalid input syntax for type uuid'))],
    ['too long (22001)', pg('22001')],
    ['NUL in text (22021)', pg('22021')],
  ])('%s: a data exception', (_what, error) => {
    expect([isDatabaseUnavailable(error), isDatabaseBusy(error), isDataException(error)]).toEqual([false, false, true]);
  });

  it.each([
    ['a unique violation (23505)', pg('23505')],
    ['a syntax error (42601)', pg('42601')],
    ['a plain error', new Error('boom')],
    ['a missing file that is no socket of PostgreSQL', Object.assign(new Error("ENOENT: no such file or directory, open '/tmp/x.json'"), { code: 'ENOENT' })],
    ['not an error', 'boom'],
  ])('%s: none of them', (_what, error) => {
    expect([isDatabaseUnavailable(error), isDatabaseBusy(error), isDataException(error)]).toEqual([false, false, false]);
  });
});
