// dom.js: building DOM without innerHTML. Every string from the API goes in
// through textContent or an attribute, so a title named "<script>" is text.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// h('div', {class: 'x'}, 'text', child, [more]): an HTML element.
export function h(tag, attrs, ...children) {
  return append(apply(document.createElement(tag), attrs), children);
}

// s('rect', {x: 1}): an SVG element.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k === 'class') el.setAttribute('class', v);
    else el.setAttribute(k, String(v));
  }
  return append(el, children);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A path segment for the API: ids are kept exactly as given, so they are encoded.
export const enc = (x) => encodeURIComponent(String(x));

export function fmtNum(x, digits = 0) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return 'not available';
  return x.toLocaleString('en-US', {maximumFractionDigits: digits, minimumFractionDigits: 0});
}

export function fmtDuration(s) {
  if (typeof s !== 'number' || !Number.isFinite(s)) return 'not available';
  s = Math.floor(s);
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60), ss = s % 60;
  if (d) return `${d}d ${hh}h ${mm}m`;
  if (hh) return `${hh}h ${mm}m`;
  if (mm) return `${mm}m ${ss}s`;
  return `${ss}s`;
}

// A stable hue for a string (placeholders, avatars).
export function hue(str) {
  let x = 2166136261;
  for (const ch of String(str)) x = Math.imul(x ^ ch.codePointAt(0), 16777619);
  return ((x >>> 0) % 360);
}
