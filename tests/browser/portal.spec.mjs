// The portal in a real browser: Debian's chromium driven by playwright-core, against
// `polmatch serve` on the demo registry (with a grant ledger from one demo night and a 公示, and
// once without a ledger). Plain node, no test framework; exits non-zero on the first failure.
// Screenshots of each view go to BUILD_DIR/browser-screenshots/ (printed at the end), and on a
// failure one of the page as it was.
//
// Usage: node tests/browser/portal.spec.mjs BUILD_DIR      (tools/scripts/browser_test.sh runs it)
// Environment: CHROMIUM (default /usr/bin/chromium).
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
const NO_GRANTS = '91440881A82D12M84L';  // a 湛江 leasing firm of the demo registry

const shots = path.join(build, 'browser-screenshots');
const work = mkdtempSync(path.join(tmpdir(), 'polmatch-browser-'));
let server = null;
const servers = [];
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

// Starts `polmatch serve` on a free port: {port, proc}; proc.log is its stderr so far.
async function startServer(snapshot, extra = []) {
  const proc = spawn(polmatch, ['serve', '--rules', rules, '--snapshot', snapshot, '--port', '0', '--threads', '8', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.log = '';
  servers.push(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('polmatch serve did not start:\n' + proc.log)), 30000);
    proc.stderr.on('data', (chunk) => {
      proc.log += chunk;
      const m = proc.log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), proc });
      }
    });
    proc.on('exit', (code) => reject(new Error('polmatch serve exited with ' + code + ':\n' + proc.log)));
  });
}

async function stopServer(s = server) {
  if (!s || s.exitCode !== null) return null;
  const exited = new Promise((resolve) => s.once('exit', (code, signal) => resolve({ code, signal })));
  s.kill('SIGTERM');
  return exited;
}

async function shot(name, fullPage = false) {
  await page.screenshot({ path: path.join(shots, name + '.png'), fullPage });
}

// GB 32100's check character, to make a well-formed code that no demo firm has.
function withCheckDigit(code17) {
  const chars = '0123456789ABCDEFGHJKLMNPQRTUWXY';
  const weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  let sum = 0;
  for (let i = 0; i < 17; i += 1) sum += chars.indexOf(code17[i]) * weights[i];
  return code17 + chars[(31 - (sum % 31)) % 31];
}

