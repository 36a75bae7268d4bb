/**
 * The compiled CLI as an operator runs it: a child process, judged by exit code and output. Migration
 * commands run against a scratch database (they drop tables); the others use the run's test database with an
 * organization of their own.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource, databaseName, dropDatabase } from '#persistence';
import { createScratchDatabase, freePort, openTestDataSource, runCli, TEST_ADMIN_URL_ENV, testDatabaseUrl } from '#testing';
import { MIGRATIONS } from '../migrations/index.js';

const cli = runCli;

const migrationNames = MIGRATIONS.map((m) => m.name);

describe('cli (e2e)', () => {
  describe('database commands on a scratch database', () => {
    const admin = () => process.env[TEST_ADMIN_URL_ENV] as string;
    let url: string;
    let dataSource: DataSource;
    const run = (...args: string[]) => cli(args, { DATABASE_URL: url });

    beforeAll(async () => {
      url = await createScratchDatabase(admin(), `cli_${process.pid}`);
      dataSource = createDataSource(url, 1);
      await dataSource.initialize();
    });

    afterAll(async () => {
      await dataSource?.destroy();
      if (url) await dropDatabase(admin(), databaseName(url));
    });

    const tables = async () =>
      (await dataSource.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'typeorm_migrations'`)).length;

    it('db:migrate applies every migration, then is a no-op that still exits 0', async () => {
      const first = await run('db:migrate');
      expect(first).toMatchObject({ code: 0 });
      expect(first.stdout).toContain(`Applied ${migrationNames.length} migration(s)`);
      for (const name of migrationNames) expect(first.stdout).toContain(name);
      const second = await run('db:migrate');
      expect(second).toMatchObject({ code: 0 });
      expect(second.stdout).toMatch(/up to date: no pending migrations/);
    });

    it('db:revert undoes only the last migration', async () => {
      const last = migrationNames[migrationNames.length - 1];
      const reverted = await run('db:revert');
      expect(reverted).toMatchObject({ code: 0 });
      expect(reverted.stdout).toContain(`Reverted ${last}.`);
      const applied: { name: string }[] = await dataSource.query(`SELECT name FROM typeorm_migrations ORDER BY id`);
      expect(applied.map((r) => r.name)).toEqual(migrationNames.slice(0, -1));
      const again = await run('db:migrate');
      expect(again.stdout).toContain(`Applied 1 migration(s)`);
      expect(again.stdout).toContain(last);
    });

    it('db:seed seeds organization global once; a second run creates nothing', async () => {
      const first = await run('db:seed');
      expect(first).toMatchObject({ code: 0 });
      expect(first.stdout).toMatch(/agents:\s+7 created, 0 unchanged/);
      expect(first.stdout).toMatch(/users:\s+1 created/);
      const second = await run('db:seed');
      expect(second).toMatchObject({ code: 0 });
      expect(second.stdout).toMatch(/organizations:\s+0 created, 1 unchanged/);
      expect(second.stdout).toMatch(/agents:\s+0 created, 7 unchanged/);
      expect(second.stdout).toMatch(/definitions:\s+0 created, 0 new versions, \d+ unchanged/);
    });

    it('db:reset refuses outside development and test, touching nothing', async () => {
      const before = await tables();
      for (const nodeEnv of ['production', 'staging']) {
        const refused = await cli(['db:reset'], {
          DATABASE_URL: url,
          NODE_ENV: nodeEnv,
          JWT_SECRET: 'x'.repeat(40),
          ADMIN_PASSWORD: 'not-the-default',
        });
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain(`db:reset refuses to run with NODE_ENV=${nodeEnv}`);
      }
      expect(await tables()).toBe(before);
      expect((await dataSource.query(`SELECT count(*)::int AS n FROM agents`))[0].n).toBe(7);
    });

    it('db:reset asks for confirmation outside test (none on a pipe: --yes) and refuses while a server is connected', async () => {
      const before = await tables();
      const unconfirmed = await cli(['db:reset'], { DATABASE_URL: url, NODE_ENV: 'development' });
      expect(unconfirmed.code).toBe(1);
      expect(unconfirmed.stderr).toContain('confirm on a terminal, or pass --yes');
      const server = new pg.Client({ connectionString: url, application_name: 'baton-engine' });
      await server.connect();
      try {
        const busy = await cli(['db:reset', '--yes'], { DATABASE_URL: url, NODE_ENV: 'development' });
        expect(busy.code).toBe(1);
        expect(busy.stderr).toContain('a Baton API or worker is connected');
      } finally {
        await server.end();
      }
      expect(await tables()).toBe(before);
    });

    it('db:reset in test drops everything, migrates and seeds again', async () => {
      await dataSource.query(`INSERT INTO organizations (slug, name) VALUES ('doomed', 'Doomed')`);
      const reset = await cli(['db:reset'], { DATABASE_URL: url, NODE_ENV: 'test' });
      expect(reset).toMatchObject({ code: 0 });
      expect(reset.stdout).toContain(`reverted ${migrationNames.length} migration(s), applied ${migrationNames.length}`);
      expect(reset.stdout).toMatch(/agents:\s+7 created/);
      expect(await dataSource.query(`SELECT slug FROM organizations ORDER BY slug`)).toEqual([{ slug: 'global' }]);
    });

    it('db:seed on an unmigrated database says to migrate first', async () => {
      const bare = await createScratchDatabase(admin(), `cli_bare_${process.pid}`);
      try {
        const result = await cli(['db:seed'], { DATABASE_URL: bare });
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/pending migration\(s\): run `npm run cli -- db:migrate` first/);
      } finally {
        await dropDatabase(admin(), databaseName(bare));
      }
    });
  });

  describe('definitions and users on the test database', () => {
    let dataSource: DataSource;
    let org: string;
    let dir: string;
    const run = (...args: string[]) => cli(args, { DATABASE_URL: testDatabaseUrl() });

    beforeAll(async () => {
      dataSource = await openTestDataSource(2);
      org = `cli-${randomUUID().slice(0, 8)}`;
      await dataSource.query(`INSERT INTO organizations (slug, name) VALUES ($1, $1)`, [org]);
      dir = mkdtempSync(join(tmpdir(), 'baton-cli-'));
    });

    afterAll(async () => {
      await dataSource?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    const write = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const hello = (slug: string, greeting = 'hi') =>
      `slug: ${slug}\nname: Hello\nsteps:\n  - key: greet\n    agent: echo\n    input: { greeting: ${greeting} }\n  - key: reply\n    agent: echo\n    dependsOn: [greet]\n`;

    it('definitions:validate lists each problem as `path: message` and exits 1 on an invalid file', async () => {
      const bad = write(
        'bad.yaml',
        'slug: cli-bad\nname: Bad\nsteps:\n  - key: a\n    agent: no-such-agent\n  - key: a\n    agent: echo\n  - key: c\n    agent: echo\n    dependsOn: [missing]\n',
      );
      const result = await run('definitions:validate', bad, '--org', org);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`${bad}: invalid`);
      const problems = result.stdout.split('\n').filter((line) => /^\$\S*: \S/.test(line));
      expect(problems.length).toBeGreaterThanOrEqual(3);
      expect(problems.join('\n')).toMatch(/^\$\.steps\[0\]\.agent: .*no-such-agent/m);
      expect(problems.join('\n')).toMatch(/^\$\.steps\[2\]\.dependsOn\[0\]: /m);
    });

    it('definitions:validate exits 0 on a valid file, and 1 on a missing file or organization', async () => {
      const good = write('good.yaml', hello('cli-good'));
      const valid = await run('definitions:validate', good, '--org', org);
      expect(valid).toMatchObject({ code: 0 });
      expect(valid.stdout).toContain(`${good}: valid`);
      const missing = await run('definitions:validate', join(dir, 'nope.yaml'), '--org', org);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('No such file or directory');
      const noOrg = await run('definitions:validate', good, '--org', `absent-${org}`);
      expect(noOrg.code).toBe(1);
      expect(noOrg.stderr).toContain(`Organization "absent-${org}" does not exist`);
    });

    it('definitions:apply reports created, then unchanged, then a new version', async () => {
      const path = write('apply.yaml', hello('cli-apply'));
      const created = await run('definitions:apply', path, '--org', org);
      expect(created).toMatchObject({ code: 0 });
      expect(created.stdout).toContain(`${path}: created cli-apply v1`);
      const unchanged = await run('definitions:apply', path, '--org', org);
      expect(unchanged).toMatchObject({ code: 0 });
      expect(unchanged.stdout).toContain(`${path}: unchanged cli-apply v1`);
      write('apply.yaml', hello('cli-apply', 'hello'));
      const versioned = await run('definitions:apply', path, '--org', org);
      expect(versioned.stdout).toContain(`${path}: new version cli-apply v2`);
      const [{ n }] = await dataSource.query(
        `SELECT count(*)::int AS n FROM orchestration_definitions d JOIN organizations o ON o.id = d.organization_id WHERE o.slug = $1 AND d.slug = 'cli-apply'`,
        [org],
      );
      expect(n).toBe(2);
    });

    it('definitions:apply on a folder applies every file, reports the bad one and exits 1', async () => {
      const folder = join(dir, 'folder');
      mkdirSync(folder);
      writeFileSync(join(folder, 'a.yaml'), hello('cli-folder-a'));
      writeFileSync(join(folder, 'b.yaml'), 'slug: cli-folder-b\nname: B\nsteps:\n  - key: x\n    agent: no-such-agent\n');
      writeFileSync(join(folder, 'c.json'), JSON.stringify({ slug: 'cli-folder-c', name: 'C', steps: [{ key: 'x', agent: 'echo' }] }));
      const result = await run('definitions:apply', folder, '--org', org);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`${join(folder, 'a.yaml')}: created cli-folder-a v1`);
      expect(result.stdout).toContain(`${join(folder, 'c.json')}: created cli-folder-c v1`);
      expect(result.stderr).toContain(join(folder, 'b.yaml'));
      expect(result.stderr).toContain('1 of 3 definition file(s) were not applied');
    });

    it('orgs:create creates an organization once, and users:create --org puts a user in it', async () => {
      const slug = `cli-org-${randomUUID().slice(0, 8)}`;
      const created = await run('orgs:create', '--slug', slug, '--name', 'CLI Org');
      expect(created).toMatchObject({ code: 0, stderr: '' });
      expect(created.stdout).toContain(`Created organization ${slug}`);
      const again = await run('orgs:create', '--slug', slug);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`Organization ${slug} exists`);
      expect((await run('orgs:create', '--slug', 'Not A Slug')).code).toBe(1);
      const user = await run('users:create', '--email', `first@${slug}.test`, '--password', 'long-enough-pw', '--role', 'admin', '--org', slug);
      expect(user).toMatchObject({ code: 0 });
      const [row] = await dataSource.query(
        `SELECT o.name FROM users u JOIN organizations o ON o.id = u.organization_id WHERE u.email = $1`,
        [`first@${slug}.test`],
      );
      expect(row).toEqual({ name: 'CLI Org' });
    });

    it('users:create creates a user, refuses a duplicate and rejects bad input with a non-zero exit', async () => {
      const email = `ops-${randomUUID().slice(0, 8)}@cli.test`;
      const created = await run('users:create', '--email', email, '--password', 'long-enough-pw', '--role', 'operator', '--org', org);
      expect(created).toMatchObject({ code: 0 });
      expect(created.stdout).toContain(`Created operator ${email} in organization ${org}`);
      const [row] = await dataSource.query(
        `SELECT u.role, o.slug FROM users u JOIN organizations o ON o.id = u.organization_id WHERE u.email = $1`,
        [email],
      );
      expect(row).toEqual({ role: 'operator', slug: org });

      const duplicate = await run('users:create', '--email', email, '--password', 'long-enough-pw', '--role', 'viewer', '--org', org);
      expect(duplicate.code).toBe(1);
      expect(duplicate.stderr).toContain('exists');

      const badRole = await run('users:create', '--email', `x-${email}`, '--password', 'long-enough-pw', '--role', 'superuser');
      expect(badRole.code).toBe(2);
      expect(badRole.stderr).toMatch(/superuser.*invalid|invalid.*superuser/i);
      expect(badRole.stderr).toContain('admin, operator, approver, viewer');

      const shortPassword = await run('users:create', '--email', `y-${email}`, '--password', 'short', '--role', 'viewer', '--org', org);
      expect(shortPassword.code).toBe(1);
      expect(shortPassword.stderr).toContain('$.password: must be at least 8 characters');

      const missing = await run('users:create', '--email', `z-${email}`);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('--password');
    });
  });

  describe('failures before any work', () => {
    it('exits 3 with a clear message, and no credentials, when the database is unreachable', async () => {
      const url = `postgres://baton:very-secret-pw@127.0.0.1:${await freePort()}/baton_test_nowhere`;
      for (const args of [['db:migrate'], ['users:create', '--email', 'a@b.test', '--password', 'long-enough-pw', '--role', 'viewer']]) {
        const result = await cli(args, { DATABASE_URL: url });
        expect(result.code).toBe(3);
        expect(result.stderr).toMatch(/Cannot connect to the database at 127\.0\.0\.1:\d+\/baton_test_nowhere/);
        expect(result.stdout + result.stderr).not.toContain('very-secret-pw');
      }
    });

    it('exits 2 on an unknown command or a missing argument, 0 on --help', async () => {
      const env = { DATABASE_URL: testDatabaseUrl() };
      expect((await cli(['db:explode'], env)).code).toBe(2);
      expect((await cli(['definitions:validate'], env)).code).toBe(2);
      const help = await cli(['--help'], env);
      expect(help.code).toBe(0);
      for (const command of [
        'db:migrate',
        'db:revert',
        'db:seed',
        'db:reset',
        'definitions:validate',
        'definitions:apply',
        'users:create',
        'orgs:create',
      ]) {
        expect(help.stdout).toContain(command);
      }
    });
  });
});
