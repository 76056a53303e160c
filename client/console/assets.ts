/**
 * The console's own stylesheet and script, served from the API (no third-party asset, no CDN:
 * the console works offline). The script only improves what the server rendered: live
 * countdowns, and the charts drawn with uPlot from the JSON each page embeds; without it every
 * page still reads (time left as rendered, each chart's numbers in a table beside it).
 */
export const CONSOLE_CSS = `
:root { --fg: #1c2430; --muted: #5b6675; --bg: #f6f7f9; --card: #fff; --line: #d9dee5; --accent: #1f5fbf;
  --ok: #1d7a46; --warn: #9a6200; --bad: #b3261e; --info: #4b5d9b; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.45; font-size: 15px; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f0b400; outline-offset: 2px; }
header.top { background: #17202c; color: #fff; padding: .6rem 1rem; display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; align-items: center; }
header.top .brand { font-weight: 700; margin-right: .5rem; }
header.top nav a { color: #dfe7f3; text-decoration: none; padding: .2rem .1rem; }
header.top nav a[aria-current="page"] { color: #fff; border-bottom: 2px solid #f0b400; }
header.top nav { display: flex; gap: 1rem; flex-wrap: wrap; }
header.top .who { margin-left: auto; display: flex; gap: .6rem; align-items: center; font-size: .9rem; }
main { max-width: 1240px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: .4rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.2rem 0 .6rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .9rem 1rem; margin-bottom: 1rem; }
.buckets { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: .6rem; margin-bottom: 1rem; }
.bucket { display: block; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; text-decoration: none; color: var(--fg); }
.bucket[aria-current="true"] { border-color: var(--accent); box-shadow: inset 0 0 0 1px var(--accent); }
.bucket .n { font-size: 1.6rem; font-weight: 700; display: block; }
.bucket .hint { color: var(--muted); font-size: .8rem; }
.bucket.due_soon .n { color: var(--warn); } .bucket.past_due .n, .bucket.blocked .n { color: var(--bad); } .bucket.completed .n { color: var(--ok); }
form.filters { display: flex; flex-wrap: wrap; gap: .6rem 1rem; align-items: flex-end; }
label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); gap: .15rem; }
input, select, textarea, button { font: inherit; color: var(--fg); }
input, select, textarea { border: 1px solid #aab3bf; border-radius: 4px; padding: .35rem .45rem; background: #fff; }
textarea { min-height: 4.5rem; width: 100%; }
button, .button { background: var(--accent); color: #fff; border: 0; border-radius: 4px; padding: .45rem .9rem; cursor: pointer; text-decoration: none; display: inline-block; }
button.secondary, .button.secondary { background: #e6eaf0; color: var(--fg); }
button.danger { background: var(--bad); }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; padding: .45rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8rem; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; }
.chip { display: inline-block; border-radius: 999px; padding: .05rem .55rem; font-size: .78rem; margin: 0 .2rem .2rem 0; border: 1px solid transparent; white-space: nowrap; }
.chip.verified, .chip.completed, .chip.resolved, .chip.ready, .chip.applied, .chip.confirmed { background: #e3f3e9; color: var(--ok); border-color: #b5dcc4; }
.chip.running, .chip.pending { background: #e7edf9; color: var(--info); border-color: #c5d1ee; }
.chip.retrying { background: #fff3d9; color: var(--warn); border-color: #f0d49a; }
.chip.blocked, .chip.failed { background: #fbe4e2; color: var(--bad); border-color: #f0bbb6; }
.chip.skipped, .chip.awaiting_confirmation, .chip.expired, .chip.cancelled, .chip.refused, .chip.held { background: #eef0f3; color: var(--muted); border-color: var(--line); }
.left.overdue { color: var(--bad); font-weight: 600; } .left.soon { color: var(--warn); font-weight: 600; }
.muted { color: var(--muted); }
.flash { border-left: 4px solid var(--ok); background: #eef8f1; padding: .6rem .8rem; margin-bottom: 1rem; }
.flash.error { border-color: var(--bad); background: #fdeeee; }
ol.timeline { list-style: none; padding: 0; margin: 0; border-left: 2px solid var(--line); }
ol.timeline li { margin: 0 0 .7rem .8rem; position: relative; }
ol.timeline li::before { content: ""; position: absolute; left: -1.15rem; top: .45rem; width: .6rem; height: .6rem; border-radius: 50%; background: var(--accent); }
ol.timeline li.bad::before { background: var(--bad); } ol.timeline li.ok::before { background: var(--ok); }
ol.timeline time { color: var(--muted); font-size: .85rem; display: block; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.chart { min-height: 260px; }
details summary { cursor: pointer; color: var(--accent); }
.pager { display: flex; gap: .6rem; margin: .8rem 0; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0; }
dl.kv dt { color: var(--muted); }
.signin { max-width: 420px; margin: 4rem auto; }
.spaced { margin-top: .9rem; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; color: var(--accent); padding: .4rem .8rem; z-index: 10; }
.skip:focus { left: .5rem; top: .5rem; }
form.inline { display: inline; }
label.inline { flex-direction: row; align-items: center; gap: .5rem; color: inherit; font-size: inherit; }
.card > h2:first-child { margin-top: 0; }
@media (max-width: 760px) {
  .grid2 { grid-template-columns: 1fr; }
  main { padding: .6rem; }
  table.responsive thead { display: none; }
  table.responsive tr { display: block; border-bottom: 1px solid var(--line); padding: .4rem 0; }
  table.responsive td { display: flex; gap: .6rem; border: 0; padding: .2rem .55rem; }
  table.responsive td::before { content: attr(data-label); color: var(--muted); min-width: 7.5rem; font-size: .8rem; }
}
`;