async function main() {
  // The demo registry, indexed.
  const snapshot = path.join(work, 'demo.snap');
  execFileSync(polmatch, ['index', '--rules', rules,
    '--firms', path.join(rules, 'demo/generated_firms.jsonl'),
    '--firms', path.join(rules, 'demo/notable_firms.jsonl'), '--out', snapshot], { stdio: ['ignore', 'ignore', 'pipe'] });
  // A grant ledger: the demo's first night proposes the 免申即享 grants, and §四4's go into a 公示 of
  // 5 working days (a copy of the rules where §四4 asks for one: the seed catalog sets none).
  const ledgerRules = path.join(work, 'rules');
  cpSync(rules, ledgerRules, { recursive: true });
  const catalog = path.join(ledgerRules, 'policies/shanwei-2021.textproto');
  writeFileSync(catalog, readFileSync(catalog, 'utf8').replace(`id: "${POLICY}"`, `id: "${POLICY}" publicity_days: 5`));
  const ledger = path.join(work, 'grants.db');
  execFileSync(polmatch, ['batch', '--rules', ledgerRules, '--snapshot', snapshot, '--as-of', '2021-06-30',
    '--out', path.join(work, 'night'), '--ledger', ledger], { stdio: ['ignore', 'ignore', 'pipe'] });
  execFileSync(polmatch, ['grants', 'publish', '--ledger', ledger, '--policy', POLICY, '--from', '2021-09-28',
    '--rules', ledgerRules, '--out', path.join(work, 'lists')], { stdio: ['ignore', 'ignore', 'pipe'] });
  mkdirSync(shots, { recursive: true });
  const started = await startServer(snapshot, ['--ledger', ledger]);
  server = started.proc;
  const base = `http://127.0.0.1:${started.port}`;
  const allowed = [base + '/'];
  ok('polmatch serve --ledger listens on ' + base);

  context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    locale: 'zh-CN',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context.setDefaultTimeout(15000);
  // The portal must need nothing but its own server (no CDN): anything else is recorded and refused.
  const foreign = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (allowed.some((b) => url.startsWith(b))) return route.continue();
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
  await shot('explanation');
  await dialog.locator('#explain-close').click();
  await dialog.waitFor({ state: 'hidden' });

  // The firm's grants from the ledger: §四4's one-off grant, in 公示 from 2021-09-28.
  const grant = page.locator(`#grants-body .card[data-grant="${POLICY}/${FIRM}/ONCE"]`);
  await grant.waitFor();
  check((await grant.locator('.state').textContent()) === '公示中', 'grant state 公示中');
  const grantText = await grant.textContent();
  for (const want of ['新型研发机构引进资助', '一次性', '2,000,000.00 元', '公示期:2021-09-28 至 2021-10-09', '2021-06-30 拟兑现']) {
    check(grantText.includes(want), 'grant shows ' + want + ': ' + grantText);
  }
  check(await page.locator('#firm-results-summary a.permalink').getAttribute('href') === `#firm=${FIRM}&as_of=2021-06-30`,
    'a link to this firm on this date');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot('firm', true);
  await page.locator('#grants').scrollIntoViewIfNeeded();
  await shot('firm-grants');
  ok('grants: ' + POLICY + ' 公示中 2021-09-28 至 2021-10-09, 2,000,000.00 元; dated link');

  // A firm with no grants in the ledger.
  await page.fill('#firm-code', NO_GRANTS);
  await page.click('#firm-submit');
  await page.locator('#grants-message').waitFor();
  check((await page.locator('#grants-message').textContent()).startsWith('暂无兑现记录'), 'no grants, in Chinese');
  ok('a firm without grants: ' + await page.locator('#grants-message').textContent());

  // A malformed code is refused in Chinese before any request, and the old results go.
  await page.fill('#firm-code', '91441502MA4W0PA9X9');
  await page.click('#firm-submit');
  await page.locator('#firm-status.error').waitFor();
  check((await page.locator('#firm-status').textContent()).includes('校验位不正确:第 18 位应为 8'), 'bad check digit, in Chinese');
  check(await page.locator('#firm-results .card').count() === 0, 'the previous firm\'s results are cleared');
  check(await page.locator('#grants').isHidden(), 'the previous firm\'s grants are cleared');
  ok('bad check digit: ' + await page.locator('#firm-status').textContent());

  // An unknown firm (a well-formed code no demo firm has): the server's 404, told in Chinese.
  const unknown = withCheckDigit('91441502MA0000000');
  await page.fill('#firm-code', unknown);
  await page.click('#firm-submit');
  await page.locator('#firm-status.error').waitFor();
  const unknownText = await page.locator('#firm-status').textContent();
  check(unknownText.startsWith('未找到统一社会信用代码为 ' + unknown + ' 的企业'), 'unknown firm in Chinese: ' + unknownText);
  check(!/[a-z]{3,}/.test(unknownText.split('技术详情')[0]), 'no English before the staff toggle');
  await shot('error-unknown-firm');
  ok('unknown firm: ' + unknownText.split('技术详情')[0]);

  // 政策计算器: a 公益类新型研发机构 in 汕尾 with 1200万 of new R&D equipment: 20% is 240万,
  // capped at 200万 for the public-interest kind.
  await page.click('#tab-calc');
  const factIds = [...readFileSync(path.join(rules, 'taxonomy/tags.textproto'), 'utf8').matchAll(/^fact \{ id: "([^"]+)"/gm)]
    .map((m) => m[1]);
  const offered = await page.locator('[data-fact]').evaluateAll((xs) => xs.map((x) => x.dataset.fact));
  check(factIds.length >= 19 && offered.slice().sort().join() === factIds.slice().sort().join(),
    `every fact of the tag library offered (${offered.length} of ${factIds.length})`);
  const groups = await page.locator('#calc-facts fieldset legend').allTextContents();
  check(groups.includes('财务') && groups.includes('研发与知识产权') && !groups.includes('其他数据'), 'facts grouped: ' + groups.join(' / '));
  const tagGroups = await page.locator('#calc-tags fieldset legend').allTextContents();
  check(tagGroups.includes('资质') && tagGroups.includes('创新平台与机构'), 'tags grouped by the library: ' + tagGroups.join(' / '));
  ok(`calculator offers all ${offered.length} facts (${groups.join(' / ')}) and the tags under ${tagGroups.join(' / ')}`);

  // An empty submit prompts and shows nothing.
  await page.click('#calc-submit');
  await page.locator('#calc-status.error').waitFor();
  check((await page.locator('#calc-status').textContent()).startsWith('请先填写企业情况'), 'empty submit prompts in Chinese');
  check(await page.locator('#calc-results > *').count() === 0, 'empty submit shows no results');

  await page.fill('#calc-region', '汕尾');
  const first = page.locator('#calc-region-list button').first();
  await first.waitFor();
  check(await first.getAttribute('data-code') === '441500' && (await first.textContent()).startsWith('汕尾市'),
    '汕尾 suggests 汕尾市 441500 first: ' + await first.textContent());
  await shot('calculator-region-search');
  await page.fill('#calc-industry', '研究和试验发展');
  await page.fill('#calc-as-of', '2021-06-30');
  await page.fill('#fact-new_rd_equipment_investment', '1200万');
  await page.check('[data-tag="org.new_rd_institution.public_interest"]');
  for (const tag of ['org.co_built_local', 'field.shanwei_industry_direction', 'org.core_tech_team']) {
    await page.check(`[data-tag="${tag}"]`);
  }
  await page.click('#calc-submit');
  const calcCard = page.locator(`#calc-results .card[data-policy="${POLICY}"]`);
  await calcCard.waitFor();
  check(await page.locator('#calc-region-picked').getAttribute('data-code') === '441500', '汕尾 resolved to 441500');
  check(await page.locator('#calc-industry-picked').getAttribute('data-code') === 'M73', '研究和试验发展 resolved to M73');
  check((await page.locator('#calc-region-name').textContent()) === '广东省 汕尾市', 'the region by name');
  check(await calcCard.getAttribute('data-status') === 'ELIGIBLE', 'calculator: ELIGIBLE');
  check(await calcCard.locator('.amount').getAttribute('data-amount') === '2000000.00', 'calculator: 2000000.00');
  await shot('calculator');
  await calcCard.locator('.explain-btn').click();
  await dialog.locator('#explain-source').waitFor();
  check(await dialog.locator('#explain-conditions tr').count() === 6, 'calculator explanation');
  const calcWhy = await dialog.locator('#explain-summary').textContent();
  check(calcWhy.includes('1,200万元 × 20% = 240万元'), '1200万 read as 12,000,000 元: ' + calcWhy);
  await dialog.locator('#explain-close').click();
  ok('政策计算器 with 汕尾 and 1200万: ' + POLICY + ' 可享受 2,000,000.00 元 (' + calcWhy + ')');

  // Amounts: 1.2亿 and 12,000,000 are read; garbage is refused in Chinese and clears the results.
  for (const [typed, good] of [['1.2亿', true], ['12,000,000', true], ['12万万', false], ['1,2,3', false], ['abc', false]]) {
    await page.fill('#fact-revenue', typed);
    await page.click('#calc-submit');
    if (good) {
      await calcCard.waitFor();
    } else {
      await page.locator('#calc-status.error').waitFor();
      check((await page.locator('#calc-status').textContent()).startsWith('“年营业收入”无法识别'), typed + ' refused in Chinese');
      check(await page.locator('#calc-results > *').count() === 0, typed + ': the previous results are cleared');
    }
  }
  await page.fill('#fact-revenue', '');
  ok('amounts: 1.2亿 and 12,000,000 accepted; 12万万, 1,2,3 and abc refused in Chinese, results cleared');

  // Text reaches the page as text, never markup: a message echoing the input shows it verbatim.
  await page.evaluate(() => { document.getElementById('calc-region').value = '<img src=x onerror="window.pwned=1">'; });
  await page.click('#calc-submit');
  await page.locator('#calc-status.error').waitFor();
  check((await page.locator('#calc-status').textContent()).includes('<img src=x'), 'error shown as text');
  check(await page.locator('#calc-status img').count() === 0, 'no element injected');
  check(await page.evaluate(() => window.pwned === undefined), 'no script ran');
  ok('input is inserted as text');

  // 政策清单 on 2021-06-30: every policy in force that day, with its issuer, document and mode.
  const inForce = await (await page.request.get(base + '/api/v1/policies?as_of=2021-06-30')).json();
  await page.click('#tab-policies');
  await page.fill('#policies-as-of', '2021-06-30');
  await page.click('#policies-submit');
  await page.waitForFunction(() => (document.getElementById('policies-summary') || {}).textContent?.startsWith('2021-06-30'));
  const summaryText = await page.locator('#policies-summary').textContent();
  check(summaryText.includes('有效的政策 ' + inForce.policies.length + ' 项'), 'the count of policies in force: ' + summaryText);
  check(await page.locator('#policies-table tbody tr').count() === Math.min(100, inForce.policies.length), 'one row each');
  const prow = page.locator(`#policies-table tr[data-policy="${POLICY}"]`);
  check((await prow.locator('.badge').textContent()) === '免申即享', 'AUTO_GRANT shown as 免申即享');
  check((await prow.textContent()).includes('2021年汕尾市科技服务业能级提升工作方案'), 'the document');
  await prow.locator('summary').first().click();
  await prow.locator('.validity').waitFor();
  check(/^\d{4}-\d{2}-\d{2} 至 /.test(await prow.locator('.validity').textContent()), 'validity shown');
  check(await page.locator('#policies-summary a.permalink').getAttribute('href') === '#policies&as_of=2021-06-30',
    'a link to the list of this date');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot('policies');
  await page.fill('#policies-filter', '汕尾');
  const filtered = await page.locator('#policies-table tbody tr').count();
  check(filtered > 0 && filtered < inForce.policies.length, 'filter 汕尾: ' + filtered);
  ok(`政策清单: ${inForce.policies.length} policies in force on 2021-06-30, ${POLICY} 免申即享 with its validity; ${filtered} match 汕尾`);

  // The dated link opens the list of that date.
  await page.goto('about:blank');
  await page.goto(base + '/#policies&as_of=2021-06-30');
  await page.waitForFunction(() => (document.getElementById('policies-summary') || {}).textContent?.startsWith('2021-06-30'));
  ok('#policies&as_of=2021-06-30 opens the list of that date');

  // Without a ledger, the grants panel says so in Chinese.
  const plain = await startServer(snapshot);
  const plainBase = `http://127.0.0.1:${plain.port}`;
  allowed.push(plainBase + '/');
  await page.goto(`${plainBase}/#firm=${FIRM}&as_of=2021-06-30`);
  await page.locator('#grants-message').waitFor();
  check((await page.locator('#grants-message').textContent()).includes('未接入兑现台账'), 'no ledger, in Chinese');
  check((await page.locator('#firm-name').textContent()) === '汕尾海峰新型研发研究院有限公司', 'the firm still shown');
  await page.locator('#grants').scrollIntoViewIfNeeded();
  await shot('grants-no-ledger');
  ok('serve without --ledger: ' + await page.locator('#grants-message').textContent());
  const plainExit = await stopServer(plain.proc);
  check(plainExit && plainExit.code === 0, 'the second serve exits 0');

  // On a phone: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/#firm=${FIRM}&as_of=2021-06-30`);
  await page.locator('#grants-body .card').waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, 'no horizontal scrolling at 390 px: ' + overflow);
  await shot('phone-firm');
  const size = (await (await page.request.get(base + '/')).body()).length;
  ok(`phone viewport 390×844 without horizontal scrolling; the page is ${size} bytes, nothing fetched elsewhere`);

  check(foreign.length === 0, 'requests outside the server: ' + foreign.join(', '));
  check(pageErrors.length === 0, 'page errors: ' + pageErrors.join('; '));
  ok('no request left the server; no page errors');

  await context.close();
  context = null;
  const exit = await stopServer();
  check(exit && exit.code === 0, 'serve exits 0 on SIGTERM: ' + JSON.stringify(exit));
  check(/GET \/api\/v1\/firms\/91441502MA4W0PA9X8\/matches\?as_of=2021-06-30 200 \d+us/.test(server.log), 'access log');
  ok('serve logged each request and exited 0 on SIGTERM');
  console.log('# screenshots: ' + shots);
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
  for (const s of servers) {
    if (s.log) console.error('# server log (last lines):\n' + s.log.split('\n').slice(-15).join('\n'));
  }
  process.exitCode = 1;
} finally {
  if (context) await context.close().catch(() => {});
  for (const s of servers) await stopServer(s);
  rmSync(work, { recursive: true, force: true });
}
