/**
 * The dashboard in a real browser (headless Chromium through playwright-core) against a real server: log in, start
 * the approval demo from its generated form, watch its DAG change live in a second tab, approve with a modification
 * in the inbox and see it in the run's output; cancel a run; a viewer gets no action buttons; a wrong password is
 * refused; a dead webhook delivery is redelivered from the Webhooks page once its receiver (a real local server)
 * answers again; a fan-out's child runs show under the step that started them and link back; the pages work from the
 * keyboard. Every page it renders passes an accessibility audit (contrast as rendered, names, headings: see
 * dashboard-audit.ts), and every request the pages make is a documented operation. It also takes the screenshots in
 * docs/images/ and measures the first render of the runs list with 10,000 runs and of a 200-step run (logged and
 * written to dist/dashboard-perf.json; docs/benchmarks.md quotes them; no timing is asserted).
 */
import type { INestApplication } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { parse } from 'yaml';
import { createApp } from '../apps/api/src/bootstrap.js';
import { DASHBOARD_DIST } from '../apps/api/src/dashboard/dashboard.controller.js';
import type { DefinitionSpec } from '#core';
import { projectRoot } from '#config';
import {
  createTestOrganization,
  insertDefinition,
  openScratchDatabase,
  testConfig,
  waitFor,
  waitForRun,
  type ScratchDatabase,
  type TestOrganization,
} from '#testing';
import { auditPage, undocumentedRequests } from './dashboard-audit.js';

const CHROMIUM = '/usr/bin/chromium';
const IMAGES = join(projectRoot(), 'docs', 'images');
const UI_TIMEOUT = 20_000;

