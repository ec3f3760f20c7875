// Troupe operator console: plain DOM, no framework, no build step.
//
//   #/               recent orders (polled every second) and the order form
//   #/orders/<id>    one order: details, timeline, dead letters; refreshes
//                    itself until the order is final and its saga is quiet;
//                    Cancel (POST /orders/<id>/cancel) while it is open
//   #/dead-letters   messages that could not be processed, with Redrive
//                    (operator endpoints: asks for the node's token on 401)
//
// Every string that comes from the server reaches the DOM through text nodes
// (h() below), never through innerHTML.
'use strict';

const ORDERS_POLL_MS = 1000;
const ORDER_POLL_MS = 1000;
const DEAD_LETTERS_POLL_MS = 3000;
const READY_POLL_MS = 3000;
const FINAL = new Set(['CONFIRMED', 'CANCELLED']);
// The operator token lives in this tab only (sessionStorage), never in
// localStorage or a cookie; it is sent as a Bearer header to /admin/ only.
const TOKEN_KEY = 'troupe.adminToken';
const adminToken = () => sessionStorage.getItem(TOKEN_KEY) || '';

// ---------------------------------------------------------------- DOM helpers

/** Creates an element; children are nodes or text (null/false are skipped). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  // crypto.randomUUID needs a secure context; getRandomValues does not.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const isUuid = (s) => typeof s === 'string' && /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(s);
const orderHref = (id) => `#/orders/${encodeURIComponent(id)}`;
const shortId = (id) => (typeof id === 'string' && id.length > 8 ? id.slice(0, 8) : String(id));

const amountFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const formatAmount = (cents) => (Number.isFinite(cents) ? amountFormat.format(cents / 100) : '—');

function parseTime(iso) {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? null : new Date(t);
}

function formatTime(iso, withDate) {
  const d = parseTime(iso);
  if (!d) return '—';
  const time = d.toLocaleTimeString(undefined, { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  const date = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  return withDate ? `${date} ${time}` : time;
}

/** A <time> element showing local time, with the server's UTC text as tooltip. */
function timeEl(iso, withDate) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: iso }, formatTime(iso, withDate));
}

