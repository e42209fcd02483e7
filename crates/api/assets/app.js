// Vigil's incident console: plain JS, no dependencies, served from the
// binary. Views: sign in, the incident list (grouped by level), one
// incident (facts, actions, volume chart, timeline). Live updates come from
// GET /api/v1/events read with fetch streaming, because EventSource cannot
// send the Authorization header (and tokens do not belong in URLs).
'use strict';

const TOKEN_KEY = 'vigil.token';
const LEVELS = ['major', 'moderate', 'minor'];
const UNACKED = new Set(['open', 'escalated', 'reopened']);

const ui = {
  token: sessionStorage.getItem(TOKEN_KEY),
  me: null,
  stream: null,
  refreshTimer: null,
  current: null,
  flash: null,
  drafts: [],
};

const $ = (id) => document.getElementById(id);

/** Creates an element: el('td', {class: 'num'}, 'text', child...). */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmtTime(s) {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return d.toISOString().slice(0, 19).replace('T', ' ') + ' UTC';
}

function fmtNum(x) {
  return Number.isInteger(x) ? String(x) : Number(x).toFixed(1);
}

function showError(message) {
  const e = $('error');
  e.textContent = message || '';
  e.hidden = !message;
}

class Unauthorized extends Error {}

async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + ui.token };
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const type = r.headers.get('content-type') || '';
  const data = type.includes('application/json') ? await r.json() : await r.text();
  if (r.status === 401) throw new Unauthorized((data && data.error) || 'unauthorized');
  if (!r.ok) throw new Error((data && data.error) || 'HTTP ' + r.status);
  return data;
}

/** Runs an API call, sending the user back to sign-in when the token is refused. */
async function guarded(f) {
  try {
    showError('');
    return await f();
  } catch (e) {
    if (e instanceof Unauthorized) signOut('Your token was refused: ' + e.message);
    else showError(e.message);
    return undefined;
  }
}

// ------------------------------------------------------------------ sign in

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  ui.token = null;
  ui.me = null;
  if (ui.stream) ui.stream.abort();
  ui.stream = null;
  setLive(false);
  $('whoami').textContent = '';
  $('logout').hidden = true;
  $('login-error').textContent = message || '';
  show('view-login');
  $('token').focus();
}

async function signIn(token) {
  ui.token = token;
  try {
    ui.me = await api('GET', '/api/v1/me');
  } catch (e) {
    ui.token = null;
    $('login-error').textContent = e.message;
    show('view-login');
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $('login-error').textContent = '';
  $('token').value = '';
  $('whoami').textContent = ui.me.name + ' (' + ui.me.role + ')';
  $('logout').hidden = false;
  listen();
  route();
}

// ------------------------------------------------------------------- views

function show(id) {
  for (const v of ['view-login', 'view-list', 'view-incident', 'view-report']) $(v).hidden = v !== id;
}

function route() {
  if (!ui.token) {
    show('view-login');
    return;
  }
  const m = location.hash.match(/^#\/incidents\/(.+)$/);
  if (location.hash === '#/report') {
    ui.current = null;
    show('view-report');
    loadPeriod();
  } else if (m) {
    ui.current = decodeURIComponent(m[1]);
    show('view-incident');
    loadIncident();
  } else {
    ui.current = null;
    show('view-list');
    loadList();
  }
}

function canWrite() {
  return ui.me && ui.me.role === 'responder';
}

function canReport() {
  return ui.me && (ui.me.role === 'reporter' || ui.me.role === 'responder');
}

// -------------------------------------------------------------------- list

async function loadList() {
  const params = new URLSearchParams({ limit: '500' });
  const level = $('filter-level').value;
  const state = $('filter-state').value;
  const watch = $('filter-watch').value.trim();
  if (level) params.set('level', level);
  if (state && state !== 'active') params.set('state', state);
  if (watch) params.set('watch', watch);
  const data = await guarded(() => api('GET', '/api/v1/incidents?' + params));
  if (!data) return;
  let incidents = data.incidents;
  if (state === 'active') incidents = incidents.filter((i) => i.state !== 'resolved');
  $('report').hidden = !canReport();
  renderList(incidents);
}

function renderList(incidents) {
  const groups = $('groups');
  groups.replaceChildren();
  for (const level of LEVELS) {
    const mine = incidents.filter((i) => i.level === level);
    if (mine.length === 0) continue;
    const titleId = 'group-title-' + level;
    const table = el('table', { 'aria-labelledby': titleId },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, 'Incident'),
        el('th', { scope: 'col' }, 'Watch'),
        el('th', { scope: 'col' }, 'State'),
        el('th', { scope: 'col' }, 'Opened'),
        el('th', { scope: 'col' }, 'Posts / baseline'),
        el('th', { scope: 'col' }, 'Assignee'),
        el('th', { scope: 'col' }, el('span', { class: 'visually-hidden' }, 'Actions')))),
      el('tbody', {}, ...mine.map(row)));
    groups.append(el('section', { class: 'group', id: 'group-' + level, 'data-testid': 'group-' + level, 'data-level': level },
      el('h2', { id: titleId },
        el('span', { class: 'level level-' + level }, level),
        el('span', { class: 'count' }, mine.length + (mine.length === 1 ? ' incident' : ' incidents'))),
      table));
  }
  $('empty').hidden = incidents.length !== 0;
}

