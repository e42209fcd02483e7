// Drives the web console in headless Chromium with playwright-core
// (run by tests/console.rs; see scripts/browser.sh). Environment:
//
//   VIGIL_CONSOLE_URL     base URL of a running vigil (http://127.0.0.1:PORT)
//   VIGIL_CONSOLE_TOKEN   a responder token
//   VIGIL_CONSOLE_ACTOR   that token's name (expected in the timeline)
//   VIGIL_TEST_CHROMIUM   the Chromium executable
//   VIGIL_PLAYWRIGHT_DIR  a folder with node_modules/playwright-core
//   VIGIL_ARTIFACTS       where screenshots go
//
// Steps: a wrong token is refused; sign in; the list shows incidents grouped
// by level and goes live; open an unacknowledged incident (chart and
// timeline shown), acknowledge it, see the state change there and in the
// list; acknowledge another incident from outside the browser and see the
// list change live (server-sent events); acknowledge a third with the
// list's own button; report an incident by hand with the list's form, see
// it opened with its playbook and response-target clock, tick a playbook
// step, give a role and record a status update. Prints one JSON line of results; exits 1 on failure.
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const base = env('VIGIL_CONSOLE_URL');
const token = env('VIGIL_CONSOLE_TOKEN');
const actor = env('VIGIL_CONSOLE_ACTOR');
const artifacts = env('VIGIL_ARTIFACTS');
const require = createRequire(path.join(env('VIGIL_PLAYWRIGHT_DIR'), 'package.json'));
const { chromium } = require('playwright-core');

const UNACKED = ['open', 'escalated', 'reopened'];
const log = (step, extra) => console.error(JSON.stringify({ step, ...extra }));

async function apiAck(id) {
  const r = await fetch(`${base}/api/v1/incidents/${encodeURIComponent(id)}/ack`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!r.ok) throw new Error(`ack ${id} from outside: HTTP ${r.status} ${await r.text()}`);
}

async function rowStates(page) {
  return page.$$eval('[data-testid="incident-row"]', (rows) =>
    rows.map((r) => ({ id: r.dataset.id, state: r.dataset.state, level: r.closest('[data-level]').dataset.level })));
}

const rowState = (page, id) =>
  page.locator(`[data-testid="incident-row"][data-id="${id}"] [data-testid="incident-state"]`);

