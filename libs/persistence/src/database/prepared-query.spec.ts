import { randomUUID } from 'node:crypto';
import { QueryFailedError, type DataSource } from 'typeorm';
import { openTestDataSource } from '#testing';
import { preparedQuery } from './prepared-query.js';
import { statementName } from './statement-names.js';

describe('preparedQuery (PostgreSQL)', () => {
  let ds: DataSource;
  beforeAll(async () => {
    ds = await openTestDataSource();
  });
  afterAll(async () => {
    await ds.destroy();
  });

  const INSERT = `INSERT INTO organizations (slug, name) VALUES ($1, $1) RETURNING slug`;

  it('answers the rows DataSource.query does, as a statement the connection prepared once', async () => {
    const slug = `prep-${randomUUID().slice(0, 8)}`;
    expect(await preparedQuery(ds, INSERT, [slug])).toEqual([{ slug }]);
    expect(await preparedQuery(ds, `SELECT slug FROM organizations WHERE slug = $1`, [slug])).toEqual(
      await ds.query(`SELECT slug FROM organizations WHERE slug = $1`, [slug]),
    );
    // pg_prepared_statements lists the statements of the connection that asks: the pool's only connection here.
    const one = await openTestDataSource(1);
    try {
      for (let i = 0; i < 3; i++) await preparedQuery(one, INSERT, [`prep-${randomUUID().slice(0, 8)}`]);
      const names: { name: string }[] = await one.query(`SELECT name FROM pg_prepared_statements WHERE statement = $1`, [INSERT]);
      expect(names).toHaveLength(1);
      expect(names[0].name).toBe(statementName(INSERT));
    } finally {
      await one.destroy();
    }
  });

  it("runs on the transaction's own connection: it sees the transaction's rows, and they go with its rollback", async () => {
    const slug = `prep-${randomUUID().slice(0, 8)}`;
    await ds
      .transaction(async (manager) => {
        await preparedQuery(manager, INSERT, [slug]);
        expect(await preparedQuery(manager, `SELECT slug FROM organizations WHERE slug = $1`, [slug])).toEqual([{ slug }]);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(await ds.query(`SELECT slug FROM organizations WHERE slug = $1`, [slug])).toEqual([]);
  });

  it('fails as DataSource.query fails: a QueryFailedError carrying the driver error', async () => {
    const slug = `prep-${randomUUID().slice(0, 8)}`;
    await preparedQuery(ds, INSERT, [slug]);
    const error = await preparedQuery(ds, INSERT, [slug]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect((error as QueryFailedError & { driverError: { code: string } }).driverError.code).toBe('23505');
  });
});