function row(i) {
  const ack = canWrite() && UNACKED.has(i.state)
    ? el('button', {
      type: 'button', class: 'quiet', 'data-testid': 'row-ack', 'aria-label': 'Acknowledge ' + i.id,
      onclick: (ev) => { ev.preventDefault(); act(i.id, 'ack'); },
    }, 'Acknowledge')
    : null;
  return el('tr', { 'data-testid': 'incident-row', 'data-id': i.id, 'data-state': i.state },
    el('td', {}, el('a', { href: '#/incidents/' + encodeURIComponent(i.id), 'data-testid': 'incident-link' }, i.id),
      i.title ? el('div', { class: 'hint', 'data-testid': 'incident-title' }, i.title) : null),
    el('td', {}, i.watch),
    el('td', {}, el('span', { class: 'state state-' + i.state, 'data-testid': 'incident-state' }, i.state)),
    el('td', {}, fmtTime(i.opened_at)),
    el('td', { class: 'num' }, i.observed + ' / ' + fmtNum(i.baseline)),
    el('td', {}, i.assignee || ''),
    el('td', {}, ack));
}

function scheduleRefresh() {
  clearTimeout(ui.refreshTimer);
  ui.refreshTimer = setTimeout(() => {
    if (!ui.token) return;
    if (ui.current) loadIncident();
    else if (location.hash === '#/report') loadPeriod();
    else loadList();
  }, 150);
}

// ---------------------------------------------------------------- incident

async function loadIncident() {
  const id = ui.current;
  const incident = await guarded(() => api('GET', '/api/v1/incidents/' + encodeURIComponent(id)));
  if (incident && ui.current === id) renderIncident(incident);
  if (incident && ui.current === id && canWrite()) loadDrafts(id);
}

/** The status-update drafts for this incident, as the template picker's options. */
async function loadDrafts(id) {
  const data = await guarded(() => api('GET', '/api/v1/incidents/' + encodeURIComponent(id) + '/drafts'));
  if (!data || ui.current !== id) return;
  ui.drafts = data.drafts;
  const pick = $('status-draft');
  const chosen = pick.value;
  pick.replaceChildren(el('option', { value: '' }, 'Choose a template…'),
    ...data.drafts.map((d, n) => el('option', { value: String(n) }, d.template + ' (' + d.lang + ')')));
  if (chosen && Number(chosen) < data.drafts.length) pick.value = chosen;
}

