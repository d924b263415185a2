/*
 * dom.js - the dashboard's DOM and formatting helpers, loaded before app.js
 * (window.tdDom). Text is always text: el() sets strings with textContent
 * and never parses markup; nothing here or in app.js uses innerHTML.
 */
'use strict';

(function () {
  /* ---- DOM: elements from tag, attributes and children (text is text) ---- */

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = String(v);
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function show(node, on) {
    node.hidden = !on;
  }

  /* ---- formatting ---- */

  function fmtDuration(ms) {
    let s = Math.max(0, Math.round(ms / 1000));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    if (m) return m + 'm ' + s + 's';
    return s + 's';
  }

  function fmtWhen(iso) {
    if (!iso) return '-';
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return String(iso);
    const d = t - Date.now();
    return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') +
      (d >= 0 ? ' (in ' + fmtDuration(d) + ')' : ' (' + fmtDuration(-d) + ' ago)');
  }

  function fmtNum(v) {
    return v === null || v === undefined ? '-' : String(v);
  }

  function badge(state) {
    return el('span', { class: 'badge st-' + String(state).replace(/[^a-z_-]/g, '') }, state);
  }

  function jobLink(id, label) {
    return el('a', { href: '#/job/' + encodeURIComponent(id), class: 'mono' }, label || id);
  }

  window.tdDom = Object.freeze({
    el, clear, show, fmtDuration, fmtWhen, fmtNum, badge, jobLink,
  });
})();
