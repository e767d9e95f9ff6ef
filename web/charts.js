// charts.js: small inline-SVG charts for the dashboard (no library, no CDN). Labels
// are SVG text nodes set with textContent.
import {s, h} from './dom.js';

const finite = (x) => typeof x === 'number' && Number.isFinite(x);

function niceMax(x) {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (x <= m * p) return m * p;
  return 10 * p;
}

export function shortNum(x) {
  if (!finite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 1e9) return (x / 1e9).toFixed(1).replace(/\.0$/, '') + 'G';
  if (a >= 1e6) return (x / 1e6).toFixed(1).replace(/\.0$/, '') + 'M';
  if (a >= 1e4) return (x / 1e3).toFixed(0) + 'k';
  if (a >= 1e3) return (x / 1e3).toFixed(1).replace(/\.0$/, '') + 'k';
  if (a >= 10 || a === 0) return x.toFixed(0);
  if (a >= 1) return x.toFixed(1).replace(/\.0$/, '');
  return x.toPrecision(2);
}

function svgRoot(w, hgt, label) {
  return s('svg', {viewBox: `0 0 ${w} ${hgt}`, width: '100%', role: 'img', 'aria-label': label,
                   class: 'chart', preserveAspectRatio: 'xMidYMid meet'},
           s('title', {text: label}));
}

function yAxis(svg, {x0, x1, y0, y1, max, fmt}) {
  for (const f of [0, 0.5, 1]) {
    const y = y0 - (y0 - y1) * f;
    svg.append(s('line', {x1: x0, x2: x1, y1: y, y2: y, class: 'grid'}),
               s('text', {x: x0 - 6, y: y + 4, 'text-anchor': 'end', class: 'tick', text: fmt(max * f)}));
  }
}

// A line chart of points [{x, y}] (x ascending).
export function lineChart(points, {label = 'chart', width = 640, height = 220, xfmt = String,
                                   yfmt = shortNum} = {}) {
  const svg = svgRoot(width, height, label);
  const pad = {l: 48, r: 12, t: 12, b: 28};
  const pts = points.filter((p) => finite(p.x) && finite(p.y));
  if (!pts.length) {
    svg.append(s('text', {x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'na', text: 'not available'}));
    return svg;
  }
  const xmin = pts[0].x, xmax = Math.max(pts[pts.length - 1].x, xmin + 1);
  const max = niceMax(Math.max(...pts.map((p) => p.y)));
  const X = (x) => pad.l + (width - pad.l - pad.r) * (x - xmin) / (xmax - xmin);
  const Y = (y) => height - pad.b - (height - pad.t - pad.b) * (y / max);
  yAxis(svg, {x0: pad.l, x1: width - pad.r, y0: height - pad.b, y1: pad.t, max, fmt: yfmt});
  const line = pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ');
  svg.append(
    s('polygon', {class: 'area', points: `${X(xmin)},${Y(0)} ${line} ${X(pts[pts.length - 1].x)},${Y(0)}`}),
    s('polyline', {class: 'line', points: line}),
    s('text', {x: pad.l, y: height - 8, class: 'tick', text: xfmt(xmin)}),
    s('text', {x: width - pad.r, y: height - 8, 'text-anchor': 'end', class: 'tick', text: xfmt(xmax)}));
  return svg;
}