function renderIncident(i) {
  $('incident-title').textContent = i.report ? i.report.title : i.id;
  const level = $('detail-level');
  level.textContent = i.level;
  level.className = 'level level-' + i.level;
  const state = $('detail-state');
  state.textContent = i.state;
  state.className = 'state state-' + i.state;
  document.title = 'Vigil · ' + i.id;

  const links = i.report && i.report.links && i.report.links.length
    ? el('span', {}, ...i.report.links.map((u) => {
      const href = safeUrl(u);
      return el('span', { class: 'link' }, href ? el('a', { href, rel: 'noopener noreferrer nofollow', target: '_blank' }, u) : u, ' ');
    }))
    : null;
  const reported = i.report ? [
    ['Incident', i.id],
    ['Reported by', i.report.by + ' at ' + fmtTime(i.opened_at)],
    ['What they saw', i.report.description || '—'],
    ...(links ? [['Links', links]] : []),
    ['Detected as', (i.detected_as || []).join(', ') || 'not detected (yet)'],
  ] : [];
  const mergeLink = (id) => el('a', { href: '#/incidents/' + encodeURIComponent(id) }, id);
  const merged = i.merged_into ? [['Merged into', mergeLink(i.merged_into)]]
    : (i.merged_from || []).length ? [['Merged from', el('span', {}, ...i.merged_from.flatMap((id) => [mergeLink(id), ' ']))]] : [];
  const facts = [
    ...merged,
    ...reported,
    ['Watch', i.watch],
    ['Opened', fmtTime(i.opened_at)],
    ['Opened at level', i.opened_level],
    ['Crisis kinds', (i.crisis_kinds || []).join(', ') || '—'],
    ['Acknowledged', i.acknowledged ? i.acknowledged.by + ' at ' + fmtTime(i.acknowledged.at) : '—'],
    ['Assignee', i.assignee || '—'],
    ['Incident lead', i.lead || '—'],
    ['Communications lead', i.communications_lead || '—'],
    ['Resolved', i.resolved ? i.resolved.by + ' at ' + fmtTime(i.resolved.at) : '—'],
    ...((i.volume || []).length ? [
      ['Latest window', i.last.observed + ' posts against a baseline of ' + fmtNum(i.last.baseline) + ' (z ' + fmtNum(i.last.z) + ')'],
      ['Happened (event time)', fmtTime(i.last.window_start) + ' to ' + fmtTime(i.last.window_end)],
    ] : [['Latest window', 'no detector window yet']]),
    ['Seen by Vigil', fmtTime(i.opened_at)],
    ['Reason', i.last.reason || '—'],
    ...((i.volume || []).length ? [
      ['Negative share', Math.round((i.last.negative_share || 0) * 100) + '%'],
      ['Sources', String(i.last.distinct_sources)],
      ['Top terms', (i.last.top_terms || []).join(', ') || '—'],
    ] : []),
    ['Silenced alerts', String(i.suppressed_alerts)],
  ];
  $('incident-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));

  const write = canWrite();
  $('read-only').hidden = write;
  $('actions').hidden = !write;
  $('comment-form').hidden = !write;
  $('status-form').hidden = !write;
  $('review').hidden = !write;
  const rv = i.review || {};
  for (const [id, key] of [['review-root-cause', 'root_cause'], ['review-actions', 'actions'], ['review-effectiveness', 'effectiveness']]) {
    if (document.activeElement !== $(id)) $(id).value = rv[key] || '';
  }
  $('ack-button').hidden = !(UNACKED.has(i.state));
  $('resolve-button').hidden = i.state === 'resolved';
  $('reopen-button').hidden = i.state !== 'resolved';
  $('assign-input').placeholder = i.assignee || 'name';

  renderChecklist(i, write);
  renderClocks(i);
  renderEvidence(i);
  renderChart(i.volume || []);
  $('timeline').replaceChildren(...i.timeline.map(timelineItem));
}

/** The playbook's steps as checkboxes (disabled for a token that cannot act). */
function renderChecklist(i, write) {
  const list = i.checklist;
  $('playbook').hidden = !list;
  if (!list) return;
  $('playbook-title').textContent = 'Playbook: ' + list.title;
  const done = list.steps.filter((s) => s.done).length;
  $('playbook-name').textContent = done + ' of ' + list.steps.length + ' steps done (' + list.playbook + ').';
  $('checklist').replaceChildren(...list.steps.map((s, n) => {
    const id = 'step-' + n;
    const box = el('input', {
      type: 'checkbox', id, checked: !!s.done, disabled: !write, 'data-testid': 'step-box',
      onchange: (ev) => act(i.id, 'step', { step: n, done: ev.target.checked }),
    });
    return el('li', { 'data-testid': 'step', 'data-step': n, class: s.done ? 'step-done' : '' },
      box, ' ', el('label', { for: id }, s.text),
      s.done ? el('span', { class: 'hint' }, ' — ' + s.done.by + ' at ' + fmtTime(s.done.at)) : null);
  }));
}

/** Minutes (or seconds) between two times, for a clock. */
function span(fromMs, toMs) {
  const s = Math.round(Math.abs(toMs - fromMs) / 1000);
  return s < 120 ? s + ' s' : Math.round(s / 60) + ' min';
}

/** Each response-target clock: met in time, met late, missed, or running. */
function renderClocks(i) {
  const clocks = i.clocks || [];
  $('targets').hidden = clocks.length === 0;
  const now = Date.now();
  const names = { acknowledge: 'Acknowledge', respond: 'First status update', resolve: 'Resolve' };
  $('clocks').replaceChildren(...clocks.map((c) => {
    const due = new Date(c.due_at).getTime();
    let status, cls;
    if (c.met_at) {
      const met = new Date(c.met_at).getTime();
      status = met <= due ? 'met in time (' + span(met, due) + ' early)' : 'met late (' + span(due, met) + ' after due)';
      cls = met <= due ? 'clock-met' : 'clock-missed';
    } else if (c.missed_at || now > due) {
      status = 'MISSED: due ' + span(due, now) + ' ago';
      cls = 'clock-missed';
    } else if (i.state === 'resolved') {
      status = 'not needed: resolved';
      cls = 'clock-met';
    } else {
      status = 'due in ' + span(now, due);
      cls = 'clock-running';
    }
    return el('li', { class: cls, 'data-testid': 'clock', 'data-target': c.target },
      el('strong', {}, names[c.target] || c.target), ' by ' + fmtTime(c.due_at) + ': ',
      el('span', { 'data-testid': 'clock-status' }, status));
  }));
}

/** Only http(s) links are rendered as links; anything else stays text. */
function safeUrl(u) {
  try {
    const url = new URL(u);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch (_) {
    return null;
  }
}

/**
 * The newest evidence (opening or level rise): stories with their counts,
 * rising terms and sample posts. Post text is only ever set as text nodes
 * (el() never parses HTML), so a post cannot inject markup.
 */
function renderEvidence(i) {
  const list = i.evidence || [];
  const ev = list[list.length - 1];
  $('evidence').hidden = !ev;
  if (!ev) return;
  $('evidence-when').textContent = 'At ' + ev.state + ' (' + ev.level + '): happened '
    + fmtTime(ev.window_start) + ' to ' + fmtTime(ev.window_end) + ' (event time), seen by Vigil '
    + fmtTime(ev.seen_at) + '.';
  const rising = (ev.rising_terms || []).map((r) => r.term + ' ' + Math.round(r.share * 100)
    + '% (was ' + Math.round(r.baseline_share * 100) + '%)');
  $('evidence-rising').textContent = rising.length ? 'Rising: ' + rising.join(', ') : 'No term rose.';
  $('stories').replaceChildren(...(ev.stories || []).map((st) => el('li', { 'data-testid': 'story' },
    el('span', { class: 'story-count', 'data-testid': 'story-count' }, st.posts + ' posts'),
    el('span', { class: 'meta' }, ' · ' + st.originals + ' original, ' + st.reposts + ' reposts · first on '
      + st.first_source + ' at ' + fmtTime(st.first_seen) + ' · ' + (st.sources || []).join(', ')
      + (st.reach ? ' · reach ' + st.reach : '')),
    el('q', { class: 'story-text', 'data-testid': 'story-text' }, st.text))));
  $('samples').replaceChildren(...(ev.samples || []).map((p) => {
    const href = p.url ? safeUrl(p.url) : null;
    return el('li', { 'data-testid': 'sample' },
      el('span', { class: 'meta' }, p.source + ' · ' + fmtTime(p.published_at)
        + (p.author ? ' · @' + p.author : '') + (p.reach !== undefined && p.reach !== null ? ' · reach ' + p.reach : '') + ' · '),
      href ? el('a', { href, rel: 'noopener noreferrer nofollow', target: '_blank' }, p.id) : el('span', {}, p.id),
      el('span', { class: 'sample-text' }, p.text));
  }));
}

/** The event in words, as the API words it (the same describer as the CLI and the export). */
function describe(e) {
  const t = e.summary || e.kind;
  return t.charAt(0).toUpperCase() + t.slice(1);
}

function timelineItem(e) {
  return el('li', { 'data-kind': e.kind, 'data-testid': 'timeline-event' },
    el('time', { datetime: e.at }, fmtTime(e.at)),
    el('span', { class: 'actor' }, e.actor),
    el('span', {}, describe(e)));
}

/** Observed posts per detect window (solid) against the baseline (dashed). */
function renderChart(points) {
  const chart = $('volume-chart');
  chart.replaceChildren();
  chart.dataset.points = String(points.length);
  const W = 720, H = 240, L = 48, R = 12, T = 14, B = 30;
  if (points.length === 0) {
    chart.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'No volume recorded yet'));
    $('chart-desc').textContent = 'No volume recorded yet.';
    return;
  }
  const xs = points.map((p) => new Date(p.window_end).getTime());
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const yMax = Math.max(1, ...points.map((p) => Math.max(p.observed, p.baseline))) * 1.1;
  const px = (t) => (x1 === x0 ? L + (W - L - R) / 2 : L + ((t - x0) / (x1 - x0)) * (W - L - R));
  const py = (v) => T + (1 - v / yMax) * (H - T - B);
  chart.append(
    svg('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }),
    svg('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }),
    svg('text', { x: L - 6, y: py(yMax / 1.1) + 4, 'text-anchor': 'end' }, fmtNum(Math.round(yMax / 1.1))),
    svg('text', { x: L - 6, y: H - B + 4, 'text-anchor': 'end' }, '0'),
  );
  if (points.length === 1) {
    chart.append(svg('text', { x: px(xs[0]), y: H - 8, 'text-anchor': 'middle' }, fmtTime(points[0].window_end)));
  } else {
    chart.append(
      svg('text', { x: L, y: H - 8 }, fmtTime(points[0].window_end)),
      svg('text', { x: W - R, y: H - 8, 'text-anchor': 'end' }, fmtTime(points[points.length - 1].window_end)),
    );
  }
  // One window has no line to draw: its baseline spans the chart and its
  // count is a bar.
  const line = (key) => (points.length === 1
    ? [L, W - R].map((x) => x + ',' + py(points[0][key]).toFixed(1)).join(' ')
    : points.map((p, k) => px(xs[k]).toFixed(1) + ',' + py(p[key]).toFixed(1)).join(' '));
  chart.append(svg('polyline', { class: 'baseline', points: line('baseline'), 'data-testid': 'chart-baseline' }));
  if (points.length === 1) {
    const x = px(xs[0]), y = py(points[0].observed);
    chart.append(svg('rect', {
      class: 'bar', x: (x - 14).toFixed(1), y: y.toFixed(1), width: 28, height: (H - B - y).toFixed(1), 'data-testid': 'chart-observed',
    }));
  } else {
    chart.append(svg('polyline', { class: 'observed', points: line('observed'), 'data-testid': 'chart-observed' }));
  }
  points.forEach((p, k) => {
    const dot = svg('circle', { class: 'dot', cx: px(xs[k]).toFixed(1), cy: py(p.observed).toFixed(1), r: 3 });
    dot.append(svg('title', {}, fmtTime(p.window_end) + ': ' + p.observed + ' posts, baseline ' + fmtNum(p.baseline)));
    chart.append(dot);
  });
  const peak = points.reduce((a, b) => (b.observed > a.observed ? b : a));
  const span = points.length === 1
    ? '1 window ending ' + fmtTime(points[0].window_end)
    : points.length + ' windows from ' + fmtTime(points[0].window_end) + ' to ' + fmtTime(points[points.length - 1].window_end);
  $('chart-desc').textContent = span + '; peak ' + peak.observed + ' posts against a baseline of '
    + fmtNum(peak.baseline) + '. Red: observed posts per window; dashed: baseline.';
}

// ----------------------------------------------------------------- actions

const DONE = { ack: 'Acknowledged.', resolve: 'Resolved.', reopen: 'Reopened.', assign: 'Assigned.', comment: 'Comment added.', role: 'Role set.', status: 'Status update recorded.', review: 'Review saved.', step: 'Step updated.', merge: 'Merged.' };
const NOOP = { ack: 'Already acknowledged.', resolve: 'Already resolved.', reopen: 'Not resolved: nothing to reopen.', assign: 'Already assigned to them.', comment: '', role: 'They already hold that role.', status: '', review: 'Nothing changed in the review.', step: '', merge: '' };

async function act(id, action, body) {
  const out = await guarded(() => api('POST', '/api/v1/incidents/' + encodeURIComponent(id) + '/' + action, body));
  if (!out) return false;
  $('action-result').textContent = out.changed ? DONE[action] : NOOP[action];
  if (ui.current === id) renderIncident(out.incident);
  else scheduleRefresh();
  return true;
}

/** Sends the report form; opens the incident it made or joined. */
async function report() {
  const body = { title: $('report-title').value.trim(), level: $('report-level').value };
  const watch = $('report-watch').value.trim();
  const kind = $('report-kind').value;
  const description = $('report-description').value.trim();
  const links = $('report-links').value.split('\n').map((l) => l.trim()).filter(Boolean);
  if (watch) body.watch = watch;
  if (kind) body.crisis_kind = kind;
  if (description) body.description = description;
  if (links.length) body.links = links;
  const out = await guarded(() => api('POST', '/api/v1/incidents', body));
  if (!out) return;
  $('report-form').reset();
  $('report').open = false;
  ui.flash = out.created
    ? 'Reported: a new incident.'
    : 'Reported: joined the active incident of watch ' + out.incident.watch + '.';
  location.hash = '#/incidents/' + encodeURIComponent(out.incident.id);
}

// ----------------------------------------------------------- period report

/** `1h 02m 03s` style, or a dash. */
function fmtSecs(s) {
  if (s === undefined || s === null) return '—';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? h + 'h ' + String(m).padStart(2, '0') + 'm' : m ? m + 'm ' + String(r).padStart(2, '0') + 's' : r + 's';
}

function table(caption, head, rows) {
  return el('table', {},
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))));
}

