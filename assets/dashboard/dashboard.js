// Loket dashboard. No libraries, no external resources: charts are SVG built here.
// The API key comes from the URL fragment (#key=…, never sent to the server) or a form,
// is kept in sessionStorage (this tab only) and sent as `Authorization: Bearer`.
'use strict';

(function () {
  const STORE = 'loket.dashboard.key';
  const SVG = 'http://www.w3.org/2000/svg';
  const MONTHS = ['jan', 'feb', 'mrt', 'apr', 'mei', 'jun', 'jul', 'aug', 'sep', 'okt', 'nov', 'dec'];
  const WEEKDAYS = ['ma', 'di', 'wo', 'do', 'vr', 'za', 'zo'];
  const CHANNELS = { web: 'Website', whatsapp: 'WhatsApp' };
  let departments = [];

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // ---- formatting (Dutch) ----
  const int = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('nl-NL'));
  const pct = (r) => (r && r.value !== null && r.value !== undefined ? Math.round(r.value * 100) + '%' : '–');
  function ms(v) {
    if (v === null || v === undefined) return '–';
    if (v < 1000) return Math.round(v) + ' ms';
    return (v / 1000).toLocaleString('nl-NL', { maximumFractionDigits: 1 }) + ' s';
  }
  function minutes(v) {
    if (v === null || v === undefined) return '–';
    const m = Math.round(v);
    if (m < 60) return m + ' min';
    const h = Math.floor(m / 60);
    const rest = m % 60;
    return rest ? h + ' u ' + rest + ' min' : h + ' uur';
  }
  function dateLabel(iso) {
    const [y, m, d] = iso.split('-').map(Number);
    return d + ' ' + MONTHS[m - 1] + ' ' + y;
  }
  function dateTime(iso) {
    if (!iso) return '–';
    const t = new Date(iso);
    const parts = new Intl.DateTimeFormat('nl-NL', {
      timeZone: 'Europe/Amsterdam', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
    }).format(t);
    return parts;
  }
  const topicName = (id) => (id ? id.charAt(0).toUpperCase() + id.slice(1).replace(/[_-]+/g, ' ') : '–');
  const isoDate = (d) => d.toISOString().slice(0, 10);

  // ---- key handling ----
  function readFragment() {
    const h = window.location.hash.replace(/^#/, '');
    const params = new URLSearchParams(h);
    const key = params.get('key');
    if (key) sessionStorage.setItem(STORE, key.trim());
    for (const f of ['from', 'to', 'channel', 'department']) {
      const v = params.get(f);
      if (v) $(f).dataset.initial = v;
    }
    // Where one Loket serves several municipalities: #municipality=zeestad (a key of one
    // municipality shows its own without it).
    const m = params.get('municipality');
    if (m) sessionStorage.setItem(STORE + ':municipality', m.trim());
    if (h) history.replaceState(null, '', window.location.pathname + window.location.search);
  }

  const key = () => sessionStorage.getItem(STORE);

  function showLogin(message) {
    $('report').hidden = true;
    $('forget').hidden = true;
    $('login').hidden = false;
    const err = $('login-error');
    err.hidden = !message;
    err.textContent = message || '';
    $('key').focus();
  }

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, params) {
    const url = path + '?' + new URLSearchParams(params).toString();
    const resp = await fetch(url, { headers: { Authorization: 'Bearer ' + key() }, cache: 'no-store' });
    if (!resp.ok) {
      let message = 'Fout ' + resp.status;
      try {
        const body = await resp.json();
        if (body && body.error && body.error.message) message = body.error.message;
      } catch (_) { /* not JSON */ }
      throw new HttpError(resp.status, message);
    }
    return resp;
  }

  function failure(e) {
    if (e instanceof HttpError && e.status === 401) {
      sessionStorage.removeItem(STORE);
      showLogin('Deze sleutel is onbekend of ingetrokken. Vul een geldige sleutel in.');
      return null;
    }
    if (e instanceof HttpError && e.status === 403) {
      sessionStorage.removeItem(STORE);
      showLogin('Deze sleutel mag geen rapporten bekijken: daarvoor zijn de rechten "editor" nodig.');
      return null;
    }
    if (e instanceof HttpError && e.status === 422) return 'Controleer de keuze: ' + e.message;
    return 'De gegevens konden niet worden opgehaald (' + e.message + '). Probeer het later opnieuw.';
  }

  // ---- filters ----
  function params() {
    const p = { from: $('from').value, to: $('to').value };
    if ($('channel').value) p.channel = $('channel').value;
    if ($('department').value) p.department = $('department').value;
    const m = sessionStorage.getItem(STORE + ':municipality');
    if (m) p.municipality = m;
    return p;
  }

  function initFilters() {
    const today = new Date();
    const from = new Date(today.getTime() - 29 * 86400000);
    $('to').value = $('to').dataset.initial || isoDate(today);
    $('from').value = $('from').dataset.initial || isoDate(from);
    if ($('channel').dataset.initial) $('channel').value = $('channel').dataset.initial;
  }

  function fillDepartments(list) {
    const select = $('department');
    const chosen = select.value || select.dataset.initial || '';
    delete select.dataset.initial;
    if (JSON.stringify(list) === JSON.stringify(departments)) return;
    departments = list;
    while (select.options.length > 1) select.remove(1);
    for (const d of list) select.appendChild(el('option', { value: d.id }, d.name));
    select.value = list.some((d) => d.id === chosen) ? chosen : '';
  }

  const departmentName = (id) => (departments.find((d) => d.id === id) || { name: id }).name;

  // ---- tiles ----
  function tile(metric, label, value, detail, explain, tone) {
    const t = el('div', { class: 'tile' + (tone ? ' ' + tone : ''), 'data-metric': metric });
    t.appendChild(el('div', { class: 'label' }, label));
    t.appendChild(el('div', { class: 'value' }, value));
    if (detail) t.appendChild(el('div', { class: 'detail' }, detail));
    t.appendChild(el('p', { class: 'explain' }, explain));
    return t;
  }

  const of = (r, what) => (r ? int(r.numerator) + ' van ' + int(r.denominator) + ' ' + what : '');

  function renderTiles(s) {
    const box = $('tiles');
    box.replaceChildren();
    const h = s.first_human_reply_minutes;
    box.append(
      tile('conversations', 'Gesprekken', int(s.totals.conversations),
        'gemiddeld ' + (s.per_day.length ? (s.totals.conversations / s.per_day.length).toLocaleString('nl-NL', { maximumFractionDigits: 1 }) : '0') + ' per dag',
        'Gesprekken met de chatbot die in deze periode begonnen.'),
      tile('citizen_messages', 'Vragen', int(s.totals.citizen_messages),
        s.totals.conversations ? (s.totals.citizen_messages / s.totals.conversations).toLocaleString('nl-NL', { maximumFractionDigits: 1 }) + ' per gesprek' : '',
        'Berichten van inwoners in die gesprekken.'),
      tile('answered_in_one_go', 'In één keer beantwoord', pct(s.answered_in_one_go), of(s.answered_in_one_go, 'gesprekken'),
        'Antwoord gekregen zonder doorverbinden, zonder "niet begrepen" en zonder dezelfde vraag opnieuw te stellen.', 'good'),
      tile('conversations_handed_off', 'Doorverbonden', pct(s.conversations_handed_off), of(s.conversations_handed_off, 'gesprekken'),
        'Gesprekken die naar een medewerker zijn doorgezet.'),
      tile('fallback_rate', 'Niet begrepen', pct(s.fallback_rate), of(s.fallback_rate, 'vragen'),
        'Vragen waarop de chatbot geen antwoord wist. Doorgevraagd: ' + pct(s.clarify_rate) + ' (' + int(s.clarify_rate.numerator) + ').', 'warn'),
      tile('privacy_redirects', 'Privacy-doorverwijzingen', int(s.privacy_redirects.numerator),
        pct(s.privacy_redirects) + ' van ' + int(s.privacy_redirects.denominator) + ' vragen',
        'Doorverwezen naar het beveiligde kanaal. Persoonsgegevens verwijderd uit ' + int(s.pii_removed.numerator) + ' berichten.'),
      tile('bot_response_ms', 'Mediane reactietijd', ms(s.bot_response_ms.median),
        '90% binnen ' + ms(s.bot_response_ms.p90),
        'Tijd van ontvangst tot antwoord van de chatbot (' + int(s.bot_response_ms.count) + ' antwoorden).'),
      tile('within_promise', 'Medewerker binnen ' + (h.promised_minutes === 60 ? 'het beloofde uur' : h.promised_minutes + ' min'),
        pct(h.within_promise), of(h.within_promise, 'doorverbonden gesprekken'),
        'Eerste reactie van een medewerker binnen ' + h.promised_minutes + ' minuten, bij doorverbinden binnen kantoortijd.', 'good'),
    );
  }

  // ---- charts ----
  function niceMax(v) {
    if (v <= 5) return Math.max(v, 1);
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function empty(box, text) {
    box.replaceChildren(el('p', { class: 'empty' }, text || 'Geen gegevens in deze periode.'));
  }

  function renderDays(s) {
    const box = $('chart-days');
    const days = s.per_day;
    if (!days.length) return empty(box);
    const W = 1100, H = 250, L = 44, R = 10, T = 18, B = 40;
    const max = niceMax(Math.max(...days.map((d) => d.conversations)));
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Gesprekken per dag' });
    const plotW = W - L - R, plotH = H - T - B;
    const ticks = max <= 5 ? max : 4;
    for (let i = 0; i <= ticks; i++) {
      const v = (max / ticks) * i;
      const y = T + plotH - (v / max) * plotH;
      root.appendChild(svg('line', { x1: L, x2: W - R, y1: y, y2: y, stroke: i ? '#e6eaf0' : '#9aa5b3', 'stroke-width': 1 }));
      root.appendChild(svg('text', { x: L - 8, y: y + 4, 'text-anchor': 'end', 'font-size': 12, fill: '#5b6675' }, int(v)));
    }
    const step = plotW / days.length;
    const bw = Math.max(2, Math.min(38, step * 0.7));
    const labelEvery = Math.ceil(days.length / 16);
    days.forEach((d, i) => {
      const x = L + i * step + (step - bw) / 2;
      const h = (d.conversations / max) * plotH;
      const [y, m, day] = d.date.split('-').map(Number);
      const wd = new Date(Date.UTC(y, m - 1, day)).getUTCDay();
      const weekend = wd === 0 || wd === 6;
      const bar = svg('rect', {
        x: x.toFixed(1), y: (T + plotH - h).toFixed(1), width: bw.toFixed(1), height: Math.max(h, 0).toFixed(1),
        rx: 2, fill: weekend ? '#8fb1dd' : '#1d4f91', 'data-date': d.date, 'data-value': d.conversations,
      });
      bar.appendChild(svg('title', {}, dateLabel(d.date) + ': ' + d.conversations + ' gesprekken, ' + d.citizen_messages + ' vragen'));
      root.appendChild(bar);
      if (d.conversations > 0 && days.length <= 45) {
        root.appendChild(svg('text', { x: (x + bw / 2).toFixed(1), y: (T + plotH - h - 5).toFixed(1), 'text-anchor': 'middle', 'font-size': 11, fill: '#1b2430', class: 'bar-value' }, d.conversations));
      }
      if (i % labelEvery === 0) {
        const label = day === 1 || i === 0 ? day + ' ' + MONTHS[m - 1] : String(day);
        root.appendChild(svg('text', { x: (L + i * step + step / 2).toFixed(1), y: H - B + 16, 'text-anchor': 'middle', 'font-size': 11, fill: '#5b6675' }, label));
        root.appendChild(svg('text', { x: (L + i * step + step / 2).toFixed(1), y: H - B + 30, 'text-anchor': 'middle', 'font-size': 10, fill: '#8a94a3' }, WEEKDAYS[(wd + 6) % 7]));
      }
    });
    box.replaceChildren(root);
  }

  function shade(v, max) {
    if (!v) return '#f1f4f8';
    const t = Math.sqrt(v / max);
    const a = [220, 232, 246], b = [29, 79, 145];
    const c = a.map((x, i) => Math.round(x + (b[i] - x) * t));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  function renderWeek(s) {
    const box = $('chart-week');
    const m = s.per_hour_of_week.citizen_messages;
    const max = Math.max(0, ...m.flat());
    const W = 1100, L = 40, T = 22, cell = (W - L - 10) / 24, ch = 30;
    const H = T + 7 * ch + 34;
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Vragen per uur van de week' });
    for (let hour = 0; hour < 24; hour++) {
      root.appendChild(svg('text', { x: (L + hour * cell + cell / 2).toFixed(1), y: T - 8, 'text-anchor': 'middle', 'font-size': 11, fill: '#5b6675' }, String(hour).padStart(2, '0')));
    }
    for (let day = 0; day < 7; day++) {
      root.appendChild(svg('text', { x: L - 10, y: T + day * ch + ch / 2 + 4, 'text-anchor': 'end', 'font-size': 12, fill: '#5b6675' }, WEEKDAYS[day]));
      for (let hour = 0; hour < 24; hour++) {
        const v = m[day][hour];
        const r = svg('rect', {
          x: (L + hour * cell + 1).toFixed(1), y: T + day * ch + 1, width: (cell - 2).toFixed(1), height: ch - 2, rx: 3,
          fill: shade(v, max || 1), 'data-day': day, 'data-hour': hour, 'data-value': v,
        });
        r.appendChild(svg('title', {}, WEEKDAYS[day] + ' ' + String(hour).padStart(2, '0') + ':00–' + String(hour + 1).padStart(2, '0') + ':00: ' + v + ' vragen'));
        root.appendChild(r);
        if (v > 0) {
          root.appendChild(svg('text', { x: (L + hour * cell + cell / 2).toFixed(1), y: T + day * ch + ch / 2 + 4, 'text-anchor': 'middle', 'font-size': 11, fill: v / (max || 1) > 0.45 ? '#ffffff' : '#1b2430' }, v));
        }
      }
    }
    // Legend.
    const ly = T + 7 * ch + 14;
    root.appendChild(svg('text', { x: L, y: ly + 11, 'font-size': 11, fill: '#5b6675' }, 'rustig'));
    for (let i = 0; i <= 5; i++) {
      root.appendChild(svg('rect', { x: L + 44 + i * 22, y: ly, width: 20, height: 14, rx: 2, fill: i ? shade(i, 5) : '#f1f4f8' }));
    }
    root.appendChild(svg('text', { x: L + 44 + 6 * 22 + 4, y: ly + 11, 'font-size': 11, fill: '#5b6675' }, 'druk (max. ' + max + ' vragen per uur)'));
    box.replaceChildren(root);
  }

  function renderTop(boxId, items, noun) {
    const box = $(boxId);
    if (!items.length) return empty(box);
    const W = 540, rowH = 28, L = 190, R = 92, H = items.length * rowH + 4;
    const max = Math.max(...items.map((i) => i.count));
    // The chart's text alternative: every bar as words, for screen readers (WCAG 1.1.1).
    const summary = items.map((item) => topicName(item.key) + ': ' + item.count + ' (' + pct(item.share) + ')').join('; ');
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Meest gevraagd, ' + noun + ': ' + summary });
    items.forEach((item, i) => {
      const y = i * rowH + 2;
      const name = topicName(item.key);
      const label = name.length > 28 ? name.slice(0, 27) + '…' : name;
      const t = svg('text', { x: L - 10, y: y + rowH / 2 + 4, 'text-anchor': 'end', 'font-size': 13, fill: '#1b2430' }, label);
      t.appendChild(svg('title', {}, item.key));
      root.appendChild(t);
      const w = Math.max(2, (item.count / max) * (W - L - R));
      root.appendChild(svg('rect', { x: L, y: y + 5, width: w.toFixed(1), height: rowH - 10, rx: 3, fill: '#1d4f91', 'data-key': item.key, 'data-value': item.count }));
      root.appendChild(svg('text', { x: (L + w + 8).toFixed(1), y: y + rowH / 2 + 4, 'font-size': 12, fill: '#1b2430' }, item.count + ' · ' + pct(item.share)));
    });
    box.replaceChildren(root);
    box.appendChild(el('p', { class: 'explain' }, 'Percentage van ' + int(items[0].share.denominator) + ' ' + noun + '.'));
  }

  function renderHandoffs(s) {
    const h = s.first_human_reply_minutes;
    const body = $('handoff-table').tBodies[0];
    body.replaceChildren();
    const outside = h.handoffs - h.handoffs_within_office_hours;
    const rows = [
      ['Binnen kantoortijd', h.handoffs_within_office_hours, h.within_office_hours],
      ['Buiten kantoortijd', outside, h.outside_office_hours],
      ['Totaal', h.handoffs, h.all],
    ];
    for (const [label, n, d] of rows) {
      const tr = el('tr');
      tr.append(el('td', {}, label), el('td', { class: 'num' }, int(n)), el('td', { class: 'num' }, int(d.count)),
        el('td', { class: 'num' }, minutes(d.median)), el('td', { class: 'num' }, minutes(d.p90)));
      body.appendChild(tr);
    }
    $('handoff-note').textContent = 'Nog zonder reactie: ' + int(h.without_reply) + '. Belofte: reactie binnen ' + h.promised_minutes +
      ' minuten bij doorverbinden binnen kantoortijd; gehaald in ' + of(h.within_promise, 'gevallen') + '.';
  }

  function renderSplit(s) {
    const body = $('split-table').tBodies[0];
    body.replaceChildren();
    const group = (title) => {
      const tr = el('tr');
      const td = el('td', { colspan: 3 });
      td.appendChild(el('span', { class: 'pill' }, title));
      tr.appendChild(td);
      body.appendChild(tr);
    };
    const row = (label, c) => {
      const tr = el('tr');
      tr.append(el('td', {}, label), el('td', { class: 'num' }, int(c.conversations)), el('td', { class: 'num' }, int(c.citizen_messages)));
      body.appendChild(tr);
    };
    group('Kanaal');
    if (!s.per_channel.length) row('–', { conversations: 0, citizen_messages: 0 });
    for (const c of s.per_channel) row(CHANNELS[c.key] || c.key, c);
    group('Afdeling');
    if (!s.per_department.length) row('–', { conversations: 0, citizen_messages: 0 });
    for (const c of s.per_department) row(departmentName(c.key), c);
  }

  function renderUnanswered(u) {
    const body = $('unanswered-table').tBodies[0];
    body.replaceChildren();
    const status = $('unanswered-status');
    status.classList.remove('error');
    if (!u.groups.length) {
      status.textContent = 'Geen onbeantwoorde vragen in deze periode.';
      return;
    }
    status.textContent = int(u.messages) + ' vragen in ' + int(u.total_groups) + ' groepen' +
      (u.grouped < u.messages ? ' (de laatste ' + int(u.grouped) + ' gegroepeerd)' : '') +
      (u.groups.length < u.total_groups ? '; de ' + u.groups.length + ' grootste staan hieronder.' : '.');
    for (const g of u.groups) {
      const tr = el('tr', { 'data-size': g.size });
      tr.appendChild(el('td', { class: 'num' }, g.size));
      const td = el('td');
      const ul = el('ul');
      for (const x of g.examples) ul.appendChild(el('li', {}, x));
      td.appendChild(ul);
      tr.appendChild(td);
      tr.appendChild(el('td', {}, g.intent ? topicName(g.intent) + ' (' + g.intent_count + '×)' : 'onbekend'));
      tr.appendChild(el('td', { class: 'date' }, dateTime(g.first_seen)));
      tr.appendChild(el('td', { class: 'date' }, dateTime(g.last_seen)));
      body.appendChild(tr);
    }
  }

  // ---- loading ----
  async function load() {
    const p = params();
    const status = $('status');
    status.classList.remove('error');
    status.textContent = 'Cijfers laden…';
    $('unanswered-status').textContent = 'Vragen groeperen…';
    const summary = api('/v1/reports/summary', p).then((r) => r.json());
    const unanswered = api('/v1/reports/unanswered', p).then((r) => r.json());
    // Handled below (or dropped when the summary fails); never an unhandled rejection.
    unanswered.catch(() => {});
    try {
      const s = await summary;
      if (s.municipality) $('municipality').textContent = s.municipality;
      fillDepartments(s.departments || []);
      renderTiles(s);
      renderDays(s);
      renderWeek(s);
      renderTop('chart-intents', s.top_intents, 'herkende vragen');
      renderTop('chart-faqs', s.top_faqs, 'antwoorden uit de kennisbank');
      renderHandoffs(s);
      renderSplit(s);
      const filters = [];
      if (s.channel) filters.push(CHANNELS[s.channel] || s.channel);
      if (s.department) filters.push(departmentName(s.department));
      status.textContent = 'Periode ' + dateLabel(s.from) + ' t/m ' + dateLabel(s.to) +
        (filters.length ? ' · ' + filters.join(' · ') : ' · alle kanalen en afdelingen') + '.';
    } catch (e) {
      const msg = failure(e);
      if (msg) {
        status.textContent = msg;
        status.classList.add('error');
      }
      return;
    }
    try {
      renderUnanswered(await unanswered);
    } catch (e) {
      const msg = failure(e);
      if (msg) {
        $('unanswered-status').textContent = msg;
        $('unanswered-status').classList.add('error');
      }
    }
  }

  async function download(path, name) {
    try {
      const resp = await api(path, Object.assign(params(), { format: 'csv' }));
      const blob = await resp.blob();
      const url = URL.createObjectURL(blob);
      const a = el('a', { href: url, download: name + '-' + $('from').value + '-' + $('to').value + '.csv' });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      const msg = failure(e);
      if (msg) $('status').textContent = msg;
    }
  }

  function start() {
    $('report').hidden = false;
    $('login').hidden = true;
    $('forget').hidden = false;
    load();
  }

  document.addEventListener('DOMContentLoaded', () => {
    readFragment();
    initFilters();
    $('login-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const k = $('key').value.trim();
      if (!k) return;
      sessionStorage.setItem(STORE, k);
      $('key').value = '';
      start();
    });
    $('filters').addEventListener('submit', (e) => {
      e.preventDefault();
      if ($('from').value > $('to').value) {
        $('status').textContent = 'De begindatum ligt na de einddatum.';
        $('status').classList.add('error');
        return;
      }
      load();
    });
    $('forget').addEventListener('click', () => {
      sessionStorage.removeItem(STORE);
      showLogin('');
    });
    $('csv-summary').addEventListener('click', () => download('/v1/reports/summary', 'loket-samenvatting'));
    $('csv-unanswered').addEventListener('click', () => download('/v1/reports/unanswered', 'loket-onbeantwoord'));
    if (key()) start();
    else showLogin('');
  });
})();
