import type { DatabaseHandle } from '#persistence';
import { testConfig, testDatabaseUrl } from '#testing';
import { commitWith, EngineDatabase, together } from './engine-database.js';

/** Pipelined transactions on a real PostgreSQL: what rides with COMMIT, and which error a failed flight reports. */
describe('EngineDatabase transactions', () => {
  const table = `engine_db_spec_${process.pid}`;
  let db: EngineDatabase;

  beforeAll(async () => {
    db = new EngineDatabase({ url: testDatabaseUrl() } as DatabaseHandle, testConfig());
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
  });

  afterAll(async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.onApplicationShutdown();
  });

  const ids = async () => (await db.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)).map((r) => r.id);

  it('commits the statements that ride with COMMIT', async () => {
    await db.tx(async (client) => {
      await client.query(`INSERT INTO ${table} VALUES ($1)`, [1]);
      commitWith(client, client.query(`INSERT INTO ${table} VALUES ($1)`, [2]));
    });
    expect(await ids()).toEqual([1, 2]);
  });

  it('rolls everything back when a statement riding with COMMIT fails, and throws that statement’s error', async () => {
    const attempt = db.tx(async (client) => {
      await client.query(`INSERT INTO ${table} VALUES ($1)`, [3]);
      commitWith(client, client.query(`INSERT INTO ${table} VALUES ($1)`, [1]), client.query(`INSERT INTO ${table} VALUES ($1)`, [4]));
      return 'committed';
    });
    await expect(attempt).rejects.toMatchObject({ code: '23505' });
    expect(await ids()).toEqual([1, 2]);
  });

  it('reports the first failure of statements sent together, not the aborted ones after it', async () => {
    const attempt = db.tx((client) =>
      together([
        client.query(`SELECT 1`, []),
        client.query(`SELECT 1 / $1::int`, [0]),
        client.query(`INSERT INTO ${table} VALUES ($1)`, [5]),
      ]),
    );
    await expect(attempt).rejects.toMatchObject({ code: '22012' }); // division by zero, not 25P02 (transaction aborted)
    expect(await ids()).toEqual([1, 2]);
  });

  it('prepares each parameterized statement once per connection and reuses it', async () => {
    const insert = `INSERT INTO ${table} VALUES ($1)`;
    for (let i = 10; i < 30; i++) await db.tx((client) => client.query(insert, [i]));
    const prepared = await db.tx(async (client) => {
      await client.query(insert, [30]);
      await client.query(insert, [31]);
      return (await client.query<{ name: string }>(`SELECT name FROM pg_prepared_statements WHERE statement = $1`, [insert])).rows;
    });
    expect(prepared).toHaveLength(1);
    expect(prepared[0].name).toMatch(/^baton_/);
  });
});