/** The incidents opened in the chosen days (default: the last 30), summed up. */
async function loadPeriod() {
  if (!$('period-until').value) {
    const until = new Date(Date.now() + 86400000);
    $('period-until').value = until.toISOString().slice(0, 10);
    $('period-since').value = new Date(until.getTime() - 31 * 86400000).toISOString().slice(0, 10);
  }
  const params = new URLSearchParams({
    since: $('period-since').value + 'T00:00:00Z',
    until: $('period-until').value + 'T00:00:00Z',
  });
  const r = await guarded(() => api('GET', '/api/v1/reports/period?' + params));
  if (!r) return;
  $('period-summary').textContent = r.incidents + ' incidents (' + r.reported_by_hand + ' reported by hand), '
    + r.resolved + ' resolved; ' + r.incidents_missing_a_target + ' missed at least one response target.';
  const d = (x) => [String(x.count), fmtSecs(x.median_secs), fmtSecs(x.p90_secs)];
  $('period-tables').replaceChildren(
    table('By level', ['Level', 'Incidents'], LEVELS.map((l) => [l, String(r.by_level[l] || 0)])),
    table('By crisis kind', ['Kind', 'Incidents'], Object.entries(r.by_kind).map(([k, n]) => [k.replace(/_/g, ' '), String(n)])),
    table('Response times (from opening)', ['To', 'Incidents', 'Median', '90th percentile', 'Targets missed'], [
      ['first acknowledgement', ...d(r.time_to_acknowledge), String(r.target_misses.acknowledge)],
      ['first status update', ...d(r.time_to_respond), String(r.target_misses.respond)],
      ['resolve', ...d(r.time_to_resolve), String(r.target_misses.resolve)],
    ]),
    table('Watches with most incidents', ['Watch', 'Incidents', 'Highest level'],
      r.top_watches.map((w) => [w.watch, String(w.incidents), w.highest_level])),
  );
}

