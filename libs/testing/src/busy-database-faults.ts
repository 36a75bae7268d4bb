import type { Fault } from '#core';

interface Client {
  query(sql: string): Promise<unknown>;
}

/**
 * Faults for the fault points that hand over a transaction's connection (engine.tx.beforeCommit): PostgreSQL itself
 * raises the error inside that transaction, as it would in production, so what the engine sees and what it must roll
 * back are the real thing.
 */
export const BUSY_DATABASE_FAULTS: { name: string; sqlState: string; fault: Fault }[] = [
  {
    name: 'a statement timeout',
    sqlState: '57014',
    fault: async (client) => {
      await (client as Client).query(`SET LOCAL statement_timeout = '20ms'`);
      await (client as Client).query('SELECT pg_sleep(1)');
    },
  },
  {
    // what PostgreSQL reports when a table cannot grow: "could not extend file ...: No space left on device"
    name: 'a full disk',
    sqlState: '53100',
    fault: async (client) => {
      await (client as Client).query(
        `DO $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$`,
      );
    },
  },
];
