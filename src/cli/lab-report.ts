// The lab's HTML report: one self-contained file (inline SVG and CSS, no
// script, nothing fetched at view time) with the completion-time CDF against
// T_min and the swarm's piece availability over time.
import * as fs from 'node:fs';
import type { LabResult } from './lab-command';

const W = 640;
const H = 260;
const PAD = { left: 48, right: 16, top: 16, bottom: 36 };

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]!));

function axes(xMax: number, yMax: number, xLabel: string, yLabel: string, yTicks: number[]): string {
  const x0 = PAD.left;
  const y0 = H - PAD.bottom;
  const xs = niceTicks(xMax);
  const parts = [
    `<line x1="${x0}" y1="${y0}" x2="${W - PAD.right}" y2="${y0}" class="axis"/>`,
    `<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${PAD.top}" class="axis"/>`,
    `<text x="${(x0 + W - PAD.right) / 2}" y="${H - 4}" class="label">${esc(xLabel)}</text>`,
    `<text x="12" y="${(PAD.top + y0) / 2}" class="label" transform="rotate(-90 12 ${(PAD.top + y0) / 2})">${esc(yLabel)}</text>`,
  ];
  for (const t of xs) parts.push(`<text x="${sx(t, xMax)}" y="${y0 + 14}" class="tick">${t}</text>`);
  for (const t of yTicks) parts.push(`<text x="${x0 - 6}" y="${sy(t, yMax) + 4}" class="tick" text-anchor="end">${t}</text>`);
  return parts.join('');
}

const sx = (x: number, xMax: number) => PAD.left + (x / xMax) * (W - PAD.left - PAD.right);
const sy = (y: number, yMax: number) => H - PAD.bottom - (y / yMax) * (H - PAD.top - PAD.bottom);

function niceTicks(max: number): number[] {
  const step = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].find((s) => max / s <= 8) ?? Math.ceil(max / 8);
  const out: number[] = [];
  for (let t = 0; t <= max + 1e-9; t += step) out.push(t);
  return out;
}

function cdfSvg(r: LabResult): string {
  const times = r.completion.filter((c): c is number => c !== null).sort((a, b) => a - b);
  const xMax = Math.max(r.tMinSeconds, ...times, 1) * 1.1;
  const n = r.completion.length;
  let d = `M${sx(0, xMax)},${sy(0, 1)}`;
  times.forEach((t, i) => {
    d += ` L${sx(t, xMax)},${sy(i / n, 1)} L${sx(t, xMax)},${sy((i + 1) / n, 1)}`;
  });
  if (times.length) d += ` L${sx(xMax, xMax)},${sy(times.length / n, 1)}`;
  const tMinX = sx(r.tMinSeconds, xMax);
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="completion time CDF">
${axes(xMax, 1, 'seconds from the common start', 'leechers done', [0, 0.25, 0.5, 0.75, 1])}
<line x1="${tMinX}" y1="${PAD.top}" x2="${tMinX}" y2="${H - PAD.bottom}" class="tmin"/>
<text x="${tMinX + 4}" y="${PAD.top + 12}" class="tminlabel">T_min ${r.tMinSeconds.toFixed(1)} s</text>
<path d="${d}" class="cdf"/>
</svg>`;
}

function availabilitySvg(r: LabResult): string {
  const samples = r.availability;
  if (samples.length === 0) return '<p>No availability samples.</p>';
  const tMax = Math.max(samples[samples.length - 1]!.t, 1);
  const maxCount = Math.max(1, ...samples.flatMap((s) => s.counts));
  const pieces = r.pieceCount;
  const cellH = (H - PAD.top - PAD.bottom) / Math.max(1, pieces);
  const rects: string[] = [];
  samples.forEach((s, k) => {
    const x1 = sx(s.t, tMax);
    const x2 = sx(k + 1 < samples.length ? samples[k + 1]!.t : tMax, tMax);
    s.counts.forEach((c, piece) => {
      const shade = Math.round(255 - (200 * c) / maxCount);
      rects.push(`<rect x="${x1.toFixed(1)}" y="${(PAD.top + piece * cellH).toFixed(2)}" width="${Math.max(0.5, x2 - x1).toFixed(1)}" ` +
        `height="${Math.max(cellH, 0.5).toFixed(2)}" fill="rgb(${shade},${shade},255)"/>`);
    });
  });
  const line = (pick: (counts: number[]) => number, cls: string) =>
    `<path class="${cls}" d="${samples.map((s, k) => `${k ? 'L' : 'M'}${sx(s.t, tMax).toFixed(1)},${sy(pick(s.counts), maxCount).toFixed(1)}`).join(' ')}"/>`;
  const min = (c: number[]) => Math.min(...c);
  const mean = (c: number[]) => c.reduce((a, b) => a + b, 0) / Math.max(1, c.length);
  const tMinX = sx(r.tMinSeconds, tMax);
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="piece availability heat map">
${rects.join('')}
${axes(tMax, pieces, 'seconds from the common start', 'piece (darker: more holders)', [])}
${tMinX <= W - PAD.right ? `<line x1="${tMinX}" y1="${PAD.top}" x2="${tMinX}" y2="${H - PAD.bottom}" class="tmin"/>` : ''}
</svg>
<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="least and mean availability over time">
${axes(tMax, maxCount, 'seconds from the common start', 'holders per piece', niceTicks(maxCount))}
${line(min, 'minline')}${line(mean, 'meanline')}
${tMinX <= W - PAD.right ? `<line x1="${tMinX}" y1="${PAD.top}" x2="${tMinX}" y2="${H - PAD.bottom}" class="tmin"/>` : ''}
</svg>
<p class="legend"><span class="k min"></span> rarest piece's holders <span class="k mean"></span> mean holders per piece, as the tracker saw them (peers announce every 3 s)</p>`;
}

