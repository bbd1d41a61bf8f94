// The portal in a real browser: Debian's chromium driven by playwright-core, against
// `polmatch serve` on the demo registry. Plain node, no test framework; exits non-zero on the
// first failure, leaving a screenshot of the page next to the build.
//
// Usage: node tests/browser/portal.spec.mjs BUILD_DIR      (tools/scripts/browser_test.sh runs it)
// Environment: CHROMIUM (default /usr/bin/chromium).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const build = path.resolve(process.argv[2] || path.join(root, 'build'));
const polmatch = path.join(build, 'tools/polmatch');
const rules = path.join(root, 'rules');
const FIRM = '91441502MA4W0PA9X8';
const POLICY = 'shanwei-2021.4.4';

const work = mkdtempSync(path.join(tmpdir(), 'polmatch-browser-'));
let server = null;
let serverLog = '';
let context = null;
let page = null;
let passed = 0;

function check(condition, message) {
  if (!condition) throw new Error('check failed: ' + message);
}
function ok(message) {
  passed += 1;
  console.log('ok ' + passed + ' - ' + message);
}

async function startServer(snapshot) {
  server = spawn(polmatch, ['serve', '--rules', rules, '--snapshot', snapshot, '--port', '0', '--threads', '8'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('polmatch serve did not start:\n' + serverLog)), 30000);
    server.stderr.on('data', (chunk) => {
      serverLog += chunk;
      const m = serverLog.match(/listening on http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    server.on('exit', (code) => reject(new Error('polmatch serve exited with ' + code + ':\n' + serverLog)));
  });
}

async function stopServer() {
  if (!server || server.exitCode !== null) return null;
  const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
  server.kill('SIGTERM');
  return exited;
}

async function main() {
  // The demo registry, indexed.
  const snapshot = path.join(work, 'demo.snap');
  execFileSync(polmatch, ['index', '--rules', rules,
    '--firms', path.join(rules, 'demo/generated_firms.jsonl'),
    '--firms', path.join(rules, 'demo/notable_firms.jsonl'), '--out', snapshot], { stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await startServer(snapshot);
  const base = `http://127.0.0.1:${port}`;
  ok('polmatch serve listens on ' + base);

  context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context.setDefaultTimeout(15000);
  // The portal must need nothing but its own server (no CDN): anything else is recorded and refused.
  const foreign = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(base + '/')) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  page = context.pages()[0] || await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // Console errors, except the browser's own note on the 4xx answers this test provokes.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
  });

  await page.goto(base + '/');
  check((await page.title()).includes('惠企政策'), 'page title');
  ok('portal page loads');

  // Find the demo firm as of 2021-06-30.
  await page.fill('#firm-code', FIRM);
  await page.fill('#firm-as-of', '2021-06-30');
  await page.click('#firm-submit');
  const card = page.locator(`#firm-results .card[data-policy="${POLICY}"]`);
  await card.waitFor();
  check(await card.getAttribute('data-status') === 'ELIGIBLE', POLICY + ' is ELIGIBLE');
  check(await card.locator('.amount').getAttribute('data-amount') === '2000000.00', 'amount 2000000.00');
  check((await card.locator('.amount').textContent()).includes('2,000,000.00'), 'amount shown as 2,000,000.00 元');
  check((await card.locator('.badge').textContent()) === '免申即享', '免申即享 badge');
  check(await page.locator('#firm-results-ELIGIBLE').locator(`[data-policy="${POLICY}"]`).count() === 1,
    'listed under 可享受');
  ok(`firm ${FIRM}: ${POLICY} 可享受 2,000,000.00 元, 免申即享`);

  const undetermined = page.locator('#firm-results-UNDETERMINED .card').first();
  check((await undetermined.textContent()).includes('科技服务直接费用'), '待补充数据 names the missing fact in Chinese');
  check((await page.locator('#firm-name').textContent()) === '汕尾海峰新型研发研究院有限公司', 'the firm\'s name');
  const ineligible = await page.locator('#firm-results-INELIGIBLE summary').textContent();
  check(/不符合 \d+ 项/.test(ineligible), '不符合 collapsed with a count: ' + ineligible);
  check(!(await page.locator('#firm-results-INELIGIBLE').evaluate((d) => d.open)), '不符合 collapsed');
  ok('待补充数据 shows the data needed; 不符合 is collapsed: ' + ineligible);

  // Its explanation: conditions, benefit computation, source document and quote.
  await card.locator('.explain-btn').click();
  const dialog = page.locator('dialog#explain');
  await dialog.locator('#explain-source').waitFor();
  const rows = dialog.locator('#explain-conditions tr');
  // 新型研发机构, 汕尾, 与本市企业共建, 产业方向, 核心技术与团队, 投资额 (rules/policies/shanwei-2021.textproto).
  check(await rows.count() === 6, 'six conditions');
  for (let i = 0; i < 6; i += 1) {
    check((await rows.nth(i).locator('td.mark').textContent()) === '✓', 'condition ' + i + ' ✓');
  }
  check((await dialog.locator('#explain-benefit').textContent()).includes('2,000,000.00'), 'benefit in explanation');
  check((await dialog.locator('#explain-benefit').textContent()).includes('new_rd_equipment_investment * 20%'),
    'benefit rule behind 规则原文');
  check((await dialog.locator('#explain-summary').textContent()).includes('新增研发仪器设备投资额1,500万元 × 20% = 300万元'),
    'benefit computation in Chinese');
  check((await rows.nth(1).textContent()).includes('注册地在汕尾市'), 'conditions in Chinese');
  check(!(await rows.nth(1).locator('details.rule').evaluate((d) => d.open)), 'rule text behind a closed 规则原文 toggle');
  await rows.nth(1).locator('details.rule summary').click();
  check((await rows.nth(1).locator('details.rule .expr').textContent()) === 'region under "441500"', '规则原文 opens');
  const source = await dialog.locator('#explain-source').textContent();
  check(source.includes('2021年汕尾市科技服务业能级提升工作方案'), 'source document');
  check(source.includes('新增研發儀器設備實際投資額的20%'), 'source quote (verbatim, in the document\'s traditional characters)');
  ok('explanation: 6 conditions ✓, benefit computation, source document and quote');
  await dialog.locator('#explain-close').click();
  await dialog.waitFor({ state: 'hidden' });

  // A malformed code is refused with a message, and the page keeps working.
  await page.fill('#firm-code', '91441502MA4W0PA9X9');
  await page.click('#firm-submit');
  await page.locator('#firm-status.error').waitFor();
  check((await page.locator('#firm-status').textContent()).includes('check'), 'bad check digit reported');
  ok('bad check digit reported: ' + await page.locator('#firm-status').textContent());

  // 政策计算器: a 公益类新型研发机构 in 汕尾城区 with 1500万 of new R&D equipment.
  await page.click('#tab-calc');
  await page.fill('#calc-region', '441502');
  await page.fill('#calc-industry', 'M73');
  await page.fill('#calc-as-of', '2021-06-30');
  await page.fill('#fact-new_rd_equipment_investment', '15,000,000');
  await page.check('[data-tag="org.new_rd_institution.public_interest"]');
  for (const tag of ['org.co_built_local', 'field.shanwei_industry_direction', 'org.core_tech_team']) {
    await page.check(`[data-tag="${tag}"]`);
  }
  await page.click('#calc-submit');
  const calcCard = page.locator(`#calc-results .card[data-policy="${POLICY}"]`);
  await calcCard.waitFor();
  check(await calcCard.getAttribute('data-status') === 'ELIGIBLE', 'calculator: ELIGIBLE');
  check(await calcCard.locator('.amount').getAttribute('data-amount') === '2000000.00', 'calculator: 2000000.00');
  await calcCard.locator('.explain-btn').click();
  await dialog.locator('#explain-source').waitFor();
  check(await dialog.locator('#explain-conditions tr').count() === 6, 'calculator explanation');
  await dialog.locator('#explain-close').click();
  ok('政策计算器: ' + POLICY + ' 可享受 2,000,000.00 元, explained');

  // Data from the server is text, never markup: an error echoing the input shows it verbatim.
  await page.evaluate(() => { document.getElementById('calc-region').value = '<img src=x onerror="window.pwned=1">'; });
  await page.click('#calc-submit');
  await page.locator('#calc-status.error').waitFor();
  check((await page.locator('#calc-status').textContent()).includes('<img src=x'), 'error shown as text');
  check(await page.locator('#calc-status img').count() === 0, 'no element injected');
  check(await page.evaluate(() => window.pwned === undefined), 'no script ran');
  ok('server data is inserted as text');

  check(foreign.length === 0, 'requests outside the server: ' + foreign.join(', '));
  check(pageErrors.length === 0, 'page errors: ' + pageErrors.join('; '));
  ok('no request left the server; no page errors');

  await context.close();
  context = null;
  const exit = await stopServer();
  check(exit && exit.code === 0, 'serve exits 0 on SIGTERM: ' + JSON.stringify(exit));
  check(/GET \/api\/v1\/firms\/91441502MA4W0PA9X8\/matches\?as_of=2021-06-30 200 \d+us/.test(serverLog), 'access log');
  ok('serve logged each request and exited 0 on SIGTERM');
}

try {
  await main();
  console.log(`# ${passed} passed`);
} catch (e) {
  console.error('not ok - ' + (e && e.stack ? e.stack : e));
  if (page) {
    const shot = path.join(build, 'portal-browser-failure.png');
    try {
      await page.screenshot({ path: shot, fullPage: true });
      console.error('# screenshot: ' + shot);
    } catch (s) {
      console.error('# no screenshot: ' + s);
    }
  }
  if (serverLog) console.error('# server log (last lines):\n' + serverLog.split('\n').slice(-15).join('\n'));
  process.exitCode = 1;
} finally {
  if (context) await context.close().catch(() => {});
  await stopServer();
  rmSync(work, { recursive: true, force: true });
}