// Vertical bars [{label, value, err?, note?}]; err draws a ±err whisker.
export function barChart(bars, {label = 'chart', width = 640, height = 220, yfmt = shortNum,
                                 valueLabels = true, minMax = 0} = {}) {
  const svg = svgRoot(width, height, label);
  const data = bars.filter((b) => b && finite(b.value));
  if (!data.length) {
    svg.append(s('text', {x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'na', text: 'not available'}));
    return svg;
  }
  const rotate = data.length > 8 || data.some((b) => String(b.label).length > 10);
  const pad = {l: 48, r: 12, t: 16, b: rotate ? 70 : 30};
  const top = Math.max(minMax, ...data.map((b) => b.value + (finite(b.err) ? b.err : 0)));
  const bottom = Math.min(0, ...data.map((b) => b.value - (finite(b.err) ? b.err : 0)));
  // Negative values (bandit weights) hang below a zero line.
  const hi = top > 0 ? niceMax(top) : 0;
  const lo = bottom < 0 ? -niceMax(-bottom) : 0;
  const span = hi - lo || 1;
  const plotW = width - pad.l - pad.r, plotH = height - pad.t - pad.b;
  const bw = plotW / data.length;
  const Y = (y) => height - pad.b - plotH * Math.max(0, Math.min(1, (y - lo) / span));
  for (const v of lo < 0 ? [lo, 0, hi] : [0, hi / 2, hi]) {
    const y = Y(v);
    svg.append(s('line', {x1: pad.l, x2: width - pad.r, y1: y, y2: y, class: v === 0 ? 'grid zero' : 'grid'}),
               s('text', {x: pad.l - 6, y: y + 4, 'text-anchor': 'end', class: 'tick', text: yfmt(v)}));
  }
  data.forEach((b, i) => {
    const x = pad.l + i * bw + bw * 0.15, w = bw * 0.7, y = Y(Math.max(b.value, 0)), y0 = Y(Math.min(b.value, 0));
    const g = s('g', {class: 'bar' + (b.highlight ? ' highlight' : '') + (b.value < 0 ? ' negative' : '')},
      s('title', {text: b.tip ?? `${b.label}: ${b.note ?? yfmt(b.value)}`}),
      s('rect', {x: x.toFixed(1), y: y.toFixed(1), width: w.toFixed(1), height: Math.max(0.5, y0 - y).toFixed(1), rx: 2}));
    if (finite(b.err) && b.err > 0) {
      const cx = x + w / 2, ya = Y(b.value - b.err), yb = Y(b.value + b.err);
      g.append(s('line', {class: 'whisker', x1: cx, x2: cx, y1: ya, y2: yb}),
               s('line', {class: 'whisker', x1: cx - 4, x2: cx + 4, y1: yb, y2: yb}),
               s('line', {class: 'whisker', x1: cx - 4, x2: cx + 4, y1: ya, y2: ya}));
    }
    if (valueLabels && data.length <= 16)
      g.append(s('text', {x: x + w / 2, y: b.value < 0 ? y0 + 12 : y - 4, 'text-anchor': 'middle', class: 'val', text: b.note ?? yfmt(b.value)}));
    const lx = x + w / 2, ly = height - pad.b + 14; // labels below the plot
    g.append(rotate
      ? s('text', {x: lx, y: ly, 'text-anchor': 'end', class: 'tick', transform: `rotate(-40 ${lx} ${ly})`,
                   text: String(b.label).length > 14 ? String(b.label).slice(0, 13) + '…' : String(b.label)})
      : s('text', {x: lx, y: ly, 'text-anchor': 'middle', class: 'tick', text: String(b.label)}));
    svg.append(g);
  });
  return svg;
}

// A 0..1 share as a horizontal gauge.
export function gauge(share, label) {
  const v = finite(share) ? Math.max(0, Math.min(1, share)) : null;
  const svg = svgRoot(300, 28, label);
  svg.append(s('rect', {x: 0, y: 6, width: 300, height: 16, rx: 8, class: 'gauge-bg'}));
  if (v !== null) svg.append(s('rect', {x: 0, y: 6, width: (300 * v).toFixed(1), height: 16, rx: 8, class: 'gauge-fg'}));
  return svg;
}

export function table(headers, rows, {caption} = {}) {
  return h('table', {class: 'data'},
    caption ? h('caption', {text: caption}) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {scope: 'col', text: x})))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => (i === 0 ? h('th', {scope: 'row', text: c}) : h('td', {text: c})))))));
}