function formatDuration(ms) {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

function since(fromIso, toIso) {
  const a = parseTime(fromIso);
  const b = parseTime(toIso);
  return a && b ? b - a : null;
}

function statusBadge(status, extra) {
  const s = String(status || 'UNKNOWN');
  return h('span', Object.assign({ class: `badge badge-${s.toLowerCase()}`, 'data-status': s }, extra || {}), s);
}

function toast(message, kind) {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast toast-${kind || 'info'}`, role: 'status' }, message);
  box.append(el);
  setTimeout(() => el.classList.add('toast-leaving'), 3500);
  setTimeout(() => el.remove(), 4000);
}

// ------------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(status, body, fallback) {
    const error = body && typeof body === 'object' ? body.error : null;
    const details = body && typeof body === 'object' ? body.details : null;
    super(details || error || fallback);
    this.status = status;
    this.error = error || 'http_error';
    this.details = details || fallback;
  }
}

/** fetch + JSON; non-2xx answers throw an ApiError carrying {error, details}. */
async function api(method, path, { body, headers, signal } = {}) {
  const opts = { method, headers: Object.assign({ Accept: 'application/json' }, headers), signal };
  if (path.startsWith('/admin/') && adminToken()) opts.headers.Authorization = `Bearer ${adminToken()}`;
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, null, 'the node does not answer');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (_) {
      data = { error: 'invalid_response', details: text.slice(0, 300) };
    }
  }
  if (!res.ok) throw new ApiError(res.status, data, `HTTP ${res.status}`);
  return { status: res.status, data, headers: res.headers };
}

// ----------------------------------------------------------- routing, polling

/** Per-page lifetime: polls and requests of a page stop when it is left. */
function pageContext() {
  const ctrl = new AbortController();
  const timers = new Set();
  return {
    signal: ctrl.signal,
    get alive() {
      return !ctrl.signal.aborted;
    },
    /** Runs fn now and again `ms` after each run, until it returns false. */
    poll(fn, ms) {
      const tick = async () => {
        if (ctrl.signal.aborted) return;
        let again = true;
        try {
          again = (await fn()) !== false;
        } catch (e) {
          if (e.name === 'AbortError') return;
          console.warn(e);
        }
        if (again && !ctrl.signal.aborted) {
          const t = setTimeout(() => {
            timers.delete(t);
            tick();
          }, ms);
          timers.add(t);
        }
      };
      tick();
    },
    dispose() {
      ctrl.abort();
      timers.forEach(clearTimeout);
      timers.clear();
    },
  };
}

let currentPage = null;

function route() {
  if (currentPage) currentPage.dispose();
  const ctx = pageContext();
  currentPage = ctx;
  const root = document.getElementById('app');
  root.replaceChildren();
  const hash = location.hash || '#/';
  let m;
  let nav = '';
  if ((m = hash.match(/^#\/orders\/([^/?#]+)\/?$/))) {
    nav = 'orders';
    orderPage(root, decodeURIComponent(m[1]), ctx);
  } else if (/^#\/dead-letters\/?$/.test(hash)) {
    nav = 'dead-letters';
    deadLettersPage(root, ctx);
  } else if (/^#\/?$/.test(hash) || /^#\/orders\/?$/.test(hash)) {
    nav = 'orders';
    ordersPage(root, ctx);
  } else {
    root.append(
      h('section', { class: 'page', id: 'not-found-page' },
        h('div', { class: 'card empty' }, h('h1', {}, 'Nothing here'),
          h('p', {}, 'No page at ', h('code', {}, hash), '. ', h('a', { href: '#/' }, 'Back to the orders')))));
  }
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// ---------------------------------------------------------------- readiness

function watchReadiness() {
  const pill = document.getElementById('readiness');
  const show = (state, text, title) => {
    pill.dataset.state = state;
    pill.className = `pill pill-${state}`;
    pill.textContent = text;
    pill.title = title;
  };
  const tick = async () => {
    try {
      const res = await fetch('/ready', { headers: { Accept: 'application/json' } });
      const body = await res.json().catch(() => ({}));
      if (res.ok) show('ready', 'Node ready', 'GET /ready: 200');
      else show('not-ready', 'Not ready', `GET /ready: ${res.status} ${body.details || ''}`.trim());
    } catch (_) {
      show('down', 'Node unreachable', 'GET /ready failed');
    }
    setTimeout(tick, READY_POLL_MS);
  };
  tick();
}

// ---------------------------------------------------------------- orders page

const SKUS = ['SKU-CHAIR-01', 'SKU-DESK-01', 'SKU-LAMP-01', 'SKU-SHELF-01'];

function field(id, label, input, hint) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint ? h('div', { class: 'hint', id: `${id}-hint` }, hint) : null);
}

/** The value of a numeric input: an integer when it is one, else the raw text
 * (the server explains what is wrong with it), null when empty. */
function integerOrRaw(value) {
  const v = value.trim();
  if (v === '') return null;
  return /^-?\d+$/.test(v) ? Number(v) : v;
}

function orderForm(onPlaced) {
  const email = h('input', { id: 'customer_email', name: 'customer_email', type: 'email', autocomplete: 'email',
    placeholder: 'name@example.com', 'data-testid': 'customer-email', required: true });
  const sku = h('input', { id: 'item_sku', name: 'item_sku', list: 'sku-list', value: SKUS[0], required: true,
    'data-testid': 'item-sku', spellcheck: 'false' });
  const quantity = h('input', { id: 'quantity', name: 'quantity', type: 'number', min: 1, step: 1, value: 1,
    inputmode: 'numeric', required: true, 'data-testid': 'quantity' });
  const amount = h('input', { id: 'amount_cents', name: 'amount_cents', type: 'number', min: 0, step: 1,
    value: 14990, inputmode: 'numeric', required: true, 'data-testid': 'amount-cents' });
  const amountHint = h('span', {});
  const updateHint = () => {
    const v = integerOrRaw(amount.value);
    amountHint.textContent = typeof v === 'number' ? `= ${formatAmount(v)}` : '';
  };
  amount.addEventListener('input', updateHint);
  updateHint();
  // More lines: each has its own SKU, quantity and unit price; with any, the
  // first row's amount is its unit price too and the order goes as `items`.
  const lines = h('div', { id: 'order-lines-input', class: 'order-lines-input', 'data-testid': 'order-lines-input' });
  const amountLabel = h('label', { for: 'amount_cents' }, 'Amount (cents)');
  const relabel = () => {
    amountLabel.textContent = lines.children.length ? 'Unit price (cents)' : 'Amount (cents)';
  };
  const addLine = h('button', { type: 'button', id: 'add-line', class: 'btn btn-ghost btn-small', 'data-testid': 'add-line',
    onclick: () => {
      const n = lines.children.length + 1;
      const row = h('div', { class: 'field-row line-row', 'data-testid': 'line-row' },
        h('input', { name: `line-sku-${n}`, list: 'sku-list', value: SKUS[n % SKUS.length], 'aria-label': `Line ${n + 1} SKU`,
          'data-testid': 'line-sku', spellcheck: 'false' }),
        h('input', { name: `line-quantity-${n}`, type: 'number', min: 1, step: 1, value: 1, inputmode: 'numeric',
          'aria-label': `Line ${n + 1} quantity`, 'data-testid': 'line-quantity' }),
        h('input', { name: `line-price-${n}`, type: 'number', min: 0, step: 1, value: 1000, inputmode: 'numeric',
          'aria-label': `Line ${n + 1} unit price (cents)`, 'data-testid': 'line-unit-price' }),
        h('button', { type: 'button', class: 'btn btn-ghost btn-small', title: 'Remove this line',
          onclick: (ev) => { ev.target.closest('.line-row').remove(); relabel(); key = uuid(); } }, 'Remove'));
      lines.append(row);
      relabel();
      key = uuid();
    } }, '+ Add line');
  const submit = h('button', { type: 'submit', id: 'place-order', class: 'btn btn-primary', 'data-testid': 'place-order' },
    'Place order');
  const result = h('div', { id: 'form-result', class: 'form-result', 'data-testid': 'form-result', role: 'status',
    'aria-live': 'polite' });
  // One idempotency key per order being entered: a double submit or a retry
  // after a lost answer does not create a second order.
  let key = uuid();

  const form = h('form', { id: 'order-form', class: 'order-form', novalidate: true, autocomplete: 'off' },
    field('customer_email', 'Customer email', email),
    field('item_sku', 'Item SKU', sku),
    h('datalist', { id: 'sku-list' }, SKUS.map((s) => h('option', { value: s }))),
    h('div', { class: 'field-row' },
      field('quantity', 'Quantity', quantity, 'at most 10 can be reserved'),
      h('div', { class: 'field' }, amountLabel, amount, h('div', { class: 'hint', id: 'amount_cents-hint' }, amountHint))),
    lines,
    h('div', { class: 'form-actions' }, addLine, submit),
    result);

  form.addEventListener('input', () => {
    key = uuid();
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = lines.children.length === 0 ? {
      customer_email: email.value.trim(),
      item_sku: sku.value.trim(),
      quantity: integerOrRaw(quantity.value),
      amount_cents: integerOrRaw(amount.value),
    } : {
      customer_email: email.value.trim(),
      items: [[sku, quantity, amount], ...[...lines.children].map((row) => [...row.querySelectorAll('input')])]
        .map(([s, q, p]) => ({ sku: s.value.trim(), quantity: integerOrRaw(q.value), unit_price_cents: integerOrRaw(p.value) })),
    };
    submit.disabled = true;
    submit.textContent = 'Placing…';
    result.className = 'form-result';
    result.replaceChildren();
    try {
      const { status, data } = await api('POST', '/orders', { body, headers: { 'Idempotency-Key': key } });
      result.className = 'form-result ok';
      result.dataset.orderId = data.id;
      result.append(
        h('strong', {}, status === 201 ? 'Order placed. ' : 'Order already placed. '),
        h('a', { href: orderHref(data.id), 'data-testid': 'placed-order-link' }, data.id),
        h('div', { class: 'muted small' }, 'correlation id ', h('code', {}, data.correlation_id)));
      key = uuid();
      lines.replaceChildren();
      relabel();
      onPlaced(data.id);
    } catch (e) {
      result.className = 'form-result error';
      delete result.dataset.orderId;
      result.append(
        h('strong', { 'data-testid': 'form-error' }, e.status ? `${e.status} ${e.error}` : 'Request failed'),
        h('div', { 'data-testid': 'form-error-details' }, e.details || String(e.message)));
    } finally {
      submit.disabled = false;
      submit.textContent = 'Place order';
    }
  });
  return form;
}

function ordersPage(root, ctx) {
  const filters = ['ALL', 'NEW', 'CONFIRMED', 'CANCELLED'];
  let filter = sessionStorage.getItem('troupe.filter') || 'ALL';
  if (!filters.includes(filter)) filter = 'ALL';
  const seen = new Map(); // id -> status, to flash new rows and changes
  let first = true;
  let lastText = '';
  let highlight = null;

  const tbody = h('tbody', {});
  const table = h('table', { id: 'orders-table', class: 'table', 'data-testid': 'orders-table' },
    h('thead', {}, h('tr', {},
      h('th', {}, 'Order'), h('th', {}, 'Customer'), h('th', {}, 'Item'), h('th', { class: 'num' }, 'Qty'),
      h('th', { class: 'num' }, 'Amount'), h('th', {}, 'Status'), h('th', {}, 'Reason'), h('th', {}, 'Created'),
      h('th', { class: 'num' }, 'Took'))),
    tbody);
  const empty = h('div', { class: 'empty', id: 'orders-empty', hidden: true }, 'No orders yet. Place one with the form.');
  const live = h('span', { class: 'live', id: 'orders-live', 'data-testid': 'orders-live' }, 'loading…');
  const problem = h('div', { class: 'banner banner-error', id: 'orders-error', hidden: true });
  const chips = h('div', { class: 'chips', role: 'group', 'aria-label': 'Filter by status' },
    filters.map((f) => h('button', {
      type: 'button', class: 'chip', 'data-filter': f, 'aria-pressed': String(f === filter),
      onclick: () => {
        filter = f;
        sessionStorage.setItem('troupe.filter', f);
        for (const c of chips.children) c.setAttribute('aria-pressed', String(c.dataset.filter === f));
        lastText = '';
        refresh();
      },
    }, f === 'ALL' ? 'All' : f.charAt(0) + f.slice(1).toLowerCase())));

  const rowOf = (o) => {
    const before = seen.get(o.id);
    const cls = [];
    if (!first && before === undefined) cls.push('row-new');
    else if (before !== undefined && before !== o.status) cls.push('row-changed');
    if (o.id === highlight) cls.push('row-mine');
    const took = FINAL.has(o.status) ? since(o.created_at, o.finalized_at) : null;
    return h('tr', { 'data-order-id': o.id, 'data-status': o.status, class: cls.join(' ') || null },
      h('td', {}, h('a', { href: orderHref(o.id), class: 'mono', title: o.id }, shortId(o.id))),
      h('td', { class: 'ellipsis', title: o.customer_email }, o.customer_email),
      h('td', { class: 'mono' }, o.item_sku,
        Array.isArray(o.items) && o.items.length > 1
          ? h('span', { class: 'muted', 'data-testid': 'more-lines' }, ` +${o.items.length - 1} more`) : null),
      h('td', { class: 'num' }, o.quantity),
      h('td', { class: 'num' }, formatAmount(o.amount_cents)),
      h('td', { 'data-testid': 'status' }, statusBadge(o.status)),
      h('td', {}, o.reason ? h('span', { class: 'reason' }, o.reason) : h('span', { class: 'muted' }, '—')),
      h('td', {}, timeEl(o.created_at)),
      h('td', { class: 'num muted' }, took == null ? '' : formatDuration(took)));
  };

  const refresh = async () => {
    const q = filter === 'ALL' ? '' : `&status=${filter}`;
    try {
      const { data } = await api('GET', `/orders?limit=50${q}`, { signal: ctx.signal });
      problem.hidden = true;
      live.textContent = `live · updated ${new Date().toLocaleTimeString(undefined, { hour12: false })}`;
      live.classList.remove('stale');
      const text = JSON.stringify(data);
      if (text !== lastText) {
        lastText = text;
        tbody.replaceChildren(...data.map(rowOf));
        for (const o of data) seen.set(o.id, o.status);
        empty.hidden = data.length > 0;
        table.hidden = data.length === 0;
        first = false;
      }
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      problem.hidden = false;
      problem.textContent = `Cannot load orders: ${e.details || e.message}`;
      live.classList.add('stale');
    }
  };

  root.append(
    h('section', { class: 'page', id: 'orders-page', 'data-testid': 'orders-page' },
      h('div', { class: 'layout' },
        h('section', { class: 'card form-card' },
          h('h2', {}, 'Place an order'),
          h('p', { class: 'muted small' },
            'Payment is declined above 100000 cents in all; a line of more than 10 units cannot be reserved.'),
          orderForm((id) => {
            highlight = id;
            lastText = '';
            // The page may be left before this refresh answers (its fetch is
            // then aborted, which is no error).
            refresh().catch((e) => {
              if (e.name !== 'AbortError') console.warn(e);
            });
          })),
        h('section', { class: 'card list-card' },
          h('div', { class: 'card-head' }, h('h2', {}, 'Recent orders'), chips, live),
          problem,
          h('div', { class: 'table-wrap' }, table, empty)))));
  ctx.poll(refresh, ORDERS_POLL_MS);
}

// ----------------------------------------------------------------- order page

const KNOWN_KINDS = {
  created: ['Order created', 'info'],
  'payment.approved': ['Payment approved', 'ok'],
  'payment.declined': ['Payment declined', 'bad'],
  'payment.refunded': ['Payment refunded', 'comp'],
  'inventory.reserved': ['Inventory reserved', 'ok'],
  'inventory.quantity_limit': ['Inventory refused: quantity limit', 'bad'],
  'inventory.out_of_stock': ['Inventory refused: out of stock', 'bad'],
  'inventory.released': ['Inventory released', 'comp'],
  'compensation.release': ['Compensation: release the stock', 'comp'],
  'compensation.refund': ['Compensation: refund the payment', 'comp'],
  'deadline.expired': ['Deadline expired', 'bad'],
  'status.CONFIRMED': ['Status CONFIRMED', 'ok'],
  'status.CANCELLED': ['Status CANCELLED', 'bad'],
  'notification.sent': ['Customer notified', 'info'],
  retry: ['Retry scheduled after a failure', 'warn'],
  dead_lettered: ['Dead-lettered', 'bad'],
  'cancel.requested': ['Cancel requested by the customer', 'warn'],
  'inventory.short': ['Stock short for some lines', 'bad'],
};

/** Title and tone of a timeline entry; kinds this page does not know yet
 * (retries, new steps) are shown by their name. */
function describeKind(kind) {
  if (KNOWN_KINDS[kind]) return KNOWN_KINDS[kind];
  const k = String(kind || 'event');
  const words = k.replace(/[._]+/g, ' ').trim();
  const title = words.charAt(0).toUpperCase() + words.slice(1);
  if (/retr/i.test(k)) return [title, 'warn'];
  if (/dead|dlq|fail|error/i.test(k)) return [title, 'bad'];
  if (/^status\./.test(k)) return [`Status ${k.slice(7)}`, 'info'];
  return [title, 'neutral'];
}

function detailValue(v) {
  if (v == null) return h('span', { class: 'muted' }, 'null');
  if (typeof v === 'object') return h('code', {}, JSON.stringify(v));
  return h('span', {}, String(v));
}

function detailList(detail) {
  if (detail == null) return null;
  if (typeof detail !== 'object' || Array.isArray(detail)) {
    return h('div', { class: 'tl-detail' }, detailValue(detail));
  }
  const keys = Object.keys(detail);
  if (keys.length === 0) return null;
  return h('dl', { class: 'tl-detail' },
    keys.map((k) => h('div', { class: 'kv' }, h('dt', {}, k), h('dd', {}, detailValue(detail[k])))));
}

function timelineEl(order) {
  const entries = Array.isArray(order.timeline) ? order.timeline : [];
  if (entries.length === 0) return h('p', { class: 'muted', id: 'timeline-empty' }, 'No entries yet.');
  return h('ol', { class: 'timeline', id: 'timeline', 'data-testid': 'timeline' },
    entries.map((e, i) => {
      const [title, tone] = describeKind(e.kind);
      const offset = since(order.created_at, e.at);
      return h('li', { class: `tl-item tone-${tone}`, 'data-kind': e.kind, 'data-index': i },
        h('span', { class: 'tl-dot', 'aria-hidden': 'true' }),
        h('div', { class: 'tl-body' },
          h('div', { class: 'tl-head' },
            h('span', { class: 'tl-title' }, title),
            h('code', { class: 'tl-kind' }, e.kind),
            h('span', { class: 'tl-time' }, timeEl(e.at),
              offset != null && i > 0 ? h('span', { class: 'muted' }, ` +${formatDuration(offset)}`) : null)),
          detailList(e.detail)));
    }));
}

/** The order's lines with their reservation state. */
function orderLines(order) {
  const list = Array.isArray(order.items) ? order.items : [];
  if (list.length === 0) return null;
  const state = (r) => (r ? h('span', { class: `pill pill-${r === 'RESERVED' ? 'ok' : r === 'SHORT' ? 'bad' : 'muted'}` }, r)
    : h('span', { class: 'muted' }, 'not reserved'));
  return h('section', { class: 'card', id: 'order-lines', 'data-testid': 'order-lines' },
    h('div', { class: 'card-head' }, h('h2', {}, `Lines (${list.length})`)),
    h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'SKU'), h('th', { class: 'num' }, 'Qty'),
        h('th', { class: 'num' }, 'Unit price'), h('th', { class: 'num' }, 'Amount'), h('th', {}, 'Reservation'))),
      h('tbody', {}, list.map((l) => h('tr', { 'data-sku': l.sku, 'data-reservation': l.reservation || '' },
        h('td', { class: 'mono' }, l.sku),
        h('td', { class: 'num' }, l.quantity),
        h('td', { class: 'num' }, formatAmount(l.unit_price_cents)),
        h('td', { class: 'num' }, formatAmount(l.amount_cents)),
        h('td', {}, state(l.reservation))))))));
}

function orderDeadLetters(order) {
  const list = Array.isArray(order.dead_letters) ? order.dead_letters : [];
  if (list.length === 0) return null;
  return h('section', { class: 'card', id: 'order-dead-letters', 'data-testid': 'order-dead-letters' },
    h('div', { class: 'card-head' }, h('h2', {}, `Dead letters (${list.length})`),
      h('a', { href: '#/dead-letters', class: 'small' }, 'All dead letters →')),
    h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Topic'), h('th', {}, 'Consumer'),
        h('th', {}, 'Error'), h('th', { class: 'num' }, 'Attempts'), h('th', {}, 'Last failure'),
        h('th', {}, 'Redriven'))),
      h('tbody', {}, list.map((d) => h('tr', { 'data-dead-letter-id': d.id },
        h('td', { class: 'mono' }, d.id),
        h('td', { class: 'mono' }, `${d.topic} [${d.partition}] @${d.offset}`),
        h('td', {}, d.consumer),
        h('td', { class: 'error-text' }, d.error),
        h('td', { class: 'num' }, d.attempts),
        h('td', {}, timeEl(d.last_failure)),
        h('td', {}, d.redriven_at ? timeEl(d.redriven_at) : h('span', { class: 'muted' }, 'no'))))))));
}

function copyButton(text) {
  return h('button', {
    type: 'button', class: 'btn btn-ghost btn-small', title: 'Copy',
    onclick: async (ev) => {
      try {
        await navigator.clipboard.writeText(text);
        ev.target.textContent = 'Copied';
      } catch (_) {
        ev.target.textContent = 'Select it';
      }
      setTimeout(() => (ev.target.textContent = 'Copy'), 1500);
    },
  }, 'Copy');
}

function orderPage(root, id, ctx) {
  const page = h('section', { class: 'page', id: 'order-page', 'data-testid': 'order-page', 'data-order-id': id });
  const body = h('div', {}, h('div', { class: 'card empty' }, 'Loading…'));
  const live = h('span', { class: 'live', id: 'order-live' }, '');
  // Cancel: offered while the order is open; the answer stays on the page
  // (the order's orchestrator then ends it, and the poll shows that).
  const cancelResult = h('span', { class: 'small', id: 'order-cancel-result', 'data-testid': 'order-cancel-result' });
  const cancelButton = h('button', {
    type: 'button', class: 'btn btn-small', id: 'order-cancel', 'data-testid': 'order-cancel', hidden: true,
    onclick: async () => {
      cancelButton.disabled = true;
      cancelResult.className = 'small';
      cancelResult.textContent = 'Cancelling…';
      try {
        const r = await api('POST', `/orders/${encodeURIComponent(id)}/cancel`, { signal: ctx.signal });
        cancelResult.className = 'small ok-text';
        cancelResult.textContent = `Cancel requested (${r.status}); the order is cancelled shortly`;
      } catch (e) {
        if (e.name === 'AbortError') return;
        cancelResult.className = 'small error-text';
        cancelResult.textContent = e.status === 409
          ? `Not cancelled: ${e.details}`
          : `Cancel failed: ${e.status ? e.status + ' ' : ''}${e.error}: ${e.details}`;
        cancelButton.disabled = false;
      }
    },
  }, 'Cancel order');
  page.append(
    h('a', { href: '#/', class: 'back' }, '← Orders'),
    h('div', { class: 'page-head' }, h('h1', {}, 'Order ', h('code', { class: 'title-id' }, id)), live,
      cancelButton, cancelResult),
    body);
  root.append(page);

  let lastText = '';
  let quiet = 0; // polls without change since the order became final

  const render = (o) => {
    const duration = since(o.created_at, o.finalized_at);
    const dlCount = Array.isArray(o.dead_letters) ? o.dead_letters.length : 0;
    const facts = [
      ['Status', statusBadge(o.status, { 'data-testid': 'order-status', id: 'order-status' })],
      ['Reason', o.reason ? h('span', { class: 'reason', 'data-testid': 'order-reason' }, o.reason)
        : h('span', { class: 'muted', 'data-testid': 'order-reason' }, '—')],
      ['Correlation id', h('span', { class: 'with-action' },
        h('code', { 'data-testid': 'correlation-id', id: 'correlation-id' }, o.correlation_id),
        copyButton(o.correlation_id))],
      ['Trace id', o.trace_id ? h('span', { class: 'with-action' },
        h('code', { 'data-testid': 'trace-id' }, o.trace_id), copyButton(o.trace_id))
        : h('span', { class: 'muted', 'data-testid': 'trace-id' }, '—')],
      ['Customer', o.customer_email],
      ['Item', h('span', {}, h('code', {}, o.item_sku), ` × ${o.quantity}`,
        Array.isArray(o.items) && o.items.length > 1 ? h('span', { class: 'muted' }, ` (first of ${o.items.length} lines, total quantity)`) : null)],
      ['Amount', `${formatAmount(o.amount_cents)} (${o.amount_cents} cents)`],
      ['Payment', o.payment_status ? h('span', { 'data-testid': 'payment-status' }, o.payment_status)
        : h('span', { class: 'muted', 'data-testid': 'payment-status' }, 'pending')],
      ['Inventory', o.inventory_status ? h('span', { 'data-testid': 'inventory-status' }, o.inventory_status)
        : h('span', { class: 'muted', 'data-testid': 'inventory-status' }, 'pending')],
      ['Created', timeEl(o.created_at, true)],
      ['Updated', timeEl(o.updated_at, true)],
      ['Finalized', o.finalized_at ? h('span', {}, timeEl(o.finalized_at, true),
        h('span', { class: 'muted' }, ` (after ${formatDuration(duration)})`)) : h('span', { class: 'muted' }, 'not yet')],
      ['Deadline', timeEl(o.deadline_at, true)],
    ];
    body.replaceChildren(...[
      h('div', { class: 'order-grid' },
        h('section', { class: 'card' },
          h('h2', {}, 'Details'),
          h('dl', { class: 'facts', id: 'order-facts' }, facts.map(([k, v]) => h('div', { class: 'fact' },
            h('dt', {}, k), h('dd', {}, v))))),
        h('section', { class: 'card' },
          h('div', { class: 'card-head' }, h('h2', {}, 'Timeline'),
            h('span', { class: 'muted small' }, `${(o.timeline || []).length} entries`,
              dlCount ? ` · ${dlCount} dead letter${dlCount > 1 ? 's' : ''}` : '')),
          timelineEl(o))),
      orderLines(o),
      orderDeadLetters(o)].filter(Boolean));
  };

  ctx.poll(async () => {
    let o;
    try {
      o = (await api('GET', `/orders/${encodeURIComponent(id)}`, { signal: ctx.signal })).data;
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      if (e.status === 404) {
        live.textContent = '';
        body.replaceChildren(h('div', { class: 'card empty', id: 'order-not-found' },
          h('h2', {}, 'No such order'), h('p', { class: 'muted' }, e.details)));
        return false;
      }
      live.className = 'live stale';
      live.textContent = `cannot refresh: ${e.details || e.message}`;
      return true;
    }
    const text = JSON.stringify(o);
    if (text !== lastText) {
      lastText = text;
      quiet = 0;
      render(o);
    } else if (FINAL.has(o.status)) {
      quiet += 1;
    }
    page.dataset.status = o.status;
    cancelButton.hidden = o.status !== 'NEW';
    // Compensations and the notification land after the final status: keep
    // refreshing until the order is final and nothing changed for a while.
    const more = !FINAL.has(o.status) || quiet < 5;
    live.className = more ? 'live' : 'live done';
    live.textContent = more ? 'live' : 'final';
    if (!more) {
      live.append(' · ', h('button', {
        type: 'button', class: 'btn btn-ghost btn-small', id: 'order-refresh',
        onclick: () => {
          lastText = '';
          quiet = 0;
          if (ctx.alive) ctx.poll(async () => {
            const r = (await api('GET', `/orders/${encodeURIComponent(id)}`, { signal: ctx.signal })).data;
            render(r);
            return false;
          }, ORDER_POLL_MS);
        },
      }, 'Refresh'));
    }
    return more;
  }, ORDER_POLL_MS);
}

// ----------------------------------------------------------- dead letters page

function deadLettersPage(root, ctx) {
  const outcomes = new Map(); // id -> {ok, text} of the last redrive from here
  let lastText = '';
  let rows = [];
  const tbody = h('tbody', {});
  const table = h('table', { id: 'dead-letters-table', class: 'table', 'data-testid': 'dead-letters-table', hidden: true },
    h('thead', {}, h('tr', {},
      h('th', {}, '#'), h('th', {}, 'Topic · partition · offset'), h('th', {}, 'Key'), h('th', {}, 'Error'),
      h('th', { class: 'num' }, 'Attempts'), h('th', {}, 'Failures'), h('th', {}, 'Correlation id'),
      h('th', {}, 'State'), h('th', {}, ''))),
    tbody);
  const empty = h('div', { class: 'empty', id: 'dead-letters-empty', 'data-testid': 'dead-letters-empty', hidden: true },
    h('strong', {}, 'No dead letters.'), ' Every message was processed.');
  const live = h('span', { class: 'live' }, 'loading…');
  const problem = h('div', { class: 'banner banner-error', hidden: true });

  const listCard = h('section', { class: 'card' }, problem, h('div', { class: 'table-wrap' }, table, empty));
  // Asked for when the node answers 401: the operator endpoints need a token.
  const tokenInput = h('input', { id: 'admin-token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    'data-testid': 'admin-token', required: true });
  const tokenNote = h('div', { class: 'small error-text', 'data-testid': 'admin-token-note' });
  const authForm = h('form', { class: 'card auth-card', id: 'admin-auth', 'data-testid': 'admin-auth', hidden: true,
    novalidate: true, autocomplete: 'off' },
    h('h2', {}, 'Operator token'),
    h('p', { class: 'muted' }, 'This node protects its operator endpoints. Enter its token ',
      '(TROUPE_HTTP_ADMIN_TOKEN); it is kept in this tab only.'),
    field('admin-token', 'Token', tokenInput),
    tokenNote,
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'admin-token-save' }, 'Use token')));
  authForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = tokenInput.value.trim();
    if (!v) return;
    sessionStorage.setItem(TOKEN_KEY, v);
    tokenInput.value = '';
    authForm.hidden = true;
    lastText = '';
    refresh();
  });
  /** True when the error was an authorization problem (and was shown). */
  const authProblem = (e) => {
    if (e.status === 401) {
      const had = adminToken() !== '';
      sessionStorage.removeItem(TOKEN_KEY);
      tokenNote.textContent = had ? 'The node refused this token.' : '';
      authForm.hidden = false;
      listCard.hidden = true;
      problem.hidden = true;
      table.hidden = true;
      empty.hidden = true;
      live.textContent = 'token needed';
      return true;
    }
    if (e.status === 403) {
      authForm.hidden = true;
      listCard.hidden = false;
      problem.hidden = false;
      problem.textContent = 'Operator endpoints are disabled on this node: it has no token configured '
        + '(TROUPE_HTTP_ADMIN_TOKEN).';
      live.textContent = 'disabled';
      return true;
    }
    return false;
  };

  const redrive = async (d, button) => {
    button.disabled = true;
    button.textContent = 'Redriving…';
    try {
      const { status } = await api('POST', `/admin/dead-letters/${encodeURIComponent(d.id)}/redrive`,
        { signal: ctx.signal });
      outcomes.set(d.id, { ok: true, text: `${status} redriven to ${d.topic}` });
      toast(`Dead letter #${d.id} published again to ${d.topic}`, 'ok');
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (authProblem(e)) return;
      outcomes.set(d.id, { ok: false, text: `${e.status || ''} ${e.details || e.message}`.trim() });
      toast(`Redrive of #${d.id} failed: ${e.details || e.message}`, 'error');
    }
    lastText = '';
    await refresh();
  };

  const rowOf = (d) => {
    const outcome = outcomes.get(d.id);
    const button = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'redrive', 'data-id': d.id },
      d.redriven_at ? 'Redrive again' : 'Redrive');
    button.addEventListener('click', () => redrive(d, button));
    return h('tr', { 'data-dead-letter-id': d.id, 'data-redriven': d.redriven_at ? 'true' : 'false' },
      h('td', { class: 'mono' }, d.id),
      h('td', { class: 'nowrap' }, h('div', { class: 'mono', 'data-testid': 'topic' }, d.topic),
        h('div', { class: 'muted small' },
          h('span', { 'data-testid': 'partition' }, `partition ${d.partition}`), ' · ',
          h('span', { 'data-testid': 'offset' }, `offset ${d.offset}`)),
        h('div', { class: 'muted small' }, `consumer ${d.consumer}`)),
      h('td', { class: 'mono' }, isUuid(d.key) ? h('a', { href: orderHref(d.key), title: d.key }, shortId(d.key))
        : (d.key == null || d.key === '' ? h('span', { class: 'muted' }, '—') : d.key)),
      h('td', { class: 'error-cell' },
        h('div', { class: 'error-text' }, d.error),
        h('details', {}, h('summary', {}, 'payload'), h('pre', { class: 'payload' }, d.payload))),
      h('td', { class: 'num' }, d.attempts),
      h('td', { class: 'nowrap small' },
        h('div', { 'data-testid': 'first-failure' }, h('span', { class: 'muted' }, 'first '), timeEl(d.first_failure, true)),
        h('div', { 'data-testid': 'last-failure' }, h('span', { class: 'muted' }, 'last '), timeEl(d.last_failure, true))),
      h('td', { class: 'mono ellipsis', title: d.correlation_id || '' }, d.correlation_id || '—'),
      h('td', { 'data-testid': 'redrive-state' },
        d.redriven_at ? h('span', { class: 'badge badge-confirmed' }, 'redriven') : h('span', { class: 'badge badge-new' }, 'parked'),
        d.redriven_at ? h('div', { class: 'muted small' }, timeEl(d.redriven_at)) : null,
        outcome ? h('div', { class: `small ${outcome.ok ? 'ok-text' : 'error-text'}`, 'data-testid': 'redrive-result' },
          outcome.text) : null),
      h('td', {}, button));
  };

  const refresh = async () => {
    try {
      const { data } = await api('GET', '/admin/dead-letters?limit=200', { signal: ctx.signal });
      problem.hidden = true;
      authForm.hidden = true;
      listCard.hidden = false;
      live.textContent = `live · updated ${new Date().toLocaleTimeString(undefined, { hour12: false })}`;
      const text = JSON.stringify(data);
      if (text !== lastText) {
        lastText = text;
        rows = data;
        tbody.replaceChildren(...rows.map(rowOf));
        empty.hidden = rows.length > 0;
        table.hidden = rows.length === 0;
      }
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      if (authProblem(e)) return;
      problem.hidden = false;
      problem.textContent = `Cannot load dead letters: ${e.details || e.message}`;
    }
  };

  root.append(h('section', { class: 'page', id: 'dead-letters-page', 'data-testid': 'dead-letters-page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Dead letters'), live),
    h('p', { class: 'muted' },
      'Messages that could not be processed, newest first. Redrive publishes one again to its original topic; ',
      'if it was processed meanwhile, nothing changes.'),
    authForm,
    listCard));
  ctx.poll(refresh, DEAD_LETTERS_POLL_MS);
}

// ---------------------------------------------------------------------- start

window.addEventListener('hashchange', route);
document.addEventListener('DOMContentLoaded', () => {
  watchReadiness();
  route();
});
