"use strict";
// llm-simulator dashboard: the chart and number helpers (canvas drawing, formatting), shared
// by the page script (dashboard.js, loaded after this file). No libraries, no build step.
// Top-level names in a classic script are visible to the scripts loaded after it.

// Seconds of history a time-series chart shows at most.
const HISTORY_S = 120;
const COLORS = {
  fg: "#d8dee7",
  muted: "#8a97a8",
  grid: "#253040",
  accent: "#4aa3ff",
  ok: "#3fb950",
  warn: "#d29922",
  bad: "#f85149",
  violet: "#a371f7",
};
const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

function sum(values) {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

// -- formatting --------------------------------------------------------------------------

function fmtInt(n) {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function fmtMs(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (v < 1) return v.toFixed(2) + " ms";
  if (v < 100) return v.toFixed(1) + " ms";
  if (v < 1000) return Math.round(v) + " ms";
  return (v / 1000).toFixed(2) + " s";
}

function fmtEdge(ms) {
  if (ms >= 1000) return Number((ms / 1000).toPrecision(3)) + "s";
  return Number(ms.toPrecision(3)) + "ms";
}

function fmtAxis(v) {
  if (v >= 1000000) return Number((v / 1000000).toPrecision(3)) + "M";
  if (v >= 1000) return Number((v / 1000).toPrecision(3)) + "k";
  return String(Number(v.toPrecision(3)));
}

// -- drawing -----------------------------------------------------------------------------

// A 2D context sized to the canvas's CSS box at the screen's pixel ratio, cleared.
function surface(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, canvas.clientWidth);
  const height = Math.max(1, canvas.clientHeight);
  const pw = Math.round(width * ratio);
  const ph = Math.round(height * ratio);
  if (canvas.width !== pw || canvas.height !== ph) {
    canvas.width = pw;
    canvas.height = ph;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = FONT;
  ctx.textBaseline = "middle";
  return { ctx, width, height };
}

// An axis from 0 with about `ticks` steps of 1, 2 or 5 × 10^k; whole steps for counts.
function niceAxis(max, ticks, whole) {
  if (!(max > 0)) return { top: whole ? 4 : 1, step: whole ? 1 : 0.25 };
  const rough = max / ticks;
  const power = Math.pow(10, Math.floor(Math.log10(rough)));
  let step = 10 * power;
  for (const m of [1, 2, 5]) {
    if (m * power >= rough) {
      step = m * power;
      break;
    }
  }
  if (whole) step = Math.max(1, Math.round(step));
  return { top: Math.ceil(max / step) * step, step };
}

function gridY(ctx, box, axis) {
  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.muted;
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  const count = Math.round(axis.top / axis.step);
  for (let i = 0; i <= count; i++) {
    const v = i * axis.step;
    const y = Math.round(box.top + box.height - (v / axis.top) * box.height) + 0.5;
    ctx.beginPath();
    ctx.moveTo(box.left, y);
    ctx.lineTo(box.left + box.width, y);
    ctx.stroke();
    ctx.fillText(fmtAxis(v), box.left - 6, y);
  }
}

function emptyNote(ctx, width, height, text) {
  ctx.fillStyle = COLORS.muted;
  ctx.textAlign = "center";
  ctx.fillText(text, width / 2, height / 2);
}

function legend(ctx, x, y, items, right) {
  ctx.textAlign = "left";
  for (const [k, item] of items.entries()) {
    // No room for this item (and the note after it): say how many are left out instead
    // of drawing past the edge.
    const note = k < items.length - 1 ? 16 + ctx.measureText(`+${items.length - k - 1} more`).width : 0;
    if (right && x + 12 + ctx.measureText(item.label).width + note > right) {
      ctx.fillStyle = COLORS.muted;
      ctx.fillText(`+${items.length - k} more`, x, y);
      return;
    }
    ctx.fillStyle = item.color;
    ctx.fillRect(x, y - 4, 8, 8);
    ctx.fillStyle = COLORS.fg;
    const text = item.label;
    ctx.fillText(text, x + 12, y);
    x += 12 + ctx.measureText(text).width + 16;
  }
}

// Time series over the last HISTORY_S seconds; a null value leaves a gap in its line.
// A series may set `dash` (a line-dash pattern). Options: `top` fixes the axis (0–top),
// `whole` keeps ticks on whole numbers, `legend` replaces the one item per series.
function drawLines(canvas, series, format, options) {
  const opts = options || {};
  const { ctx, width, height } = surface(canvas);
  const box = { left: 46, top: 24, width: width - 46 - 12, height: height - 24 - 22 };
  const now = Date.now() / 1000;
  // The window grows with the history, from 30 s to HISTORY_S, so a fresh page is not a
  // sliver at the right edge.
  let oldest = now;
  for (const s of series) if (s.points.length) oldest = Math.min(oldest, s.points[0].t);
  const span = Math.min(HISTORY_S, Math.max(30, now - oldest));
  const from = now - span;
  let max = 0;
  let points = 0;
  for (const s of series) {
    for (const p of s.points) {
      if (p.v !== null && p.t >= from) {
        max = Math.max(max, p.v);
        points += 1;
      }
    }
  }
  canvas.dataset.points = String(points);
  canvas.dataset.max = String(max);
  const axis = opts.top ? { top: opts.top, step: opts.top / 4 } : niceAxis(max, 4, Boolean(opts.whole));
  gridY(ctx, box, axis);
  ctx.fillStyle = COLORS.muted;
  ctx.textAlign = "center";
  const tick = span <= 40 ? 10 : span <= 80 ? 20 : 30;
  for (let back = 0; back <= span; back += tick) {
    const x = box.left + ((span - back) / span) * box.width;
    ctx.fillText(back ? `-${back}s` : "now", Math.min(Math.max(x, box.left + 12), box.left + box.width - 12), height - 9);
  }
  const xOf = (t) => box.left + ((t - from) / span) * box.width;
  const yOf = (v) => box.top + box.height - (v / axis.top) * box.height;
  ctx.save();
  ctx.beginPath();
  ctx.rect(box.left, box.top - 2, box.width, box.height + 4);
  ctx.clip();
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.75;
    ctx.lineJoin = "round";
    ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    let drawing = false;
    for (const p of s.points) {
      if (p.v === null) {
        drawing = false;
        continue;
      }
      const x = xOf(p.t);
      const y = yOf(p.v);
      if (drawing) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      drawing = true;
    }
    ctx.stroke();
  }
  ctx.restore();
  ctx.setLineDash([]);
  const items =
    opts.legend ||
    series.map((s) => {
      const lastPoint = s.points.length ? s.points[s.points.length - 1].v : null;
      return { color: s.color, label: `${s.label} ${lastPoint === null ? "–" : format(lastPoint)}` };
    });
  legend(ctx, box.left, 10, items, width - 4);
  if (!points) emptyNote(ctx, width, height, "waiting for data…");
}

// A histogram of fixed buckets: bucket i holds values in (edges[i-1], edges[i]], the last
// one everything above the last edge. Only the populated span (and some context) is shown.
function drawHistogram(canvas, edges, counts, color, emptyText) {
  const { ctx, width, height } = surface(canvas);
  const total = sum(counts);
  canvas.dataset.total = String(total);
  if (!total) {
    emptyNote(ctx, width, height, emptyText);
    return;
  }
  let first = counts.findIndex((c) => c > 0);
  let last = counts.length - 1;
  while (counts[last] === 0) last -= 1;
  const minimum = Math.min(10, counts.length);
  while (last - first + 1 < minimum) {
    if (first > 0) first -= 1;
    if (last - first + 1 < minimum && last < counts.length - 1) last += 1;
  }
  const shown = counts.slice(first, last + 1);
  const box = { left: 46, top: 12, width: width - 46 - 10, height: height - 12 - 24 };
  const axis = niceAxis(Math.max(...shown), 4, true);
  gridY(ctx, box, axis);
  const slot = box.width / shown.length;
  const barWidth = Math.max(1, slot * 0.78);
  // Label every k-th bucket so that labels about 44 px wide never overlap.
  const every = Math.max(1, Math.ceil(44 / slot));
  ctx.textAlign = "center";
  shown.forEach((count, j) => {
    const i = first + j;
    const x = box.left + j * slot + (slot - barWidth) / 2;
    const h = (count / axis.top) * box.height;
    ctx.fillStyle = color;
    ctx.fillRect(x, box.top + box.height - h, barWidth, h);
    if (count && slot >= 26 && h < box.height - 10) {
      ctx.fillStyle = COLORS.fg;
      ctx.fillText(fmtAxis(count), x + barWidth / 2, box.top + box.height - h - 7);
    }
    if (j % every === 0) {
      const label = i < edges.length ? "≤" + fmtEdge(edges[i]) : ">" + fmtEdge(edges[edges.length - 1]);
      ctx.fillStyle = COLORS.muted;
      ctx.fillText(label, x + barWidth / 2, height - 10);
    }
  });
}

// Horizontal bars, largest first, for counts by name.
function drawBars(canvas, items, emptyText) {
  const { ctx, width, height } = surface(canvas);
  canvas.dataset.total = String(sum(items.map((item) => item.value)));
  if (!items.length) {
    emptyNote(ctx, width, height, emptyText);
    return;
  }
  const rows = items.slice(0, 8);
  const labelWidth = Math.min(190, width * 0.4);
  const row = Math.min(24, (height - 8) / rows.length);
  const max = Math.max(...rows.map((item) => item.value));
  const room = width - labelWidth - 70;
  rows.forEach((item, k) => {
    const y = 4 + k * row + row / 2;
    ctx.fillStyle = COLORS.fg;
    ctx.textAlign = "right";
    let label = item.label;
    while (label.length > 4 && ctx.measureText(label).width > labelWidth - 10) label = label.slice(0, -2) + "…";
    ctx.fillText(label, labelWidth - 8, y);
    const w = Math.max(2, (item.value / max) * room);
    ctx.fillStyle = item.color;
    ctx.fillRect(labelWidth, y - row * 0.32, w, row * 0.64);
    ctx.fillStyle = COLORS.fg;
    ctx.textAlign = "left";
    ctx.fillText(fmtInt(item.value), labelWidth + w + 6, y);
  });
}