export const CONSOLE_JS = `
(function () {
  'use strict';
  function left(ms) {
    var past = ms < 0, m = Math.floor(Math.abs(ms) / 60000), d = Math.floor(m / 1440);
    m -= d * 1440; var h = Math.floor(m / 60); m -= h * 60;
    var t = d > 0 ? d + ' d ' + h + ' h' : h > 0 ? h + ' h ' + m + ' min' : m + ' min';
    return past ? t + ' overdue' : t + ' left';
  }
  function tick() {
    var now = Date.now(), soon = Number(document.body.getAttribute('data-due-soon-ms') || 0);
    document.querySelectorAll('[data-deadline]').forEach(function (el) {
      var ms = Date.parse(el.getAttribute('data-deadline')) - now;
      el.textContent = left(ms);
      el.classList.toggle('overdue', ms < 0);
      el.classList.toggle('soon', ms >= 0 && ms < soon);
    });
  }
  if (document.querySelector('[data-deadline]')) { tick(); setInterval(tick, 1000); }

  var charts = document.getElementById('chart-data');
  if (!charts || typeof uPlot === 'undefined') return;
  var data = JSON.parse(charts.textContent);
  var palette = ['#1f5fbf', '#1d7a46', '#9a6200', '#b3261e', '#6a3fb5', '#00838f', '#5b6675'];
  function width(el) { return Math.max(280, el.clientWidth - 8); }
  function draw(id, spec) {
    var el = document.getElementById(id);
    if (!el || !spec || !spec.x.length) return;
    el.innerHTML = '';
    var series = [{}].concat(spec.series.map(function (s, i) {
      return { label: s.label, stroke: s.color || palette[i % palette.length], width: 2, dash: s.dash, points: { show: spec.x.length < 40 } };
    }));
    var opts = { width: width(el), height: 240, series: series, scales: { x: { time: spec.time !== false } },
      axes: [{}, { label: spec.yLabel || '' }], legend: { live: true } };
    var u = new uPlot(opts, [spec.x].concat(spec.series.map(function (s) { return s.values; })), el);
    window.addEventListener('resize', function () { u.setSize({ width: width(el), height: 240 }); });
  }
  Object.keys(data).forEach(function (id) { draw(id, data[id]); });
})();
`;
