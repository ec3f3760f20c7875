// Browser test of the web UI, run by tests/e2e/ui_e2e.py against a live node:
// headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core.
//
//   open / ─▶ a bad order shows the server's 400 details ─▶ a good order is
//   placed through the form ─▶ the list shows it CONFIRMED without a reload ─▶
//   its page shows the timeline and correlation id ─▶ an order with a dead
//   letter shows it ─▶ the dead-letters page asks for the operator token (a
//   wrong one is refused), then lists the dead letter, escaped, and redrives it.
//
// Environment: TROUPE_URL (the node), TROUPE_SCREENSHOT_DIR, TROUPE_DLQ_ORDER_ID
// (an order with a dead letter keyed by its id), TROUPE_ADMIN_TOKEN (the
// node's operator token). Exit code 0 only if every
// check passed; the last line of output is `RESULT {json}`.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const url = process.env.TROUPE_URL;
const shots = process.env.TROUPE_SCREENSHOT_DIR;
const dlqOrder = process.env.TROUPE_DLQ_ORDER_ID;
const adminToken = process.env.TROUPE_ADMIN_TOKEN;
// An open order the test may cancel (no payment result will ever end it).
const openOrder = process.env.TROUPE_OPEN_ORDER_ID;
if (!url || !shots || !dlqOrder || !adminToken) {
  console.error('TROUPE_URL, TROUPE_SCREENSHOT_DIR, TROUPE_DLQ_ORDER_ID and TROUPE_ADMIN_TOKEN must be set');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const failures = [];
const log = (...a) => console.log('[ui]', ...a);
function check(cond, what) {
  if (!cond) {
    failures.push(what);
    log('FAIL:', what);
  } else {
    log('ok:', what);
  }
  return cond;
}
const screenshots = [];
async function shoot(page, name) {
  const file = path.join(shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  screenshots.push(file);
  log('screenshot:', file);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
    '--no-first-run', '--disable-component-update', '--disable-sync'],
});
const result = {};
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, colorScheme: 'light' });
  page = await context.newPage();
  page.setDefaultTimeout(15000);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    // 4xx answers the test provokes are logged by Chromium as resource errors.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(`console: ${m.text()}`);
  });
  const navigations = [];
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) navigations.push(f.url());
  });

  // ------------------------------------------------------------ the list
  const res = await page.goto(`${url}/`, { waitUntil: 'load' });
  check(res.status() === 200, `GET / answers 200 (got ${res.status()})`);
  check((res.headers()['content-type'] || '').startsWith('text/html'), 'GET / is text/html');
  await page.waitForSelector('#readiness[data-state="ready"]');
  check(true, 'header shows the node ready');
  await page.waitForSelector('#orders-live:text-matches("updated")');
  // A marker in the page's JS heap: a reload would lose it.
  await page.evaluate(() => {
    window.__troupeNoReload = 'still here';
  });

  // ------------------------------------------------- a 4xx shows its details
  const email = `ui-e2e-${Date.now()}@example.com`;
  await page.fill('#customer_email', email);
  await page.fill('#item_sku', 'SKU-LAMP-01');
  await page.fill('#quantity', '0');
  await page.fill('#amount_cents', '4590');
  await page.click('#place-order');
  await page.waitForSelector('#form-result.error');
  const errText = await page.textContent('#form-result');
  check(/400/.test(errText) && /invalid_order/.test(errText), `a bad order shows 400 invalid_order (${errText.trim()})`);
  check(/quantity/.test(errText), 'the error details name the field');

  // ------------------------------------------------------ a good order
  await page.fill('#quantity', '2');
  await page.click('#place-order');
  await page.waitForSelector('#form-result.ok[data-order-id]');
  const orderId = await page.getAttribute('#form-result', 'data-order-id');
  const formCorrelation = (await page.textContent('#form-result code')).trim();
  result.order_id = orderId;
  result.email = email;
  check(/^[0-9a-f-]{36}$/.test(orderId), `the form shows the new order id ${orderId}`);
  const row = `#orders-table tr[data-order-id="${orderId}"]`;
  await page.waitForSelector(row);
  check(true, 'the order appears in the list');
  await page.waitForSelector(`${row}[data-status="CONFIRMED"]`, { timeout: 30000 });
  const badge = (await page.textContent(`${row} [data-testid="status"]`)).trim();
  check(badge === 'CONFIRMED', `the list shows the order CONFIRMED (badge "${badge}")`);
  const marker = await page.evaluate(() => window.__troupeNoReload);
  check(marker === 'still here' && navigations.length === 1, 'the list updated without a reload');
  await shoot(page, 'orders');

  // ----------------------------------------------------------- its page
  await page.click(`${row} a`);
  await page.waitForSelector(`#order-page[data-order-id="${orderId}"]`);
  check(page.url().endsWith(`#/orders/${orderId}`), 'the order link opens #/orders/<id>');
  await page.waitForSelector('#timeline li[data-kind="status.CONFIRMED"]');
  await page.waitForSelector('#timeline li[data-kind="notification.sent"]', { timeout: 20000 }).catch(() => {});
  const status = (await page.textContent('[data-testid="order-status"]')).trim();
  check(status === 'CONFIRMED', `the order page shows CONFIRMED (${status})`);
  const correlation = (await page.textContent('#correlation-id')).trim();
  check(correlation.length > 0 && correlation === formCorrelation,
    `the order page shows the correlation id (${correlation})`);
  const kinds = await page.$$eval('#timeline li[data-kind]', (els) => els.map((e) => e.dataset.kind));
  result.timeline = kinds;
  for (const k of ['created', 'payment.approved', 'inventory.reserved', 'status.CONFIRMED']) {
    check(kinds.includes(k), `the timeline has ${k}`);
  }
  check(kinds.indexOf('created') === 0, 'the timeline starts with the creation');
  const titles = await page.$$eval('#timeline .tl-title', (els) => els.map((e) => e.textContent));
  check(titles.includes('Payment approved') && titles.includes('Inventory reserved'),
    'timeline entries have readable titles');
  const payment = (await page.textContent('[data-testid="payment-status"]')).trim();
  const inventory = (await page.textContent('[data-testid="inventory-status"]')).trim();
  check(payment === 'APPROVED' && inventory === 'RESERVED', `payment ${payment}, inventory ${inventory}`);
  await page.waitForSelector('#order-live:text-is("final · Refresh")', { timeout: 20000 }).catch(() => {});
  await shoot(page, 'order');

  // A final order offers no Cancel.
  check(await page.isHidden('#order-cancel'), 'a CONFIRMED order has no Cancel button');

  // ------------------------------------- an order with several lines
  await page.goto(`${url}/#/`);
  await page.waitForSelector('#order-form');
  await page.fill('#customer_email', email);
  await page.fill('#item_sku', 'SKU-DESK-01');
  await page.fill('#quantity', '1');
  await page.fill('#amount_cents', '2000');
  await page.click('#add-line');
  await page.click('#add-line');
  const lineRows = await page.$$('[data-testid="line-row"]');
  check(lineRows.length === 2, `"+ Add line" adds line rows (${lineRows.length})`);
  const label = (await page.textContent('label[for="amount_cents"]')).trim();
  check(label === 'Unit price (cents)', `with several lines the first row asks for its unit price (${label})`);
  await lineRows[0].$eval('[data-testid="line-sku"]', (e) => { e.value = 'SKU-SHELF-01'; });
  await lineRows[0].$eval('[data-testid="line-quantity"]', (e) => { e.value = '2'; });
  await lineRows[1].$eval('[data-testid="line-sku"]', (e) => { e.value = 'SKU-LAMP-01'; });
  await page.click('#place-order');
  await page.waitForSelector('#form-result.ok[data-order-id]');
  // Leaving the page at once aborts the list's refresh: no script error.
  const linesOrder = await page.getAttribute('#form-result', 'data-order-id');
  check(/^[0-9a-f-]{36}$/.test(linesOrder), `the form placed the multi-line order ${linesOrder}`);
  result.lines_order = linesOrder;
  await page.goto(`${url}/#/orders/${linesOrder}`);
  await page.waitForSelector('#order-page[data-status="CONFIRMED"]', { timeout: 30000 });
  await page.waitForSelector('#order-lines tr[data-sku]');
  const shown = await page.$$eval('#order-lines tr[data-sku]',
    (els) => els.map((e) => `${e.dataset.sku}:${e.dataset.reservation}`));
  check(shown.join(',') === 'SKU-DESK-01:RESERVED,SKU-SHELF-01:RESERVED,SKU-LAMP-01:RESERVED',
    `the order page shows every line reserved (${shown.join(', ')})`);
  await shoot(page, 'order-lines');
  await page.goto(`${url}/#/`);
  const more = `#orders-table tr[data-order-id="${linesOrder}"] [data-testid="more-lines"]`;
  await page.waitForSelector(more);
  const moreText = (await page.textContent(more)).trim();
  check(moreText === '+2 more', `the list shows the first SKU and how many more lines (${moreText})`);

  // ------------------------------------------- an open order is cancelled
  if (openOrder) {
    await page.goto(`${url}/#/orders/${openOrder}`);
    await page.waitForSelector('#order-page[data-status="NEW"]');
    await page.waitForSelector('#order-cancel:not([hidden])');
    check(true, 'an open order shows a Cancel button');
    await page.click('#order-cancel');
    await page.waitForSelector('#order-cancel-result.ok-text');
    const said = (await page.textContent('#order-cancel-result')).trim();
    check(/202/.test(said), `Cancel shows the answer (${said})`);
    await page.waitForSelector('#order-page[data-status="CANCELLED"]', { timeout: 30000 });
    const reason = (await page.textContent('[data-testid="order-reason"]')).trim();
    check(reason === 'customer_cancelled', `the cancelled order shows its reason (${reason})`);
    await page.waitForSelector('#timeline li[data-kind="cancel.requested"]');
    check(true, 'the timeline shows the cancel request');
    check(await page.isHidden('#order-cancel'), 'the cancelled order no longer offers Cancel');
    result.cancelled = openOrder;
    await shoot(page, 'order-cancelled');
  }

  // ------------- timeline kinds the page does not know (retries, new steps)
  // are shown generically; this order is served by the test, not the node.
  const fake = '00000000-0000-4000-8000-000000000001';
  await page.route(`**/orders/${fake}`, (route) => route.fulfill({
    status: 200,
    contentType: 'application/json',
    body: JSON.stringify({
      id: fake, customer_email: 'x@example.com', item_sku: 'SKU-X', quantity: 1, amount_cents: 100,
      status: 'NEW', reason: null, correlation_id: 'c-1', payment_status: null, inventory_status: null,
      created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z', finalized_at: null,
      deadline_at: '2026-01-01T00:00:30.000Z', dead_letters: [],
      timeline: [
        { at: '2026-01-01T00:00:00.000Z', kind: 'created', detail: {} },
        { at: '2026-01-01T00:00:01.000Z', kind: 'retry.payment', detail: { attempt: 2, error: '<b>boom</b>' } },
        { at: '2026-01-01T00:00:02.000Z', kind: 'brand.new_step', detail: { nested: { a: 1 } } },
      ],
    }),
  }));
  await page.goto(`${url}/#/orders/${fake}`);
  await page.waitForSelector('#timeline li[data-kind="retry.payment"]');
  const retry = await page.textContent('#timeline li[data-kind="retry.payment"]');
  check(/Retry payment/.test(retry) && /attempt\s*2/.test(retry) && retry.includes('<b>boom</b>'),
    `an unknown kind is shown with its detail, as text (${retry.replace(/\s+/g, ' ').trim()})`);
  const other = await page.textContent('#timeline li[data-kind="brand.new_step"]');
  check(other.includes('{"a":1}'), 'nested detail values are shown as JSON');
  check(await page.$$eval('#timeline b', (els) => els.length) === 0, 'timeline detail is escaped');
  // This order exists only in the test: the node answers the cancel 404.
  await page.click('#order-cancel');
  await page.waitForSelector('#order-cancel-result.error-text');
  const refused = (await page.textContent('#order-cancel-result')).trim();
  check(/404/.test(refused) && /not_found/.test(refused), `a refused cancel shows the error (${refused})`);
  await page.unroute(`**/orders/${fake}`);

  // ------------------------------------- an order with a dead letter
  await page.goto(`${url}/#/orders/${dlqOrder}`);
  await page.waitForSelector('#order-dead-letters tr[data-dead-letter-id]');
  check(true, 'an order page lists the dead letters keyed by its id');

  // ------------------------------------------------- dead letters page
  await page.click('#nav-dead-letters');
  // The node answers 401: the page asks for the token; a wrong one is refused.
  await page.waitForSelector('#admin-auth:not([hidden])');
  check(true, 'the dead-letters page asks for the operator token after a 401');
  await shoot(page, 'operator-token');
  await page.fill('#admin-token', `${adminToken}-wrong`);
  await page.click('[data-testid="admin-token-save"]');
  await page.waitForFunction(() => /refused/.test(document.querySelector('[data-testid="admin-token-note"]').textContent)
    && !document.querySelector('#admin-auth').hidden);
  check(true, 'a wrong token is refused and asked for again');
  await page.fill('#admin-token', adminToken);
  await page.click('[data-testid="admin-token-save"]');
  await page.waitForSelector('#dead-letters-table tbody tr[data-dead-letter-id]');
  const stored = await page.evaluate(() => ({
    session: sessionStorage.getItem('troupe.adminToken'),
    local: Object.keys(localStorage).length,
    cookies: document.cookie,
  }));
  check(stored.session === adminToken && stored.local === 0 && stored.cookies === '',
    'the token is kept in sessionStorage only');
  const count = await page.$$eval('#dead-letters-table tbody tr', (els) => els.length);
  check(count >= 1, `the dead-letters page lists ${count} dead letter(s)`);
  const dlRow = `#dead-letters-table tbody tr[data-redriven="false"]`;
  const id = await page.getAttribute(dlRow, 'data-dead-letter-id');
  const cells = await page.$$eval(`${dlRow} td`, (els) => els.map((e) => e.textContent));
  check(cells.some((c) => /payment\.result/.test(c) && /partition \d+/.test(c) && /offset \d+/.test(c)),
    'a dead letter shows its topic, partition and offset');
  check(cells.some((c) => /malformed_event/.test(c)), 'a dead letter shows its error');
  check(cells.some((c) => /first .*\d\d:\d\d/.test(c) && /last .*\d\d:\d\d/.test(c)),
    'a dead letter shows its first and last failure');
  // The poison payload carries markup: it must be shown as text.
  await page.click(`${dlRow} details summary`);
  const payloadText = await page.textContent(`${dlRow} pre.payload`);
  check(payloadText.includes('<img src=x'), 'the payload is shown as text');
  const injected = await page.evaluate(() => ({
    imgs: document.querySelectorAll('#app img').length,
    xss: window.__troupeXss === undefined ? 'no' : 'yes',
  }));
  check(injected.imgs === 0 && injected.xss === 'no', 'server text is escaped (no injected element)');
  await page.click(`tr[data-dead-letter-id="${id}"] [data-testid="redrive"]`);
  await page.waitForSelector(`tr[data-dead-letter-id="${id}"] [data-testid="redrive-result"]`);
  const outcome = (await page.textContent(`tr[data-dead-letter-id="${id}"] [data-testid="redrive-result"]`)).trim();
  check(/^202 /.test(outcome), `redrive shows its result (${outcome})`);
  await page.waitForSelector(`tr[data-dead-letter-id="${id}"][data-redriven="true"]`);
  check(true, 'the redriven dead letter is marked redriven');
  result.redriven = Number(id);
  await shoot(page, 'dead-letters');

  check(pageErrors.length === 0, `no script errors in the page ${JSON.stringify(pageErrors)}`);
} catch (e) {
  failures.push(`exception: ${e.message}`);
  log('FAIL:', e.stack || e.message);
  if (page) await shoot(page, 'failure').catch(() => {});
} finally {
  await browser.close();
}
result.screenshots = screenshots;
result.failures = failures;
console.log('RESULT ' + JSON.stringify(result));
process.exit(failures.length === 0 ? 0 : 1);
