// champion dashboard: inline SVG charts; each has a title and sits beside a table of its numbers.
"use strict";

function scale(lo, hi, a, b) {
  if (!(hi > lo)) { hi = lo + 1; lo -= 1; }
  return (v) => a + ((v - lo) / (hi - lo)) * (b - a);
}

// x values that are times (ms since the epoch) as a short UTC label
function clock(ms) { return new Date(ms).toISOString().slice(5, 16).replace("T", " "); }

function lineChart(label, series, opts = {}) {
  // series: [{name, points: [[x, y]...], band: [[x, lo, hi]...], dash}]
  const W = opts.width || 420, H = opts.height || 160, P = 48;
  const xs = [], ys = [];
  for (const sr of series) {
    for (const [x, y] of sr.points) { if (isNum(y)) { xs.push(x); ys.push(y); } }
    for (const [x, lo, hi] of sr.band || []) {
      if (isNum(lo)) { xs.push(x); ys.push(lo); }
      if (isNum(hi)) ys.push(hi);
    }
  }
  if (opts.yFloor !== undefined) ys.push(opts.yFloor);
  if (opts.yCeil !== undefined) ys.push(opts.yCeil);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
                         "aria-label": label });
  svg.append(s("title", {}, label));
  if (!xs.length) {
    svg.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no data yet"));
    return svg;
  }
  const X = scale(Math.min(...xs), Math.max(...xs), P, W - 8);
  const Y = scale(Math.min(...ys), Math.max(...ys), H - 20, 8);
  svg.append(s("line", { x1: P, x2: W - 8, y1: H - 20, y2: H - 20, class: "axis" }));
  svg.append(s("line", { x1: P, x2: P, y1: 8, y2: H - 20, class: "axis" }));
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const fy = opts.yFormat || num;
  svg.append(s("text", { x: P - 3, y: Y(y1) + 4, "text-anchor": "end", class: "tick" }, fy(y1)));
  svg.append(s("text", { x: P - 3, y: Y(y0) + 4, "text-anchor": "end", class: "tick" }, fy(y0)));
  const fx = opts.xFormat || num, [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  svg.append(s("text", { x: P, y: H - 6, class: "tick" }, fx(x0)));
  if (x1 > x0) svg.append(s("text", { x: W - 8, y: H - 6, "text-anchor": "end", class: "tick" }, fx(x1)));
  if (opts.zero && y0 < 0 && y1 > 0) {
    svg.append(s("line", { x1: P, x2: W - 8, y1: Y(0), y2: Y(0), class: "zero" }));
  }
  series.forEach((sr, i) => {
    const band = (sr.band || []).filter((b) => isNum(b[1]) && isNum(b[2]));
    if (band.length) {
      const d = band.map((b) => `${X(b[0])},${Y(b[2])}`).concat(
        band.slice().reverse().map((b) => `${X(b[0])},${Y(b[1])}`));
      svg.append(s("polygon", { points: d.join(" "), class: `band c${i}` }));
    }
    const pts = sr.points.filter((p) => isNum(p[1]));
    if (pts.length) {
      const cls = `line c${i}` + (sr.dash ? " dash" : "");
      svg.append(s(opts.step ? "polyline" : "polyline", { class: cls, points: (opts.step
        ? pts.flatMap((p, j) => j ? [[X(p[0]), Y(pts[j - 1][1])], [X(p[0]), Y(p[1])]]
                                    : [[X(p[0]), Y(p[1])]]).concat(
            opts.stepTo ? [[X(opts.stepTo), Y(pts[pts.length - 1][1])]] : [])
        : pts.map((p) => [X(p[0]), Y(p[1])])).map((q) => q.join(",")).join(" ") }));
      for (const p of pts.length < 40 ? pts : []) {
        svg.append(s("circle", { cx: X(p[0]), cy: Y(p[1]), r: 2.5, class: `dot c${i}` }));
      }
    }
  });
  const legend = s("g", { class: "legend" });
  series.forEach((sr, i) => {
    legend.append(s("text", { x: P + 6 + i * 110, y: 14, class: `lg c${i}` },
                    (sr.dash ? "- - " : "— ") + sr.name));
  });
  svg.append(legend);
  return svg;
}

function forestPlot(label, rows) {
  // rows: [{name, estimate, lo, hi}] on one axis with a line at zero
  const W = 420, rowH = 22, H = 24 + rows.length * rowH, L = 150;
  const vals = rows.flatMap((r) => [r.lo, r.hi, r.estimate]).filter(isNum).concat([0]);
  const X = scale(Math.min(...vals), Math.max(...vals), L, W - 12);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
                         "aria-label": label });
  svg.append(s("title", {}, label));
  svg.append(s("line", { x1: X(0), x2: X(0), y1: 4, y2: H - 4, class: "zero" }));
  rows.forEach((r, i) => {
    const y = 16 + i * rowH;
    svg.append(s("text", { x: 4, y: y + 4, class: "tick" }, r.name));
    if (isNum(r.lo) && isNum(r.hi)) {
      svg.append(s("line", { x1: X(r.lo), x2: X(r.hi), y1: y, y2: y, class: "ci" }));
    }
    if (isNum(r.estimate)) {
      svg.append(s("rect", { x: X(r.estimate) - 3, y: y - 3, width: 6, height: 6,
                             class: "est" }));
    }
  });
  return svg;
}
