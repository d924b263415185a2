/*
 * tenantdel operator dashboard: plain JavaScript, no framework, no build
 * step, no external resource. Served by the API at /ui/ under
 * "Content-Security-Policy: default-src 'self'", so nothing here is inline.
 *
 * Every string that comes from the API (tenant names, reasons, errors that
 * services returned) reaches the page through textContent: el() below never
 * parses markup, and nothing in this file uses innerHTML.
 */
'use strict';

(function () {
  const TOKEN_KEY = 'tenantdel.token';
  const REFRESH_MS = 5000;
  const PAGE_SIZE = 25;
  const STATES = ['scheduled', 'running', 'succeeded', 'failed', 'cancelled', 'held'];
  const KINDS = ['purge', 'reapply'];
  /* The order of a progress bar's segments. */
  const TASK_STATES = ['succeeded', 'skipped', 'in_flight', 'waiting', 'pending', 'dead'];

  const $ = (id) => document.getElementById(id);

  const { el, clear, show, fmtDuration, fmtWhen, fmtNum, badge, jobLink } = window.tdDom;

  /* ---- the API ---- */

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  /* fetch with the bearer token; the parsed JSON (or text), or ApiError
   * with the API's {"error"} message. A 401 signs out. */
  async function api(method, path, body, asText) {
    const headers = { Authorization: 'Bearer ' + token() };
    const init = { method, headers, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'cannot reach the API: ' + e.message);
    }
    const text = await r.text();
    if (!r.ok) {
      let msg = text;
      try { msg = JSON.parse(text).error || text; } catch (e) { /* not JSON */ }
      if (r.status === 401 && token()) signOut('The API refused the token (401): sign in again.');
      throw new ApiError(r.status, 'HTTP ' + r.status + ': ' + msg);
    }
    if (asText) return text;
    return text ? JSON.parse(text) : null;
  }

  function listJobs(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
    return api('GET', '/v1/jobs?' + q.toString());
  }

  function getJob(id) {
    return api('GET', '/v1/jobs/' + encodeURIComponent(id));
  }

  /* ---- views and refresh ---- */

  let generation = 0;   /* bumped on every navigation: stale refreshes stop */
  let timer = null;

  function schedule(gen, fn) {
    clearTimeout(timer);
    timer = setTimeout(() => { if (gen === generation) fn(gen); }, REFRESH_MS);
  }

  function stamp() {
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  function fatal(msg) {
    const f = $('fatal');
    f.textContent = msg || '';
    show(f, !!msg);
  }

  function section(title, ...children) {
    return el('section', { class: 'card' }, el('h2', null, title), ...children);
  }

  function table(head, rows, cls) {
    return el('div', { class: 'scroll' },
      el('table', { class: cls || '' },
        el('thead', null, el('tr', null, head.map((h) =>
          el('th', { class: h.startsWith('~') ? 'opt' : '' }, h.replace(/^~/, ''))))),
        el('tbody', null, rows)));
  }

  function cell(v, cls) {
    return el('td', { class: cls || '' }, v instanceof Node ? v : fmtNum(v));
  }

  /* ---- overview: GET /v1/summary, one request per refresh ---- */

  function overviewStates(sum) {
    return el('div', { class: 'tiles', id: 'states' }, STATES.map((st) =>
      el('a', { class: 'tile st-' + st, href: '#/jobs?state=' + st, 'data-state': st },
        el('span', { class: 'n' }, fmtNum(sum.jobs[st])),
        el('span', null, st))));
  }

  function overviewHealth(sum) {
    const lag = sum.due_lag_seconds;
    const tile = (id, label, value, bad, href) => el(href ? 'a' : 'div',
      { class: 'tile' + (bad ? ' bad' : ''), id, href },
      el('span', { class: 'n' }, value), el('span', null, label));
    const approval = 'awaiting_approval' in sum ? sum.awaiting_approval : null;
    return el('div', { class: 'tiles' },
      tile('overdue', 'overdue', fmtNum(sum.overdue), sum.overdue > 0, '#/jobs?overdue=1'),
      tile('due-lag', 'due lag', fmtDuration(lag * 1000), lag > 900),
      tile('backlog', 'webhook backlog', fmtNum(sum.webhook_backlog), sum.webhook_backlog > 0),
      tile('approval', 'awaiting approval', approval === null ? 'n/a' : String(approval),
        approval > 0));
  }

  function overviewOverdue(sum) {
    const late = sum.overdue_jobs || [];
    if (!late.length) return el('p', { class: 'muted', id: 'overdue-none' }, 'No active job is past its deadline.');
    const more = sum.overdue > late.length ?
      el('p', null, el('a', { href: '#/jobs?overdue=1', id: 'overdue-all' },
        'all ' + sum.overdue + ' overdue jobs')) : null;
    return el('div', null, table(['job', 'tenant', 'state', '~deadline', 'late by'], late.map((j) =>
      el('tr', null, cell(jobLink(j.job_id, j.job_id.slice(0, 13))), cell(j.tenant_id),
        cell(badge(j.state)), cell(j.deadline_at, 'opt'),
        cell(fmtDuration(j.late_seconds * 1000), 'bad'))), 'overdue'), more);
  }

  function overviewServices(sum) {
    const rows = (sum.services || []).map((x) => {
      const b = String(x.breaker).replace('_', '-');
      const e = x.latest_error;
      return el('tr', { 'data-service': x.service }, cell(x.service),
        cell(el('span', { class: 'badge br-' + b.replace(/[^a-z-]/g, '') }, b)),
        cell(x.attempts.success), cell(x.attempts.retry), cell(x.attempts.permanent),
        cell(e ? el('span', null, jobLink(e.job_id, e.tenant_id), ': ',
          el('span', { class: 'err' }, e.error)) : '-', 'wrap'));
    });
    return table(['service', 'breaker', 'ok', 'retry', 'permanent', 'latest error'], rows, 'services');
  }

  async function renderOverview(gen) {
    const sum = await api('GET', '/v1/summary');
    if (gen !== generation) return;
    const v = clear($('view'));
    v.appendChild(el('h1', null, 'Overview'));
    v.appendChild(section('Jobs by state', overviewStates(sum)));
    v.appendChild(section('Health', overviewHealth(sum)));
    v.appendChild(section('Overdue jobs', overviewOverdue(sum)));
    v.appendChild(section('Services', overviewServices(sum)));
    stamp();
    schedule(gen, guarded(renderOverview));
  }

  /* ---- jobs ---- */

  const FILTERS = ['state', 'kind', 'tenant', 'user', 'overdue'];

  function jobsQuery() {
    const q = new URLSearchParams(location.hash.split('?')[1] || '');
    const f = {};
    for (const k of FILTERS.concat(['before'])) f[k] = q.get(k) || '';
    return f;
  }

  function jobsHash(f) {
    const q = new URLSearchParams();
    for (const k of FILTERS.concat(['before'])) if (f[k]) q.set(k, f[k]);
    const s = q.toString();
    return '#/jobs' + (s ? '?' + s : '');
  }

  function jobsFilterForm(f) {
    const opt = (v, cur, label) => el('option', { value: v, selected: v === cur }, label || v || 'any');
    const form = el('form', { class: 'filters', id: 'filters' },
      el('label', null, 'state ', el('select', { name: 'state' }, opt('', f.state), STATES.map((s) => opt(s, f.state)))),
      el('label', null, 'kind ', el('select', { name: 'kind' }, opt('', f.kind), KINDS.map((s) => opt(s, f.kind)))),
      el('label', null, 'tenant ', el('input', { name: 'tenant', value: f.tenant, size: 16 })),
      el('label', null, 'user ', el('input', { name: 'user', value: f.user, size: 12 })),
      el('label', null, el('input', { type: 'checkbox', name: 'overdue', value: '1', checked: f.overdue === '1' }), ' overdue'),
      el('button', { type: 'submit' }, 'Filter'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const fd = new FormData(form);
      location.hash = jobsHash({ state: fd.get('state'), kind: fd.get('kind'),
        tenant: String(fd.get('tenant')).trim(), user: String(fd.get('user')).trim(),
        overdue: fd.get('overdue') ? '1' : '' });
    });
    return form;
  }

  /* The page of jobs after the cursor f.before (newest first), with each
   * job's progress, in one request: one row more than shown says whether
   * there is an older page. */
  async function jobsPage(f) {
    const jobs = await listJobs({ state: f.state, kind: f.kind, tenant_id: f.tenant,
      user_id: f.user, overdue: f.overdue, before: f.before, limit: PAGE_SIZE + 1, progress: 1 });
    const rows = jobs.slice(0, PAGE_SIZE);
    const next = jobs.length > PAGE_SIZE ? rows[rows.length - 1].job_id : null;
    return { rows, next };
  }

  /* A progress bar from tasks counted by state ({succeeded: 3, ...}). */
  function progress(p) {
    if (!p || !p.total) return el('span', { class: 'muted' }, '-');
    const done = (p.succeeded || 0) + (p.skipped || 0);
    const segs = [];
    for (const st of TASK_STATES)
      for (let i = 0; i < (p[st] || 0); i++) segs.push(el('span', { class: 'seg ts-' + st, title: st }));
    return el('div', { class: 'progress-wrap', title: done + ' of ' + p.total + ' tasks done' },
      el('div', { class: 'progress' }, segs),
      el('span', { class: 'muted small' }, done + '/' + p.total));
  }

  /* A job's tasks counted by state, as the list's progress field. */
  function tally(tasks) {
    const p = { total: (tasks || []).length };
    for (const t of tasks || []) p[t.state] = (p[t.state] || 0) + 1;
    return p;
  }

  /* Where "newer" goes back to from a page reached by "older". */
  const newerOf = {};

  function jobsPager(f, next) {
    const nav = el('div', { class: 'pager' });
    const here = jobsHash(f);
    if (f.before) {
      nav.appendChild(el('a', { href: jobsHash(Object.assign({}, f, { before: '' })), id: 'newest' }, '<< newest'));
      if (newerOf[here]) nav.appendChild(el('a', { href: newerOf[here], id: 'prev' }, '< newer'));
    }
    if (next) {
      const older = jobsHash(Object.assign({}, f, { before: next }));
      nav.appendChild(el('a', { href: older, id: 'next', onclick: () => { newerOf[older] = here; } }, 'older >'));
    }
    return nav;
  }

  /* The view's fixed parts are built once per navigation; a refresh only
   * replaces the parts that show data (a half-typed filter survives it). */
  let built = -1;

  function skeleton(gen, build) {
    if (built === gen) return false;
    built = gen;
    build(clear($('view')));
    return true;
  }

  function replace(id, ...children) {
    const box = clear($(id));
    for (const c of children) if (c) box.appendChild(c);
  }

  async function renderJobs(gen) {
    const f = jobsQuery();
    const p = await jobsPage(f);
    if (gen !== generation) return;
    skeleton(gen, (v) => {
      v.appendChild(el('h1', null, 'Jobs'));
      v.appendChild(jobsFilterForm(f));
      v.appendChild(el('div', { id: 'jobs-results' }));
    });
    const rows = p.rows.map((j) => el('tr', { 'data-job': j.job_id },
      cell(jobLink(j.job_id, j.job_id.slice(0, 13))),
      cell(el('span', null, el('span', { class: 'tenant' }, j.tenant_id || j.user_id || '-'),
        j.tenant_name ? el('span', { class: 'muted small tenant-name' }, ' ' + j.tenant_name) : null)),
      cell(j.kind, 'opt'), cell(badge(j.state)), cell(fmtWhen(j.due_at), 'opt'),
      cell(j.total_deleted, 'num opt'), cell(progress(j.progress))));
    replace('jobs-results',
      f.user ? el('p', { class: 'muted' }, 'user is matched among the jobs of each page.') : null,
      rows.length ? table(['job', 'tenant', '~kind', 'state', '~due', '~deleted', 'services'], rows, 'jobs')
        : el('p', { class: 'muted', id: 'no-jobs' }, 'No job matches.'),
      jobsPager(f, p.next));
    stamp();
    schedule(gen, guarded(renderJobs));
  }

  /* ---- one job ---- */

  const FIELDS = [['tenant_id', 'tenant'], ['tenant_name', 'name'], ['user_id', 'user'],
    ['kind', 'kind'], ['requested_by', 'requested by'], ['reason', 'reason'],
    ['hold_reason', 'hold reason'], ['held_from', 'held from'], ['approval', 'approval'],
    ['created_at', 'created'], ['due_at', 'due'], ['deadline_at', 'deadline'],
    ['started_at', 'started'], ['finished_at', 'finished'], ['total_deleted', 'deleted'],
    ['deadline_missed', 'deadline missed'], ['origin_job_id', 'origin job'],
    ['parent_id', 'erasure of']];

  function jobFacts(j) {
    const dl = el('dl', { class: 'facts' });
    for (const [k, label] of FIELDS) {
      if (!(k in j) || j[k] === null || j[k] === '') continue;
      const v = /_at$/.test(k) ? fmtWhen(j[k]) : /_id$/.test(k) && k !== 'tenant_id' && k !== 'user_id'
        ? jobLink(j[k]) : String(j[k]);
      dl.appendChild(el('dt', null, label));
      dl.appendChild(el('dd', { 'data-field': k }, v));
    }
    return dl;
  }

  function counts(obj) {
    if (!obj || typeof obj !== 'object') return '';
    return Object.entries(obj).map(([k, v]) => k + ': ' + (typeof v === 'object' ? JSON.stringify(v) : v)).join(', ');
  }

  function jobTasks(j) {
    const rows = (j.tasks || []).map((t) => el('tr', { 'data-service': t.service },
      cell(t.service), cell(t.phase, 'num opt'), cell(badge(t.state)), cell(t.attempts, 'num'),
      cell(t.http_status, 'num'),
      cell(el('span', { title: counts(t.deleted_counts) }, fmtNum(t.total_deleted)), 'num'),
      cell(t.before_total, 'num opt'), cell(t.verified_remaining, 'num opt'),
      cell(t.duration_ms === null || t.duration_ms === undefined ? '-' : t.duration_ms + ' ms', 'opt'),
      cell(t.next_attempt_at ? fmtWhen(t.next_attempt_at) : '-', 'opt'),
      cell(el('span', { class: 'err' }, t.last_error || t.skip_reason || ''), 'wrap')));
    return table(['service', '~phase', 'state', 'attempts', 'HTTP', 'deleted', '~before',
      '~remaining', '~duration', '~next retry', 'last error'], rows, 'tasks');
  }

  /* A user's erasure: the tenants it found, the decision and the child purge. */
  function jobTenants(j) {
    const rows = (j.tenants || []).map((t) => el('tr', { 'data-tenant': t.tenant_id },
      cell(t.tenant_id), cell(t.role), cell(t.decision),
      cell(t.child_job_id ? jobLink(t.child_job_id) : '-'), cell(t.reason, 'wrap')));
    if (!rows.length) return el('p', { class: 'muted' }, 'Not discovered yet.');
    return table(['tenant', 'role', 'decision', 'purge job', 'reason'], rows, 'tenants');
  }

  function jobEvents(events) {
    if (!events) return el('p', { class: 'muted' }, 'The audit trail could not be read.');
    return el('ol', { class: 'timeline', id: 'events' }, events.map((e) =>
      el('li', null,
        el('span', { class: 'mono small' }, (e.at || '').replace('T', ' ')), ' ',
        el('strong', null, e.type), e.service ? ' ' + e.service : '',
        e.detail && Object.keys(e.detail).length ?
          el('code', { class: 'detail' }, JSON.stringify(e.detail)) : null)));
  }

  async function downloadCertificate(id, out) {
    try {
      const cert = await api('GET', '/v1/jobs/' + encodeURIComponent(id) + '/certificate');
      const blob = new Blob([JSON.stringify(cert, null, 2) + '\n'], { type: 'application/json' });
      const url = URL.createObjectURL(blob);
      const a = el('a', { href: url, download: 'certificate-' + id + '.json', hidden: true });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      out.textContent = 'Certificate downloaded.';
      out.className = 'ok';
    } catch (e) {
      out.textContent = e.message;
      out.className = 'error';
    }
  }

  const ACTIONS = {
    cancel: { label: 'Cancel', reason: 'optional', text: 'Cancel the deletion of tenant %s? Services that suspended its data restore it.' },
    hold: { label: 'Hold', reason: 'required', text: 'Put a legal hold on the deletion of tenant %s? Nothing is sent while it is held.' },
    release: { label: 'Release', text: 'Lift the hold on the deletion of tenant %s? It goes back to the state it was in.' },
    retry: { label: 'Retry', service: true, text: 'Retry the dead tasks of the deletion of tenant %s?' },
    approve: { label: 'Approve', text: 'Approve the deletion of tenant %s? It may then start at its due time.' },
  };

  /* Opens the confirmation dialog; resolves with {reason, service}, or
   * null when the user backs out. */
  function confirmAction(verb, j) {
    const a = ACTIONS[verb];
    const dlg = $('confirm');
    $('confirm-title').textContent = a.label + ' job ' + j.job_id;
    $('confirm-text').textContent = a.text.replace('%s', j.tenant_id || j.user_id || '');
    const reason = $('confirm-reason');
    reason.value = '';
    reason.required = a.reason === 'required';
    $('confirm-reason-label').textContent = a.reason === 'required' ? 'Reason (required)' : 'Reason (optional)';
    show($('confirm-reason-row'), !!a.reason);
    const sel = clear($('confirm-service'));
    sel.appendChild(el('option', { value: '' }, 'every dead task'));
    for (const t of j.tasks || []) if (t.state === 'dead') sel.appendChild(el('option', { value: t.service }, t.service));
    show($('confirm-service-row'), !!a.service);
    $('confirm-yes').textContent = a.label;
    return new Promise((resolve) => {
      const done = (v) => {
        $('confirm-form').onsubmit = null;
        $('confirm-no').onclick = null;
        dlg.onclose = null;
        if (dlg.open) dlg.close();
        resolve(v);
      };
      $('confirm-form').onsubmit = (ev) => {
        ev.preventDefault();
        done({ reason: reason.value.trim(), service: sel.value });
      };
      $('confirm-no').onclick = () => done(null);
      dlg.onclose = () => done(null);
      dlg.showModal();
      (a.reason ? reason : $('confirm-no')).focus();
    });
  }

  async function runAction(verb, j, out) {
    const c = await confirmAction(verb, j);
    if (!c) return;
    const body = {};
    if (c.reason && ACTIONS[verb].reason) body.reason = c.reason;
    if (c.service && ACTIONS[verb].service) body.service = c.service;
    try {
      const after = await api('POST', '/v1/jobs/' + encodeURIComponent(j.job_id) + '/' + verb, body);
      out.textContent = ACTIONS[verb].label + ': done, the job is ' + after.state + '.';
      out.className = 'ok';
    } catch (e) {
      out.textContent = ACTIONS[verb].label + ' refused: ' + e.message;
      out.className = 'error';
    }
    guarded(refreshJob)(generation);
  }

  function jobActions(j, out) {
    const bar = el('div', { class: 'actions', id: 'actions' });
    for (const verb of Object.keys(ACTIONS)) {
      if (verb === 'approve' && !('approval' in j)) continue;
      bar.appendChild(el('button', { type: 'button', id: 'act-' + verb, class: verb === 'cancel' ? 'danger' : '',
        onclick: () => runAction(verb, j, out) }, ACTIONS[verb].label));
    }
    bar.appendChild(el('button', { type: 'button', id: 'act-certificate', disabled: j.state !== 'succeeded',
      title: j.state === 'succeeded' ? 'the deletion certificate (JSON)' : 'only a succeeded job has one',
      onclick: () => downloadCertificate(j.job_id, out) }, 'Download certificate'));
    return bar;
  }

  let jobMessage = null;  /* the action result line survives refreshes */
  let actionsKey = '';    /* the actions bar is rebuilt when the job changes state */

  async function refreshJob(gen) {
    const id = decodeURIComponent(location.hash.slice('#/job/'.length));
    const [j, events] = await Promise.all([getJob(id),
      api('GET', '/v1/jobs/' + encodeURIComponent(id) + '/events').catch(() => null)]);
    if (gen !== generation) return;
    if (skeleton(gen, (v) => {
      v.appendChild(el('h1', null, 'Job ', el('span', { class: 'mono', id: 'job-id' }, j.job_id), ' ',
        el('span', { id: 'job-state' })));
      v.appendChild(el('div', { id: 'job-actions' }));
      v.appendChild(jobMessage);
      v.appendChild(el('section', { class: 'card' }, el('h2', null, 'Job'), el('div', { id: 'job-facts' })));
      v.appendChild(el('section', { class: 'card' }, el('h2', null, 'Services'), el('div', { id: 'job-tasks' })));
      if (j.kind === 'user')
        v.appendChild(el('section', { class: 'card' }, el('h2', null, 'Tenants'), el('div', { id: 'job-tenants' })));
      v.appendChild(el('section', { class: 'card' }, el('h2', null, 'Events'), el('div', { id: 'job-events' })));
    })) actionsKey = '';
    replace('job-state', badge(j.state));
    const key = j.state + '/' + j.approval + '/' + (j.tasks || []).map((t) => t.state).join();
    if (key !== actionsKey) {
      actionsKey = key;
      replace('job-actions', jobActions(j, jobMessage));
    }
    replace('job-facts', jobFacts(j));
    replace('job-tasks', progress(tally(j.tasks)), jobTasks(j));
    if (j.kind === 'user') replace('job-tenants', jobTenants(j));
    replace('job-events', jobEvents(events));
    stamp();
    schedule(gen, guarded(refreshJob));
  }

  function renderJob(gen) {
    jobMessage = el('p', { id: 'action-result', role: 'status' });
    return refreshJob(gen);
  }

  /* ---- routing, sign-in ---- */

  /* Runs a view; its errors show on the page and the refresh goes on. */
  function guarded(fn) {
    return async (gen) => {
      try {
        await fn(gen);
        if (gen === generation) fatal('');
      } catch (e) {
        if (gen !== generation || !token()) return;
        fatal(e.message);
        schedule(gen, guarded(fn));
      }
    };
  }

  function route() {
    generation++;
    clearTimeout(timer);
    fatal('');
    if (!token()) {
      show($('signin'), true);
      show($('view'), false);
      show($('nav'), false);
      $('token').focus();
      return;
    }
    show($('signin'), false);
    show($('view'), true);
    show($('nav'), true);
    const h = location.hash || '#/overview';
    let fn = renderOverview;
    if (h.startsWith('#/jobs')) fn = renderJobs;
    else if (h.startsWith('#/job/')) fn = renderJob;
    for (const [id, pre] of [['nav-overview', '#/overview'], ['nav-jobs', '#/job']])
      $(id).classList.toggle('current', h.startsWith(pre) || (pre === '#/overview' && fn === renderOverview));
    clear($('view')).appendChild(el('p', { class: 'muted' }, 'Loading...'));
    guarded(fn)(generation);
  }

  function signOut(msg) {
    sessionStorage.removeItem(TOKEN_KEY);
    const e = $('signin-error');
    e.textContent = msg || '';
    show(e, !!msg);
    route();
  }

  async function signIn(ev) {
    ev.preventDefault();
    const t = $('token').value.trim();
    const e = $('signin-error');
    show(e, false);
    let r;
    try {
      r = await fetch('/v1/jobs?limit=1', { headers: { Authorization: 'Bearer ' + t }, cache: 'no-store' });
    } catch (err) {
      e.textContent = 'Cannot reach the API: ' + err.message;
      show(e, true);
      return;
    }
    if (r.status === 401) {
      e.textContent = 'Wrong token: the API refused it (401).';
      show(e, true);
      return;
    }
    if (!r.ok) {
      e.textContent = 'The API answered HTTP ' + r.status + '.';
      show(e, true);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, t);
    $('token').value = '';
    route();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', () => signOut(''));
    window.addEventListener('hashchange', route);
    route();
  });
})();
