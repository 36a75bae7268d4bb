/**
 * The docs cannot rot: every shell block of README.md, CONTRIBUTING.md and docs/**.md not marked `norun` runs, in
 * order, in one bash shell per document, against a server of its own on a fresh seeded database (what `npm start`
 * gives a reader), judged as test/support/runnable-docs.ts says. Every fence must name its language, so a shell
 * block cannot hide as an unlabelled one, and every relative link must reach a file of the repository.
 */
import type { INestApplication } from '@nestjs/common';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { projectRoot } from '#config';
import { createApp } from '../apps/api/src/bootstrap.js';
import { openScratchDatabase, testConfig } from '#testing';
import { fencedBlocks, isRunnable, runDoc } from './support/runnable-docs.js';

const ROOT = projectRoot();
const METRICS_TOKEN = 'docs-metrics-token-0123456789';

function markdownFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

const DOCS = ['README.md', 'CONTRIBUTING.md', ...markdownFiles('docs').sort()];
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const RUNNABLE = DOCS.filter((file) => fencedBlocks(read(file)).some(isRunnable));

/** A server on a fresh database with the seeds, as `npm start` has it; `run` gets its base URL and database. */
async function withFreshServer<T>(label: string, run: (base: string, databaseUrl: string) => Promise<T>): Promise<T> {
  const scratch = await openScratchDatabase(label, 2);
  let app: INestApplication | undefined;
  try {
    app = await createApp(testConfig({ databaseUrl: scratch.url, autoMigrate: true, metricsToken: METRICS_TOKEN, pollIntervalMs: 100 }));
    await app.listen(0, '127.0.0.1');
    return await run(`http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`, scratch.url);
  } finally {
    await app?.close();
    await scratch.drop();
  }
}

describe('the docs, run as written (e2e)', () => {
  it('finds the documents, and shell blocks in them', () => {
    expect(DOCS).toEqual(expect.arrayContaining(['README.md', 'docs/api-guide.md', 'docs/operations.md']));
    expect(RUNNABLE).toEqual(expect.arrayContaining(['README.md', 'docs/api-guide.md', 'docs/kpi-tracking-guide.md']));
  });

  it('every fenced block names its language (```text for output, ```bash norun for commands not to run)', () => {
    const unlabelled = DOCS.flatMap((file) =>
      fencedBlocks(read(file))
        .filter((b) => b.info === '')
        .map((b) => `${file}:${b.line - 1}`),
    );
    expect(unlabelled).toEqual([]);
  });

  it('every relative link reaches a file of the repository', () => {
    const broken = DOCS.flatMap((file) =>
      [...read(file).matchAll(/\]\(([^)\s#]+)(#[^)]*)?\)/g)]
        .map((m) => m[1])
        .filter((target) => !/^[a-z]+:/i.test(target) && !existsSync(join(ROOT, dirname(file), target)))
        .map((target) => `${file}: ${target}`),
    );
    expect(broken).toEqual([]);
  });

  it('fails a block that fails, names its line, and does not run a norun block', async () => {
    const markdown = [
      '# t',
      '```bash',
      'echo fine',
      'false',
      '```',
      '',
      '```bash norun',
      'npm start',
      '```',
      '```sh',
      'npm install',
      '```',
      '',
    ].join('\n');
    const run = await runDoc('t.md', { base: 'http://127.0.0.1:9', root: ROOT, timeoutSeconds: 20 }, markdown);
    expect(run.failures).toEqual([
      't.md:4: exit 1: false',
      expect.stringMatching(/^t\.md:11: npm install: only 'npm run cli -- \.\.\.' runs/),
    ]);
    expect(run.exit).toBe(0);
  });

  it.each(RUNNABLE)(
    '%s: every block runs, every request answers as the doc says',
    async (file) => {
      const run = await withFreshServer(`docs_${file.replace(/\W+/g, '_')}`.slice(0, 40).toLowerCase(), (base, databaseUrl) =>
        runDoc(file, { base, root: ROOT, env: { DATABASE_URL: databaseUrl, BATON_METRICS_TOKEN: METRICS_TOKEN } }),
      );
      // DOCS_OUTPUT=<folder>: keep what each document printed, to compare with the outputs it shows
      if (process.env.DOCS_OUTPUT) writeFileSync(join(process.env.DOCS_OUTPUT, `${file.replaceAll('/', '_')}.out`), run.stdout);
      expect({ exit: run.exit, failures: run.failures, stderr: run.stderr.slice(-2000) }).toEqual({ exit: 0, failures: [], stderr: '' });
      // every request of the doc was made (polling loops make theirs more than once)
      expect(run.made).toBeGreaterThanOrEqual(run.requests);
    },
    180_000,
  );
});