export function labHtml(r: LabResult): string {
  const o = r.options;
  const rows = r.completion.map((c, i) => `<tr><td>peer${i + 1}</td><td>${c === null ? 'did not finish' : c.toFixed(2)}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>enxame lab: ${o.peers} leechers, policy ${esc(o.policy)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:720px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
svg{width:100%;height:auto;background:#fafafa;border:1px solid #ddd;margin:.5em 0}
.axis{stroke:#444}.tick{font-size:10px;fill:#444;text-anchor:middle}.label{font-size:11px;fill:#222;text-anchor:middle}
.cdf{fill:none;stroke:#0a58ca;stroke-width:2}.tmin{stroke:#c00;stroke-dasharray:5 4}.tminlabel{font-size:11px;fill:#c00}
.minline{fill:none;stroke:#c60;stroke-width:2}.meanline{fill:none;stroke:#0a58ca;stroke-width:2}
.k{display:inline-block;width:14px;height:3px;vertical-align:middle;margin:0 4px 0 10px}.k.min{background:#c60}.k.mean{background:#0a58ca}
table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}
.fig{font-size:1.1em}
</style></head><body>
<h1>enxame lab</h1>
<p>${o.peers} leecher(s) and ${o.seedCount} seed(s) on 127.0.0.1; a ${(o.sizeBytes / 1048576).toFixed(1)} MiB file in ${r.pieceCount} pieces;
leecher upload ${(o.up / 1048576).toFixed(2)} MiB/s, download ${(o.down / 1048576).toFixed(2)} MiB/s, seed upload ${(o.seedUp / 1048576).toFixed(2)} MiB/s; piece policy <b>${esc(o.policy)}</b>.</p>
<p class="fig">T_min = max(F/u<sub>s</sub>, N·F/(u<sub>s</sub>+N·u), F/d) = <b>${r.tMinSeconds.toFixed(2)} s</b> (bound by ${esc(r.bound)})<br>
mean ${r.meanSeconds.toFixed(2)} s, max ${r.maxSeconds.toFixed(2)} s: <b>max/T_min = ${r.maxOverTMin.toFixed(3)}</b>, mean/T_min = ${r.meanOverTMin.toFixed(3)}<br>
finished ${r.finished} of ${r.completion.length}; files ${r.allIdentical ? 'byte-identical to the seed' : '<b>not all identical</b>'}</p>
<h2>Completion times (CDF)</h2>
${cdfSvg(r)}
<h2>Piece availability over time</h2>
${availabilitySvg(r)}
<h2>Each leecher</h2>
<table><tr><th>leecher</th><th>seconds</th></tr>${rows}</table>
<p>T_min is the fluid lower bound of Kumar and Ross (2006): no schedule can give every leecher the whole file sooner.</p>
</body></html>
`;
}

export function writeLabHtml(file: string, r: LabResult): void {
  fs.writeFileSync(file, labHtml(r));
}