// -------------------------------------------------------------- live feed

function setLive(on) {
  const s = $('live-status');
  s.textContent = on ? 'live' : (ui.token ? 'reconnecting…' : 'offline');
  s.classList.toggle('on', on);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function listen() {
  if (ui.stream) ui.stream.abort();
  const ctrl = new AbortController();
  ui.stream = ctrl;
  let delay = 1000;
  while (!ctrl.signal.aborted) {
    try {
      const r = await fetch('/api/v1/events', {
        headers: { Authorization: 'Bearer ' + ui.token, Accept: 'text/event-stream' },
        signal: ctrl.signal,
      });
      if (r.status === 401) {
        signOut('Your token was refused.');
        return;
      }
      if (!r.ok || !r.body) throw new Error('HTTP ' + r.status);
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n/g, '\n');
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let name = 'message';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) name = line.slice(6).trim();
          }
          if (name === 'ready') {
            delay = 1000;
            setLive(true);
            scheduleRefresh();
          } else if (name === 'incident' || name === 'pruned' || name === 'resync') {
            scheduleRefresh();
          }
        }
      }
    } catch (e) {
      if (ctrl.signal.aborted) return;
    }
    setLive(false);
    await sleep(delay);
    delay = Math.min(delay * 2, 30000);
  }
}

