/**
 * docs/api-guide.md cannot rot: every ```bash block of the guide, in order, in one bash shell (with curl and jq, as
 * a reader would), against a started server on a fresh seeded database. `curl` is wrapped to record each request's
 * status: each must answer 2xx, or one of the statuses its line's comment names (`# revoke: 204`,
 * `# 202 (409 while an attempt is in flight)`). Streams (`curl -N`) are read for a few seconds. A guide request
 * that breaks, or a block that no longer runs after the one before it, fails this suite.
 */
import type { INestApplication } from '@nestjs/common';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '#config';
import { createApp } from '../apps/api/src/bootstrap.js';
import { openScratchDatabase, testConfig, type ScratchDatabase } from '#testing';

const METRICS_TOKEN = 'docs-metrics-token-0123456789';

/** Records every request as `OK|FAIL <status> ...` in $DOCS_LOG; prints the body like curl -s would. */
const PRELUDE = String.raw`
curl() {
  local body code rc max=20 stream=0 a
  for a in "$@"; do [ "$a" = "-N" ] && stream=1; done
  [ "$stream" = 1 ] && max=3
  body=$(mktemp)
  local quiet=-sS
  [ "$stream" = 1 ] && quiet=-s # a stream ends by our timeout: not an error worth printing
  code=$(command curl "$quiet" --max-time "$max" -o "$body" -w '%{http_code}' "$@"); rc=$?
  cat "$body"; rm -f "$body"
  local expect="${'$'}{DOCS_EXPECT:-2xx}"
  if [ "$rc" -ne 0 ] && ! { [ "$rc" -eq 28 ] && [ "$stream" = 1 ] && [ "$code" = 200 ]; }; then
    echo "FAIL curl exit $rc, status $code: curl $*" >> "$DOCS_LOG"
  elif { [ "$expect" = 2xx ] && [[ "$code" == 2?? ]]; } || [[ " $expect " == *" $code "* ]]; then
    echo "OK $code: curl $*" >> "$DOCS_LOG"
  else
    echo "FAIL status $code (expected $expect): curl $*" >> "$DOCS_LOG"
  fi
  return 0
}
`;

/** The guide's bash blocks, in order, with each curl line's expected statuses taken from its comment. */
function guideScript(base: string): { script: string; requests: number } {
  const guide = readFileSync(join(projectRoot(), 'docs/api-guide.md'), 'utf8');
  const blocks = [...guide.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]);
  let requests = 0;
  const lines = blocks
    .join('\n')
    .replaceAll('http://localhost:3000', base)
    .split('\n')
    .map((line) => {
      if (!/(^|[\s($])curl\s/.test(line) || /^\s*#/.test(line)) return line;
      requests++;
      const comment = /\s#\s(.*)$/.exec(line)?.[1] ?? '';
      const statuses = [...comment.matchAll(/\b([2-4]\d\d)\b/g)].map((m) => m[1]);
      return statuses.length ? line.replace(/(^|[\s($])curl\s/, `$1DOCS_EXPECT="${statuses.join(' ')}" curl `) : line;
    });
  return { script: `${PRELUDE}\n${lines.join('\n')}\n`, requests };
}

describe('docs/api-guide.md, run as written (e2e)', () => {
  let scratch: ScratchDatabase;
  let app: INestApplication;
  let base: string;
  let dir: string;

  beforeAll(async () => {
    scratch = await openScratchDatabase('docs_api_guide');
    // autoMigrate: the seeds (admin@baton.local, hello-echo) exactly as `npm start` has them
    app = await createApp(testConfig({ databaseUrl: scratch.url, autoMigrate: true, metricsToken: METRICS_TOKEN, pollIntervalMs: 100 }));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'baton-docs-'));
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await scratch?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers every request of every block as the guide says', async () => {
    const { script, requests } = guideScript(base);
    writeFileSync(join(dir, 'guide.sh'), script);
    const log = join(dir, 'requests.log');
    writeFileSync(log, '');
    // asynchronously: the server answering the script lives in this process
    const child = spawn('timeout', ['150', 'bash', join(dir, 'guide.sh')], {
      cwd: dir,
      env: { ...process.env, DOCS_LOG: log, BATON_METRICS_TOKEN: METRICS_TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const result = { status, stderr };
    const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    if (process.env.DOCS_KEEP_LOG) writeFileSync(process.env.DOCS_KEEP_LOG, lines.join('\n'));
    const failures = lines.filter((l) => l.startsWith('FAIL'));
    expect({ exit: result.status, failures, stderr: result.stderr.slice(-2000) }).toEqual({ exit: 0, failures: [], stderr: '' });
    // every request line of the guide ran (polling loops run theirs more than once)
    expect(lines.length).toBeGreaterThanOrEqual(requests);
    expect(requests).toBeGreaterThan(50);
  }, 180_000);
});