async function main() {
  fs.mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({
    executablePath: env('VIGIL_TEST_CHROMIUM'),
    headless: true,
    // Root in a container has no user namespaces for Chromium's sandbox.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const result = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.setDefaultTimeout(15000);

    await page.goto(`${base}/ui/`);
    await page.getByLabel('API token').waitFor();
    log('login page');

    await page.getByLabel('API token').fill('not-a-token-0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('login-error').filter({ hasText: 'unknown token' }).waitFor();
    log('wrong token refused');
    // The refused token's 401 is expected; anything after this is a problem.
    problems.length = 0;

    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid="incident-row"]').first().waitFor();
    await page.getByTestId('live-status').filter({ hasText: 'live' }).waitFor();
    await page.getByTestId('whoami').filter({ hasText: `${actor} (responder)` }).waitFor();
    let rows = await rowStates(page);
    result.incidents = rows.length;
    result.groups = [...new Set(rows.map((r) => r.level))];
    log('list', { rows });
    const unacked = rows.filter((r) => UNACKED.includes(r.state));
    if (unacked.length < 3) throw new Error(`want 3 unacknowledged incidents, have ${JSON.stringify(rows)}`);
    // The major incident first: its page must show the burst's stories.
    unacked.sort((a, b) => (b.level === 'major') - (a.level === 'major'));
    const [first, second, third] = unacked;

    // 1. Acknowledge from the incident page.
    await page.locator(`[data-testid="incident-row"][data-id="${first.id}"] [data-testid="incident-link"]`).click();
    await page.getByTestId('detail-state').filter({ hasText: first.state }).waitFor();
    // A flat line has an empty bounding box, which Playwright calls hidden.
    await page.getByTestId('chart-observed').waitFor({ state: 'attached' });
    await page.getByTestId('chart-baseline').waitFor({ state: 'attached' });
    result.chart_points = Number(await page.getByTestId('volume-chart').getAttribute('data-points'));
    // What people say: the stories of the opening alert, with their counts.
    await page.getByTestId('story').first().waitFor();
    result.stories = await page.$$eval('[data-testid="story"]', (items) => items.map((li) => ({
      count: li.querySelector('[data-testid="story-count"]').textContent,
      text: li.querySelector('[data-testid="story-text"]').textContent,
    })));
    // Post text is text, never markup.
    result.markup_in_evidence = await page.$$eval('#evidence img, #evidence b, #evidence script', (e) => e.length);
    result.samples = await page.getByTestId('sample').count();
    result.evidence_when = await page.getByTestId('evidence-when').innerText();
    await page.getByTestId('stories').screenshot({ path: path.join(artifacts, 'console-stories.png') });
    if (!(result.chart_points >= 1)) throw new Error(`chart has ${result.chart_points} points`);
    const before = await page.getByTestId('timeline-event').count();
    await page.getByTestId('ack-button').click();
    await page.getByTestId('detail-state').filter({ hasText: 'acknowledged' }).waitFor();
    await page.getByTestId('timeline-event').nth(before).waitFor();
    const last = await page.getByTestId('timeline-event').last().innerText();
    if (!last.includes(actor) || !last.includes('Acknowledged')) {
      throw new Error(`last timeline event is ${JSON.stringify(last)}`);
    }
    await page.getByTestId('action-result').filter({ hasText: 'Acknowledged.' }).waitFor();
    await page.screenshot({ path: path.join(artifacts, 'console-incident.png'), fullPage: true });
    result.acknowledged_on_page = first.id;
    log('acknowledged on the incident page', { id: first.id, chart_points: result.chart_points });

    await page.getByRole('link', { name: '← All incidents' }).click();
    await rowState(page, first.id).filter({ hasText: 'acknowledged' }).waitFor();
    log('list shows it acknowledged', { id: first.id });

    // 2. Another client acknowledges: the list changes live, no reload.
    await page.getByTestId('live-status').filter({ hasText: 'live' }).waitFor();
    await page.evaluate(() => { window.__vigilNoReload = true; });
    await apiAck(second.id);
    await rowState(page, second.id).filter({ hasText: 'acknowledged' }).waitFor();
    if (!(await page.evaluate(() => window.__vigilNoReload === true))) throw new Error('the page reloaded');
    result.acknowledged_live = second.id;
    log('live update', { id: second.id });

    // 3. The list's own Acknowledge button.
    await page.getByRole('button', { name: `Acknowledge ${third.id}` }).click();
    await rowState(page, third.id).filter({ hasText: 'acknowledged' }).waitFor();
    result.acknowledged_from_list = third.id;
    log('acknowledged from the list', { id: third.id });

    const shot = path.join(artifacts, 'console-ack.png');
    await page.screenshot({ path: shot, fullPage: true });
    result.screenshot = shot;

    if (problems.length) throw new Error(problems.join('; '));
    rows = await rowStates(page);
    result.states = Object.fromEntries(rows.map((r) => [r.id, r.state]));

    // 4. Report an incident by hand (issue 15): the form opens a new
    // incident, shown with its report and a `reported` timeline event.
    await page.getByText('Report an incident', { exact: true }).click();
    await page.locator('#report-title').fill('Cracked jars in Shanghai stores');
    await page.locator('#report-level').selectOption('moderate');
    await page.locator('#report-kind').selectOption('product_safety');
    await page.locator('#report-description').fill('Three customers sent photos');
    await page.locator('#report-links').fill('https://weibo.example/p/1\n  \nhttps://x.example/s/2');
    await page.getByTestId('report-button').click();
    await page.getByTestId('action-result').filter({ hasText: 'Reported: a new incident.' }).waitFor();
    await page.locator('#incident-title').filter({ hasText: 'Cracked jars in Shanghai stores' }).waitFor();
    await page.getByTestId('detail-level').filter({ hasText: 'moderate' }).waitFor();
    const firstEvent = await page.getByTestId('timeline-event').first().innerText();
    if (!firstEvent.includes(actor) || !firstEvent.includes('Reported at moderate: Cracked jars in Shanghai stores')) {
      throw new Error(`first timeline event is ${JSON.stringify(firstEvent)}`);
    }
    result.report_links = await page.$$eval('#incident-facts a', (a) => a.map((x) => x.getAttribute('href')));
    // Its response-target clock, a role and a status update that meets it.
    await page.locator('[data-testid="clock"][data-target="respond"]').waitFor();
    await page.locator('#role-select').selectOption('communications');
    await page.locator('#role-person').fill('erin');
    await page.getByTestId('role-button').click();
    await page.getByTestId('action-result').filter({ hasText: 'Role set.' }).waitFor();
    // A holding statement drafted from the Chinese product-safety
    // template, edited, and published to the stakeholders.
    await page.locator('#status-draft option', { hasText: 'product_safety.zh' }).waitFor({ state: 'attached' });
    await page.locator('#status-draft').selectOption({ label: 'product_safety.zh (zh)' });
    result.draft = await page.locator('#status-input').inputValue();
    await page.locator('#status-input').fill(result.draft + ' We are investigating reports of cracked jars.');
    await page.getByTestId('status-publish').check();
    await page.getByTestId('status-button').click();
    await page.getByTestId('action-result').filter({ hasText: 'Status update recorded.' }).waitFor();
    // Its playbook (product safety, moderate: the kind's checklist): tick
    // the second step.
    await page.getByTestId('checklist').waitFor();
    result.playbook = await page.locator('#playbook-title').innerText();
    await page.locator('[data-testid="step"][data-step="1"] [data-testid="step-box"]').check();
    await page.getByTestId('action-result').filter({ hasText: 'Step updated.' }).waitFor();
    await page.locator('[data-testid="step"][data-step="1"].step-done').waitFor();
    result.step_event = await page.getByTestId('timeline-event').last().innerText();
    result.respond_clock = await page.locator('[data-testid="clock"][data-target="respond"] [data-testid="clock-status"]').innerText();
    result.reported = decodeURIComponent(new URL(page.url()).hash.replace('#/incidents/', ''));
    await page.screenshot({ path: path.join(artifacts, 'console-report.png'), fullPage: true });
    log('reported by hand', { id: result.reported });
    await page.getByRole('link', { name: '← All incidents' }).click();
    await page.getByTestId('incident-title').filter({ hasText: 'Cracked jars in Shanghai stores' }).waitFor();

    // 5. The period report (the last 30 days by default).
    await page.getByTestId('report-link').click();
    await page.getByTestId('period-summary').filter({ hasText: 'incidents (' }).waitFor();
    result.period_summary = await page.getByTestId('period-summary').innerText();
    result.period_tables = await page.locator('#period-tables table').count();
    await page.screenshot({ path: path.join(artifacts, 'console-period.png'), fullPage: true });
    if (problems.length) throw new Error(problems.join('; '));
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(`FAILED: ${e.stack || e}`);
  process.exit(1);
});