// ------------------------------------------------------------------- wiring

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    if (t) signIn(t);
  });
  $('logout').addEventListener('click', () => signOut(''));
  for (const id of ['filter-level', 'filter-state']) $(id).addEventListener('change', loadList);
  $('filter-watch').addEventListener('input', () => { clearTimeout(ui.refreshTimer); ui.refreshTimer = setTimeout(loadList, 250); });
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('ack-button').addEventListener('click', () => act(ui.current, 'ack'));
  $('resolve-button').addEventListener('click', () => act(ui.current, 'resolve'));
  $('reopen-button').addEventListener('click', () => act(ui.current, 'reopen'));
  $('assign-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const assignee = $('assign-input').value.trim();
    if (assignee && await act(ui.current, 'assign', { assignee })) $('assign-input').value = '';
  });
  $('merge-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const into = $('merge-into').value.trim();
    if (!into) return;
    const out = await guarded(() => api('POST', '/api/v1/incidents/' + encodeURIComponent(ui.current) + '/merge', { into }));
    if (!out) return;
    $('merge-into').value = '';
    ui.flash = 'Merged: this is the incident it went into.';
    location.hash = '#/incidents/' + encodeURIComponent(out.incident.id);
  });
  $('role-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const person = $('role-person').value.trim();
    if (person && await act(ui.current, 'role', { role: $('role-select').value, person })) $('role-person').value = '';
  });
  $('status-draft').addEventListener('change', () => {
    const d = (ui.drafts || [])[Number($('status-draft').value)];
    if ($('status-draft').value !== '' && d) $('status-input').value = d.text;
  });
  $('status-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = $('status-input').value.trim();
    const publish = $('status-publish').checked;
    if (text && await act(ui.current, 'status', { text, publish })) {
      $('status-input').value = '';
      $('status-publish').checked = false;
      $('status-draft').value = '';
    }
  });
  $('review-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const [id, key] of [['review-root-cause', 'root_cause'], ['review-actions', 'actions'], ['review-effectiveness', 'effectiveness']]) {
      const v = $(id).value.trim();
      if (v) body[key] = v;
    }
    if (Object.keys(body).length) await act(ui.current, 'review', body);
  });
  $('comment-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = $('comment-input').value.trim();
    if (text && await act(ui.current, 'comment', { text })) $('comment-input').value = '';
  });
  $('period-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    loadPeriod();
  });
  $('report-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    report();
  });
  window.addEventListener('hashchange', () => {
    $('action-result').textContent = ui.flash || '';
    ui.flash = null;
    route();
  });
  if (ui.token) signIn(ui.token);
  else signOut('');
});