describe('dashboard in a browser (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let scratch: ScratchDatabase;
  let org: TestOrganization;
  let browser: Browser;
  let base: string;
  const pages: Page[] = [];
  /** Every API request the pages made (METHOD url), and the accessibility problems of every page audited. */
  const requests = new Set<string>();
  const a11y: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(DASHBOARD_DIST, 'index.html'))) throw new Error('dist/dashboard is missing: npm test builds it (npm run build:dashboard)');
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
    // A database of its own: other suites' worker processes share the test database and are killed with -9 on
    // purpose; a step of this suite claimed by one of them would wait out its lease, longer than the UI waits.
    scratch = await openScratchDatabase('dashboard', 3);
    ds = scratch.dataSource;
    // Webhook attempts 100 ms apart and a delivery dead after two failures, so the redelivery test gets a dead letter
    // in well under a second.
    app = await createApp(
      testConfig({ databaseUrl: scratch.url, pollIntervalMs: 200, webhookMaxAttempts: 2, webhookRetryDelayMs: 100, webhookMaxRetryDelayMs: 200, webhookTimeoutMs: 2000 }),
    );
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    org = await createTestOrganization(app, ds, 'dash');
    const seeded = parse(readFileSync(join(projectRoot(), 'seeds', 'definitions', 'approval-demo.yaml'), 'utf8')) as DefinitionSpec;
    await insertDefinition(ds, org.id, seeded);
    await insertDefinition(ds, org.id, {
      slug: 'dash-slow',
      name: 'Slow',
      steps: [
        { key: 'first', agent: 'echo', input: { hello: 'world' } },
        { key: 'nap', agent: 'sleep', dependsOn: ['first'], input: { ms: 60_000 } },
        { key: 'after', agent: 'echo', dependsOn: ['nap'], input: {} },
      ],
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    mkdirSync(IMAGES, { recursive: true });
  });

  afterAll(async () => {
    for (const page of pages) await page.close().catch(() => undefined);
    await browser?.close();
    await app?.close();
    await scratch?.drop();
  });

  const newPage = async (): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(UI_TIMEOUT);
    page.on('request', (r) => {
      if (r.url().startsWith(base) && !new URL(r.url()).pathname.startsWith('/dashboard')) requests.add(`${r.method()} ${r.url()}`);
    });
    pages.push(page);
    return page;
  };
  let audited = 0;
  const audit = async (page: Page, where: string) => {
    audited++;
    a11y.push(...(await auditPage(page, where)));
  };
  const login = async (email: string, password: string, path = '/dashboard/'): Promise<Page> => {
    const page = await newPage();
    await page.goto(`${base}${path}`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return page;
  };
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });
  const startRun = async (definition: string, input: unknown) =>
    (await request(app.getHttpServer()).post('/orchestrations/runs').set(as(org.users.operator.token)).send({ definition, input }).expect(201)).body
      .id as string;
  const shot = (page: Page, name: string, fullPage = false) => page.screenshot({ path: join(IMAGES, `${name}.png`), fullPage });
  const openRun = async (page: Page, id: string) => {
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    await page.getByLabel('Find a run by id').fill(id);
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByRole('heading', { name: /^Steps/ }).waitFor();
  };

  it('refuses a wrong password with an error on the form', async () => {
    const page = await newPage();
    await page.goto(`${base}/dashboard/`);
    await page.getByLabel('Email').fill(org.users.admin.email);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Wrong email or password');
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
    await audit(page, 'login (wrong password)');
    await shot(page, 'dashboard-login-error');
  });

  it('starts the approval demo, follows it live, approves it with a modification and shows it in the output', async () => {
    const page = await login(org.users.admin.email, org.users.admin.password);
    await page.getByLabel('Definition to run').selectOption('approval-demo');
    await page.getByLabel(/message/).fill('first draft');
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(/\/dashboard\/runs\/[0-9a-f-]{36}$/);
    const runId = page.url().split('/').at(-1)!;
    await page.locator('[data-step="draft"][data-status="awaiting_approval"]').waitFor();
    expect(await page.getByRole('button', { name: 'draft: Awaiting approval' }).count()).toBe(1);
    await page.getByRole('button', { name: 'draft: Awaiting approval' }).click();
    await page.getByRole('heading', { name: 'Step draft' }).waitFor();
    await audit(page, 'run page (awaiting approval)');
    await shot(page, 'dashboard-run');

    // A second tab keeps the run page open: its DAG must move on by itself when the decision lands.
    const watcher = await login(org.users.viewer.email, org.users.viewer.password);
    await openRun(watcher, runId);
    await watcher.locator('[data-step="publish"][data-status="pending"]').waitFor();

    await page.getByRole('link', { name: 'Open the approvals inbox' }).first().click();
    await page.getByRole('heading', { name: 'Publish this draft?' }).waitFor();
    await page.getByLabel(/Modifications/).fill('{ "text": "approved with an edit" ');
    await page.locator('#modifications-errors').waitFor(); // invalid JSON is flagged inline
    await page.getByLabel(/Modifications/).fill('{ "text": "approved with an edit" }');
    await page.getByLabel(/Comment/).fill('Reworded the draft.');
    await audit(page, 'approvals inbox');
    await shot(page, 'dashboard-approvals');
    await page.getByRole('button', { name: 'Approve (continue)' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Approve (continue)' }).click();
    await page.getByRole('table', { name: 'Modifications diff' }).waitFor();
    expect(await page.getByRole('table', { name: 'Modifications diff' }).textContent()).toContain('approved with an edit');
    await audit(page, 'approval with its decision history');

    await watcher.locator('[data-step="publish"][data-status="completed"]').waitFor();
    await watcher.locator('[data-step="draft"][data-status="completed"]').waitFor();
    await watcher.getByTestId('run-output').getByText(/approved with an edit/).waitFor();
    expect(await watcher.getByText('Completed').first().isVisible()).toBe(true);
    await audit(watcher, 'run page (completed, viewer)');
    await shot(watcher, 'dashboard-run-completed');
    const run = await waitForRun(app, org.users.viewer.token, runId, ['completed']);
    expect(JSON.stringify(run.output)).toContain('approved with an edit');
  });

  it('cancels a run after confirmation', async () => {
    const runId = await startRun('dash-slow', {});
    const page = await login(org.users.operator.email, org.users.operator.password);
    await openRun(page, runId);
    await page.locator('[data-step="nap"][data-status="running"]').waitFor();
    await page.getByRole('button', { name: 'Cancel run…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel run' }).click();
    await page.locator('.page-header [data-status="cancelled"]').waitFor();
    await page.locator('[data-step="after"][data-status="cancelled"]').waitFor();
    await waitForRun(app, org.users.viewer.token, runId, ['cancelled']);
  });

  it('shows a viewer no action buttons', async () => {
    const runId = await startRun('dash-slow', {});
    const approvalRun = await startRun('approval-demo', { message: 'for the viewer' });
    const page = await login(org.users.viewer.email, org.users.viewer.password);
    await page.locator('table[aria-label="Runs"] tbody tr').first().waitFor();
    expect(await page.getByRole('heading', { name: 'Start a run' }).count()).toBe(0);
    await openRun(page, runId);
    await page.locator('[data-step="nap"][data-status="running"]').waitFor();
    await page.getByRole('button', { name: /^first:/ }).click();
    await page.getByRole('heading', { name: 'Step first' }).waitFor();
    for (const name of ['Cancel run…', 'Retry step…', 'Skip step…']) expect(await page.getByRole('button', { name }).count()).toBe(0);
    await page.getByRole('link', { name: 'Approvals', exact: true }).click();
    await page.getByRole('button', { name: /Publish this draft\?/ }).first().waitFor();
    await page.getByText(/may read this approval but not decide it/).waitFor();
    for (const name of ['Approve (continue)', 'Retry step', 'Skip step', 'Abort run']) expect(await page.getByRole('button', { name }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Webhooks' }).count()).toBe(0);
    await request(app.getHttpServer()).post(`/orchestrations/runs/${runId}/cancel`).set(as(org.users.operator.token)).send({}).expect(200);
    void approvalRun;
  });

  it('shows definitions with their versions and diff, webhooks, and the agents page (screenshots)', async () => {
    const slug = 'dash-versions';
    const v1: DefinitionSpec = { slug, name: 'Versions', steps: [{ key: 'a', agent: 'echo', input: { n: 1 } }] };
    await insertDefinition(ds, org.id, v1);
    await request(app.getHttpServer())
      .put(`/orchestrations/definitions/${slug}`)
      .set(as(org.users.admin.token))
      .send({ ...v1, steps: [{ key: 'a', agent: 'echo', input: { n: 2 } }, { key: 'b', agent: 'echo', dependsOn: ['a'], input: {} }] })
      .expect(200);
    await request(app.getHttpServer())
      .post('/webhooks')
      .set(as(org.users.admin.token))
      .send({ url: 'http://127.0.0.1:9/baton-hook', eventTypes: ['run.completed', 'run.failed'], description: 'Ops notifications' })
      .expect(201);
    const page = await login(org.users.admin.email, org.users.admin.password);
    await page.locator('table[aria-label="Runs"] tbody tr').first().waitFor();
    await page.waitForTimeout(300); // let the progress bars fill
    await audit(page, 'runs list');
    await shot(page, 'dashboard-runs');
    await page.getByRole('link', { name: 'Definitions' }).click();
    await page.getByRole('link', { name: /Versions/ }).click();
    await page.getByLabel('Compare with').selectOption('1');
    await page.getByLabel('Line diff').waitFor();
    expect(await page.getByText('Steps added: b').count()).toBe(1);
    await page.getByLabel('Paste YAML (or JSON)').fill('slug: broken\nname: Broken\nsteps:\n  - key: a\n    agent: ghost\n');
    await page.getByRole('button', { name: 'Validate' }).click();
    await page.getByText(/unknown agent/).waitFor();
    await audit(page, 'definitions (diff, validation)');
    await shot(page, 'dashboard-definitions');
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Deliveries' }).waitFor();
    await audit(page, 'webhooks'); // the screenshot is taken by the redelivery test, with deliveries to show
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('link', { name: 'echo', exact: true }).click();
    await page.locator('#agent-title').waitFor();
    await page.getByRole('table', { name: 'Recent steps' }).waitFor(); // the demo runs above ran echo steps
    expect(await page.locator('tr[data-agent="echo"]').textContent()).toMatch(/Active.*Healthy.*Closed/);
    await audit(page, 'agents');
    await shot(page, 'dashboard-agents');
  });

  it('redelivers a dead letter from the Webhooks page after confirmation, once its receiver answers again', async () => {
    // A real receiver on this machine that answers 503 until it is switched to OK.
    let failing = true;
    const received: string[] = [];
    const receiver = createServer((req, res) => {
      req.resume().on('end', () => {
        received.push(String(req.headers['x-orchestration-event-id']));
        res.writeHead(failing ? 503 : 200, { 'Content-Type': 'text/plain' }).end(failing ? 'down for maintenance' : 'ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const hooks = await createTestOrganization(app, ds, 'dash-hooks');
      const admin = as(hooks.users.admin.token);
      await insertDefinition(ds, hooks.id, { slug: 'hooked', name: 'Hooked', steps: [{ key: 'only', agent: 'echo', input: {} }] });
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/baton`;
      const hook = (await request(app.getHttpServer()).post('/webhooks').set(admin).send({ url, eventTypes: ['run.completed'], description: 'Receiver down, then fixed' }).expect(201))
        .body.id as string;
      const runId = (await request(app.getHttpServer()).post('/orchestrations/runs').set(as(hooks.users.operator.token)).send({ definition: 'hooked', input: {} }).expect(201))
        .body.id as string;
      await waitForRun(app, hooks.users.viewer.token, runId, ['completed']);
      // Two attempts answered 503 (two is this suite's BATON_WEBHOOK_MAX_ATTEMPTS): a dead letter.
      const dead = await waitFor(
        async () => (await request(app.getHttpServer()).get(`/webhooks/${hook}/deliveries`).query({ status: 'dead' }).set(admin).expect(200)).body.items[0] as { id: string; eventId: string } | undefined,
        20_000,
        'the delivery to go dead',
      );

      const page = await login(hooks.users.admin.email, hooks.users.admin.password);
      await page.getByRole('link', { name: 'Webhooks' }).click();
      await page.getByRole('button', { name: /Receiver down, then fixed/ }).waitFor();
      await page.getByLabel('Show').selectOption('dead');
      const rows = page.getByRole('table', { name: 'Deliveries' }).locator('tbody tr');
      await rows.locator('[data-status="dead"]').waitFor();
      expect(await rows.count()).toBe(1);
      expect(await rows.first().textContent()).toMatch(new RegExp(`^run\\.completed #${dead.eventId}.*Dead letter2503`));
      await audit(page, 'webhooks (a dead letter)');

      failing = false;
      await rows.first().getByRole('button', { name: 'Redeliver…' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: `Redeliver event #${dead.eventId}?` }).waitFor();
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/deliveries/${dead.id}/redeliver`)),
        dialog.getByRole('button', { name: 'Redeliver', exact: true }).click(),
      ]);
      expect(answer.status()).toBe(202);
      expect(((await answer.json()) as { status: string }).status).toBe('pending');
      const notice = page.getByTestId('redelivery');
      await notice.locator('[data-status="pending"], [data-status="delivering"], [data-status="delivered"]').waitFor();
      await notice.locator('[data-status="delivered"]').waitFor();
      expect(await notice.textContent()).toBe(`Redelivered event #${dead.eventId}: ✓Delivered after attempt 3 (answer: 200)`);
      await page.getByText(/^No dead letters/).waitFor(); // the dead-letter view was reloaded
      await page.getByLabel('Show').selectOption('delivered');
      await rows.locator('[data-status="delivered"]').waitFor();
      expect(await rows.first().textContent()).toMatch(new RegExp(`^run\\.completed #${dead.eventId}.*Delivered3200`));
      expect(received).toEqual([dead.eventId, dead.eventId, dead.eventId]); // the same event each time
      await audit(page, 'webhooks (redelivered)');
      await shot(page, 'dashboard-webhooks');
    } finally {
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });

  it("shows a fan-out's child runs under the step that started them, live, and each child links back to that step", async () => {
    await insertDefinition(ds, org.id, {
      slug: 'dash-child',
      name: 'Child',
      input: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
      steps: [
        { key: 'greet', agent: 'echo', input: { hello: '{{ input.name }}' } },
        { key: 'nap', agent: 'sleep', dependsOn: ['greet'], input: { ms: 700 } },
      ],
    });
    await insertDefinition(ds, org.id, {
      slug: 'dash-fan',
      name: 'Fan-out',
      input: { type: 'object' },
      steps: [
        { key: 'prep', agent: 'echo', input: {} },
        { key: 'each', type: 'orchestration', orchestration: 'dash-child', forEach: '{{ input.names }}', concurrency: 1, input: { name: '{{ item }}' }, dependsOn: ['prep'] },
        { key: 'wrap', agent: 'echo', dependsOn: ['each'], input: { all: '{{ steps.each.output }}' } },
      ],
    });
    const runId = await startRun('dash-fan', { names: ['ann', 'bob', 'cy'] });
    const page = await login(org.users.operator.email, org.users.operator.password);
    await openRun(page, runId);
    // The page was open before the children finished: their rows and the step's counters follow the parent's events.
    const children = page.getByRole('table', { name: 'Child runs of step each' });
    await children.locator('tbody tr').nth(2).waitFor();
    await page.locator('[data-step="each"][data-status="completed"]').waitFor();
    await page.locator('[data-step="wrap"][data-status="completed"]').waitFor();
    await children.locator('tbody tr:has([data-status="completed"])').nth(2).waitFor();
    expect(await children.locator('tbody td:first-child').allTextContents()).toEqual(['#0', '#1', '#2']);
    await page.getByText('3 of 3 started, 3 finished').first().waitFor();
    expect(await page.getByRole('button', { name: /^each: Completed, 3 of 3 child runs finished$/ }).count()).toBe(1);
    await page.getByRole('button', { name: /^each:/ }).click();
    await page.getByRole('heading', { name: 'Step each', exact: true }).waitFor();
    await audit(page, 'run page (sub-orchestrations)');
    await shot(page, 'dashboard-run-children', true);

    await page.getByRole('link', { name: /^Child run [0-9a-f]{8}, item 1$/ }).first().click();
    await page.getByTestId('parent-run').getByText(/started by its step each for item #1/).waitFor();
    await page.locator('[data-step="nap"][data-status="completed"]').waitFor();
    await audit(page, 'run page (child run)');
    await page.getByTestId('parent-run').getByRole('link').click();
    await page.waitForURL(new RegExp(`/dashboard/runs/${runId}\\?step=each$`));
    await page.getByRole('heading', { name: 'Step each', exact: true }).waitFor();
  });

  it('works from the keyboard: sign in, skip link, DAG nodes with arrows and Enter, dialogs closed with Escape', async () => {
    const runId = await startRun('dash-slow', {});
    const page = await newPage();
    await page.goto(`${base}/dashboard/`);
    await page.getByLabel('Email').waitFor(); // the app has rendered: the first Tab lands in the form
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string | undefined>('document.activeElement?.id')).toBe('login-email');
    await page.keyboard.type(org.users.operator.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(org.users.operator.password);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();

    await page.keyboard.press('Tab');
    expect(await page.evaluate<string | undefined>('document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate<string | undefined>('document.activeElement?.id')).toBe('main');
    // Tab from the content reaches the run search, and focus never sticks in one place.
    const visited: string[] = [];
    for (let i = 0; i < 40 && !visited.includes('run-id-search'); i++) {
      await page.keyboard.press('Tab');
      visited.push(await page.evaluate<string>("document.activeElement?.id || document.activeElement?.textContent?.trim().slice(0, 30) || ''"));
    }
    expect(visited).toContain('run-id-search');
    await page.keyboard.type(runId);
    await page.keyboard.press('Enter');
    await page.locator('[data-step="nap"][data-status="running"]').waitFor();

    const focusedStep = () => page.evaluate<string | null | undefined>("document.activeElement?.getAttribute('data-step')");
    await page.locator('[data-step="first"]').focus();
    await page.keyboard.press('ArrowRight');
    expect(await focusedStep()).toBe('nap');
    await page.keyboard.press('ArrowLeft');
    expect(await focusedStep()).toBe('first');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Step nap', exact: true }).waitFor();
    await page.keyboard.press('Space');
    expect(await page.locator('[data-step="nap"]').getAttribute('aria-pressed')).toBe('true');

    await page.getByRole('button', { name: 'Cancel run…' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor();
    expect(await page.evaluate<boolean>("Boolean(document.activeElement?.closest('dialog'))")).toBe(true); // focus moved into it
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    expect(await page.locator('.page-header [data-status="running"]').count()).toBe(1); // Escape cancelled nothing
    await request(app.getHttpServer()).post(`/orchestrations/runs/${runId}/cancel`).set(as(org.users.operator.token)).send({}).expect(200);
  });

  it('renders the runs list over 10,000 runs and a 200-step run (first render measured, not asserted)', async () => {
    const perf = await createTestOrganization(app, ds, 'dash-perf');
    const definitionId = await insertDefinition(ds, perf.id, {
      slug: 'wide',
      name: 'Two hundred steps',
      // 20 layers of 10 echo steps, each depending on the one above it and its neighbour.
      steps: Array.from({ length: 200 }, (_, i) => ({
        key: `s${String(i).padStart(3, '0')}`,
        agent: 'echo',
        dependsOn: i < 10 ? [] : [`s${String(i - 10).padStart(3, '0')}`, ...(i % 10 ? [`s${String(i - 11).padStart(3, '0')}`] : [])],
        input: { i },
      })),
    });
    await ds.query(
      `INSERT INTO orchestration_runs (organization_id, definition_id, definition_slug, definition_version, status, input, created_at, started_at, completed_at)
       SELECT $1, $2, 'wide', 1, 'completed', '{}', now() - g * interval '1 second', now() - g * interval '1 second', now() - g * interval '1 second'
       FROM generate_series(1, 10000) g`,
      [perf.id, definitionId],
    );
    const big = (await request(app.getHttpServer()).post('/orchestrations/runs').set(as(perf.users.operator.token)).send({ definition: 'wide', input: {} }).expect(201))
      .body.id as string;
    await waitForRun(app, perf.users.viewer.token, big, ['completed'], 60_000);

    const page = await login(perf.users.admin.email, perf.users.admin.password, '/dashboard/definitions');
    let t0 = Date.now();
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    await page.locator('table[aria-label="Runs"] tbody tr').nth(24).waitFor();
    const runsListMs = Date.now() - t0;
    expect(await page.getByText(/of 10,001/).count()).toBe(1);

    await page.getByLabel('Find a run by id').fill(big);
    // Where the time goes, from the page's own clock: the click, the two reads, the render.
    await page.evaluate(`(() => {
      performance.clearResourceTimings();
      document.addEventListener('click', () => performance.mark('baton:perf-click'), { capture: true, once: true });
    })()`);
    t0 = Date.now();
    await page.getByRole('button', { name: 'Open' }).click();
    await page.locator('[data-step="s199"][data-status="completed"]').waitFor();
    await page.getByRole('img', { name: /^Timeline of 200 step attempts/ }).waitFor();
    const dagMs = Date.now() - t0;
    const layout = await page.evaluate(() => {
      const entry = performance.getEntriesByName('baton:dag-layout').at(-1) as { duration: number; detail?: { method?: string } } | undefined;
      return { ms: Math.round(entry?.duration ?? -1), method: entry?.detail?.method ?? 'unknown' };
    });
    const phases = await page.evaluate((id) => {
      const at = (name: string) => performance.getEntriesByName(name).at(-1)?.startTime ?? NaN;
      const reads = performance.getEntriesByType('resource') as unknown as { name: string; startTime: number; responseEnd: number }[];
      const events = reads.find((r) => r.name.includes(`/runs/${id}/events`));
      const run = reads.find((r) => new URL(r.name).pathname.endsWith(`/runs/${id}`));
      const click = at('baton:perf-click');
      const round = (ms: number | undefined) => (ms === undefined || Number.isNaN(ms) ? -1 : Math.round(ms));
      return {
        toFirstReadMs: round(events && events.startTime - click),
        eventsReadMs: round(events && events.responseEnd - events.startTime),
        runReadMs: round(run && run.responseEnd - run.startTime),
        renderMs: round(run && at('baton:run-page-rendered') - run.responseEnd),
        clickToRenderedMs: round(at('baton:run-page-rendered') - click),
      };
    }, big);
    expect(await page.locator('[data-step]').count()).toBe(200);
    await page.getByRole('button', { name: /^s105:/ }).click();
    await audit(page, 'run page (200 steps)');
    await shot(page, 'dashboard-run-200-steps');

    const figures = { runsList10kMs: runsListMs, run200StepsMs: dagMs, dagLayoutMs: layout.ms, dagLayoutMethod: layout.method, run200Steps: phases, measuredAt: new Date().toISOString() };
    writeFileSync(join(projectRoot(), 'dist', 'dashboard-perf.json'), JSON.stringify(figures, null, 2));
    console.log(
      `dashboard first render: runs list (10,001 runs) ${runsListMs} ms, run page (200 steps: DAG and timeline) ${dagMs} ms, of which the ${layout.method} layout ${layout.ms} ms` +
        ` (in the page: click to first read ${phases.toFirstReadMs} ms, events read ${phases.eventsReadMs} ms, run read ${phases.runReadMs} ms,` +
        ` render ${phases.renderMs} ms; click to rendered ${phases.clickToRenderedMs} ms)`,
    );
  });

  it('rendered every page it audited without an accessibility problem (and the audit does find problems)', async () => {
    expect(audited).toBeGreaterThanOrEqual(14);
    expect(a11y).toEqual([]);
    const probe = pages.at(-1)!;
    await probe.evaluate(`(() => {
      const main = document.querySelector('main');
      main.insertAdjacentHTML('beforeend', '<p style="color: #aaaaaa">faint</p><input id="unlabelled"><h1>second</h1>');
    })()`);
    const found = await auditPage(probe, 'probe');
    expect(found).toEqual([
      expect.stringMatching(/^probe: contrast 2\.\d+:1 < 4\.5:1 for <p> "faint"/),
      'probe: no accessible name: <input#unlabelled> ""',
      'probe: 2 h1 headings (one expected)',
    ]);
  });

  it('made only requests that Swagger documents, with documented query parameters', async () => {
    const doc = (await request(app.getHttpServer()).get('/docs-json').expect(200)).body as OpenAPIObject;
    expect(requests.size).toBeGreaterThan(20);
    expect(undocumentedRequests(doc, requests)).toEqual([]);
  });
});
