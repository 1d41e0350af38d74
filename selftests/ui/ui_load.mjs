// The web UI under load (docs/ui.md): build/hub-fixture's in-memory agents emit RATE entries a
// second for SECONDS while a headless Chromium or Firefox ESR (UI_BROWSER=firefox; both over
// puppeteer-core) shows the traffic view live.
// Chromium, through the DevTools protocol: the longest main-thread task of the page (a trace:
// no frame can be produced while a task runs) and the JS heap (Runtime.getHeapUsage each
// second, the page's and its worker's). Both browsers, in the page: the longest gap between
// animation frames and the longest event-loop stall (how late a 10 ms timer fired: the
// longest task as the page sees it; Firefox has no Long Tasks API and WebDriver BiDi no
// tracing), and the browser's memory (the RSS of its process tree, each second). The same
// in-page figures for a control page (a bare animation-frame loop in a window of its own),
// measured at the same time: what it misses is the machine's. Oracle for the entries: what
// the fixture emitted = what the page counts + what the hub told it it lost; and the page says
// the stream was parsed by its worker. The frame figures are printed (with an idle baseline
// first), not judged: on a shared machine the idle page alone can miss 100 ms. Prints
// "ok<TAB>desc", "fail<TAB>desc" and "diag<TAB>text" lines.
// Usage: node selftests/ui/ui_load.mjs BUILD_DIR [RATE] [SECONDS]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';

const require = createRequire(new URL('../../ui/package.json', import.meta.url));
const puppeteer = require('puppeteer-core');
const build = process.argv[2] || 'build';
const RATE = Number(process.argv[3] || 5000), SECONDS = Number(process.argv[4] || 30);
const FRAME_MAX_MS = 100, HEAP_MAX = 200 * 1024 * 1024;
const DETAIL = process.env.UI_TRACE_DETAIL === '1';
const FIREFOX = process.env.UI_BROWSER === 'firefox';
const ok = (c, d, x) => { console.log(`${c ? 'ok' : 'fail'}\t${d}`); if (!c && x !== undefined) console.log(`diag\t${JSON.stringify(x)}`); };
const diag = (t) => console.log(`diag\t${t}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// UI_HISTORY=N: the agents also hold N entries of history (a day old) and the page shows all
// history, so that the list already holds N before the live load (the issue: 100,000).
const HISTORY = Number(process.env.UI_HISTORY || 0);
const fx = spawn(join(build, 'hub-fixture'), ['--agents', '3', '--ui-dir', join(build, 'ui'), ...(HISTORY ? ['--synthetic', String(HISTORY)] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: fx.stdout });
const waiting = [];
lines.on('line', (l) => { const w = waiting.shift(); if (w) w(l); });
const next = () => new Promise((r) => waiting.push(r));
const port = Number((await next()).split(' ')[1]);
diag(`hub-fixture on port ${port}`);
const UI = `http://127.0.0.1:${port}`;

const profile = process.env.PROFILE || '/tmp/floe-ui-load-profile';
const browser = FIREFOX
	? await puppeteer.launch({ browser: 'firefox', executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr', headless: true, userDataDir: profile })
	: await puppeteer.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', `--user-data-dir=${profile}`],
	});
diag(`${FIREFOX ? 'firefox' : 'chromium'}: ${await browser.version()}`);
// The browser's memory: the resident set of its whole process tree (/proc), in bytes.
function treeRss(root) {
	const kids = new Map();
	let total = 0;
	for (const d of readdirSync('/proc')) {
		if (!/^\d+$/.test(d)) continue;
		try {
			const st = readFileSync(`/proc/${d}/stat`, 'utf8');
			const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
			const ppid = Number(f[1]);
			if (!kids.has(ppid)) kids.set(ppid, []);
			kids.get(ppid).push([Number(d), Number(f[21]) * 4096]);
		} catch { /* gone */ }
	}
	const walk = (pid) => { for (const [k, rss] of kids.get(pid) || []) { total += rss; walk(k); } };
	walk(root);
	return total;
}
const browserPid = browser.process()?.pid;
const errors = [];
try {
	const page = await browser.newPage();
	page.on('pageerror', (e) => errors.push(e.message));
	page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
	await page.setViewport({ width: 1400, height: 900 });
	// Gaps between animation frames, as the page sees them; and how late a 10 ms timer fires
	// (a task that runs for T ms delays it by about T). The same in the control page (below).
	const instrument = () => {
		window.__gaps = { max: 0, n: 0, over: 0, stall: 0 };
		let due = performance.now() + 10;
		setInterval(() => {
			const now = performance.now();
			if (window.__measure && now - due > window.__gaps.stall) window.__gaps.stall = now - due;
			due = now + 10;
		}, 10);
		let last = 0;
		const f = (t) => {
			if (last && window.__measure) {
				const g = t - last;
				window.__gaps.n++;
				if (g > window.__gaps.max) window.__gaps.max = g;
				if (g > 100) window.__gaps.over++;
			}
			last = t;
			// The control page draws its frame count: a frame with a little layout and paint.
			const c = document.getElementById('control');
			if (c) c.textContent = String(window.__gaps.n);
			requestAnimationFrame(f);
		};
		requestAnimationFrame(f);
	};
	await page.evaluateOnNewDocument(instrument);
	// The control: a trivial page (a rAF loop drawing a counter, nothing else) in its own tab
	// (about:blank in a new window: its own renderer process), measured in the same phases at the
	// same time as the UI. What it misses is the machine's doing (the renderer descheduled on
	// a loaded VM); what the UI misses beyond it is the UI's own.
	// A window of its own: a second tab would hide the UI's (no animation frames in a hidden tab).
	const control = await browser.newPage({ type: 'window' });
	await control.setViewport({ width: 400, height: 300 });
	await control.setContent('<!doctype html><title>control</title><div id="control">0</div>');
	await control.evaluate(instrument);
	await page.goto(`${UI}/${HISTORY ? '?range=all' : ''}`, { waitUntil: 'load' });
	for (let i = 0; i < (HISTORY ? 1200 : 100) && !(await page.$eval('#counts', (e) => e.textContent.includes('live')).catch(() => false)); i++) await sleep(100);
	const cdp = FIREFOX ? null : await page.createCDPSession();
	const metrics = async () => (cdp ? Object.fromEntries(((await cdp.send('Performance.getMetrics')).metrics || []).map((m) => [m.name, m.value])) : {});
	// One measured phase: RATE entries a second (0: none, the baseline of this machine) for
	// SECS seconds, in bursts every 100 ms on the clock (late bursts catch up).
	async function phase(rate, secs) {
		// RunTask: every task of every thread; with UI_TRACE_DETAIL=1 also what runs inside them
		// (script, layout, style, GC, the WebSocket's messages), to say what the long ones are.
		if (cdp) await page.tracing.start({ categories: DETAIL ? ['toplevel', 'devtools.timeline', 'v8', 'disabled-by-default-devtools.timeline'] : ['toplevel'] });
		const start = () => { window.__gaps = { max: 0, n: 0, over: 0, stall: 0 }; window.__measure = true; };
		await Promise.all([page.evaluate(start), control.evaluate(start)]);
		// The JS heap: the page's and its worker's (the stream's parser: a heap of its own), added.
		let heapMax = 0, mainHeapMax = 0, workerHeapMax = 0, rssMax = 0;
		const heapTimer = setInterval(async () => {
			if (browserPid) rssMax = Math.max(rssMax, treeRss(browserPid));
			const h = cdp && (await cdp.send('Runtime.getHeapUsage').catch(() => null));
			const w = cdp && page.workers()[0];
			const wh = w && (await w.client.send('Runtime.getHeapUsage').catch(() => null));
			if (wh && wh.usedSize > workerHeapMax) workerHeapMax = wh.usedSize;
			if (h && h.usedSize > mainHeapMax) mainHeapMax = h.usedSize;
			if (h && h.usedSize + (wh?.usedSize || 0) > heapMax) heapMax = h.usedSize + (wh?.usedSize || 0);
		}, 1000);
		if (cdp) await cdp.send('Performance.enable').catch(() => {});
		const m0 = await metrics();
		const t0 = Date.now(), per = rate / 10;
		let sent = 0;
		for (let k = 0; k < secs * 10; k++) {
			const due = t0 + k * 100;
			if (Date.now() < due) await sleep(due - Date.now());
			if (!per) continue;
			fx.stdin.write(`emit ${per} 0\n`);
			await next();
			sent += per;
		}
		const took = (Date.now() - t0) / 1000;
		const m1 = await metrics();
		// Main-thread time the page used, a share of the wall time: how busy it was.
		const busy = {};
		for (const k of ['TaskDuration', 'ScriptDuration', 'LayoutDuration', 'RecalcStyleDuration']) busy[k] = (m1[k] - m0[k]) / took;
		const stop = () => { window.__measure = false; return window.__gaps; };
		const [gaps0, ctl] = await Promise.all([page.evaluate(stop), control.evaluate(stop)]);
		clearInterval(heapTimer);
		if (!cdp) return { sent, took, gaps: gaps0, ctl, longest: NaN, over: NaN, tasks: NaN, heapMax, rssMax, busy };
		const trace = JSON.parse(new TextDecoder().decode(await page.tracing.stop()));
		const gaps = gaps0;
		const ev = trace.traceEvents || trace;
		const isTask = (e) => (e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask') && e.ph === 'X';
		// Which renderer is which: the trace's start lists each frame's URL and process. The
		// UI's main thread (CrRendererMain) and its worker ("DedicatedWorker thread") are in
		// the UI's process; the control's main thread in the control's.
		const frames = ev.filter((e) => e.name === 'TracingStartedInBrowser').flatMap((e) => e.args?.data?.frames || []);
		const pidOf = (f) => frames.find(f)?.processId;
		const uiPid = pidOf((fr) => (fr.url || '').startsWith(UI));
		if (DETAIL) diag(`threads of the UI's renderer: ${[...new Set(ev.filter((e) => e.name === 'thread_name' && e.pid === uiPid).map((e) => e.args?.name))].join(', ')}`);
		const thread = (pid, name) => ev.find((e) => e.name === 'thread_name' && e.pid === pid && (e.args?.name || '').startsWith(name));
		const busyOf = (m) => ev.reduce((t, e) => (isTask(e) && e.pid === m.pid && e.tid === m.tid ? t + e.dur : t), 0);
		// Without the frames (an older trace format): the busiest renderer main thread.
		const mains = ev.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
		const main = (uiPid && thread(uiPid, 'CrRendererMain')) || mains.reduce((best, m) => (!best || busyOf(m) > busyOf(best) ? m : best), null);
		const tasksOf = (m) => (m ? ev.filter((e) => isTask(e) && e.pid === m.pid && e.tid === m.tid) : []);
		const longestOf = (t) => t.reduce((m, e) => Math.max(m, e.dur / 1000), 0);
		const tasks = tasksOf(main);
		const longest = longestOf(tasks);
		// The most CPU one task used (the trace's thread time): a task far longer than that
		// waited descheduled, the machine's doing and not the page's.
		const longestCpu = tasks.reduce((m, e) => Math.max(m, (e.tdur || 0) / 1000), 0);
		const wk = uiPid && thread(uiPid, 'DedicatedWorker');
		const wkTasks = tasksOf(wk);
		const worker = wk ? { tasks: wkTasks.length, longest: longestOf(wkTasks), busy: busyOf(wk) / 1e6 / took } : null;
		if (DETAIL && main) {
			// The five longest tasks: their time by the events directly inside them.
			const inThread = ev.filter((e) => e.ph === 'X' && e.pid === main.pid && e.tid === main.tid && !isTask(e));
			for (const t of [...tasks].sort((x, y) => y.dur - x.dur).slice(0, 5)) {
				const by = {};
				for (const e of inThread)
					if (e.ts >= t.ts && e.ts + e.dur <= t.ts + t.dur) by[e.name] = (by[e.name] || 0) + e.dur / 1000;
				const top = Object.entries(by).sort((x, y) => y[1] - x[1]).slice(0, 8).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
				diag(`task ${(t.dur / 1000).toFixed(0)} ms: ${top} (ms, nested events counted in each)`);
			}
			// What a frame of the list costs: the tasks that ran an animation-frame callback and
			// a layout (the page's draws: the measuring loop alone changes nothing in the UI's
			// page, so it lays nothing out), their length and its parts, median over the phase.
			const kind = { FireAnimationFrame: 'script', BlinkScheduler_PerformMicrotaskCheckpoint: 'script', UpdateLayoutTree: 'style', Layout: 'layout', PrePaint: 'paint', Paint: 'paint', Layerize: 'paint', Commit: 'paint' };
			const parts = inThread.filter((e) => kind[e.name]).sort((x, y) => x.ts - y.ts);
			const draws = [];
			let k = 0;
			for (const t of [...tasks].sort((x, y) => x.ts - y.ts)) {
				while (k < parts.length && parts[k].ts < t.ts) k++;
				const by = { script: 0, style: 0, layout: 0, paint: 0, PrePaint: 0, Paint: 0, Layerize: 0, Commit: 0 }, seen = new Set();
				for (let j = k; j < parts.length && parts[j].ts < t.ts + t.dur; j++) {
					by[kind[parts[j].name]] += parts[j].dur / 1000;
					if (kind[parts[j].name] === 'paint') by[parts[j].name] += parts[j].dur / 1000;
					seen.add(parts[j].name);
				}
				// CPU time (the trace's thread time, tdur, when it has it): what the draw cost the
				// thread, without the time it waited descheduled on a loaded machine.
				const cpu = { cpuDur: t.tdur / 1000, cpuLayout: 0, cpuPaint: 0 };
				for (let j = k; j < parts.length && parts[j].ts < t.ts + t.dur; j++) {
					if (kind[parts[j].name] === 'layout') cpu.cpuLayout += parts[j].tdur / 1000;
					if (kind[parts[j].name] === 'paint') cpu.cpuPaint += parts[j].tdur / 1000;
				}
				if (seen.has('FireAnimationFrame') && seen.has('Layout')) draws.push({ dur: t.dur / 1000, ...by, ...cpu });
			}
			const q = (key, p) => { const v = draws.map((d) => d[key]).sort((x, y) => x - y); return v.length ? v[Math.min(v.length - 1, Math.floor(p * v.length))] : NaN; };
			diag(`draw frames (tasks with an animation-frame callback and a layout): ${draws.length}; task ms median ${q('dur', 0.5).toFixed(1)}, p90 ${q('dur', 0.9).toFixed(1)}, max ${q('dur', 1).toFixed(1)}; ` +
				`median per frame: script ${q('script', 0.5).toFixed(1)} (animation-frame callbacks, microtasks), style ${q('style', 0.5).toFixed(1)}, layout ${q('layout', 0.5).toFixed(1)}, paint ${q('paint', 0.5).toFixed(1)} (pre-paint ${q('PrePaint', 0.5).toFixed(1)}, paint ${q('Paint', 0.5).toFixed(1)}, layerize ${q('Layerize', 0.5).toFixed(1)}, commit ${q('Commit', 0.5).toFixed(1)}); p90 script ${q('script', 0.9).toFixed(1)}; ` +
				`CPU (thread time) per draw: median ${q('cpuDur', 0.5).toFixed(1)}, p90 ${q('cpuDur', 0.9).toFixed(1)}, max ${q('cpuDur', 1).toFixed(1)}; layout ${q('cpuLayout', 0.5).toFixed(1)}, paint ${q('cpuPaint', 0.5).toFixed(1)}`);
		}
		const over = tasks.filter((e) => e.dur / 1000 > FRAME_MAX_MS).length;
		return { sent, took, gaps, ctl, longest, longestCpu, over, tasks: tasks.length, worker, heapMax, mainHeapMax, workerHeapMax, rssMax, busy };
	}
	const MiB = (b) => (b / 1048576).toFixed(1);
	const fmt = (r) => (cdp ? `longest main-thread task ${r.longest.toFixed(1)} ms (${r.over} of ${r.tasks} over ${FRAME_MAX_MS} ms; the most CPU a task used ${r.longestCpu.toFixed(1)} ms); ` : '') +
		`longest frame gap ${r.gaps.max.toFixed(1)} ms, ${r.gaps.n} frames in ${r.took.toFixed(1)} s (${r.gaps.over} gaps over ${FRAME_MAX_MS} ms); longest event-loop stall ${r.gaps.stall.toFixed(0)} ms; ` +
		(cdp ? `JS heap max ${MiB(r.heapMax)} MiB (the page's at most ${MiB(r.mainHeapMax)}, the worker's ${MiB(r.workerHeapMax)}); ` : '') + `browser RSS max ${MiB(r.rssMax)} MiB` +
		(cdp ? `; main thread busy ${(r.busy.TaskDuration * 100).toFixed(0)}% (script ${(r.busy.ScriptDuration * 100).toFixed(0)}%, layout ${(r.busy.LayoutDuration * 100).toFixed(0)}%, style ${(r.busy.RecalcStyleDuration * 100).toFixed(0)}%)` : '') +
		(r.worker ? `; worker thread: ${r.worker.tasks} tasks, longest ${r.worker.longest.toFixed(1)} ms, busy ${(r.worker.busy * 100).toFixed(0)}%` : cdp ? '; the worker thread not in the trace' : '') +
		`\n  control page (same phase): longest frame gap ${r.ctl.max.toFixed(1)} ms, ${r.ctl.n} frames (${r.ctl.over} gaps over ${FRAME_MAX_MS} ms); longest event-loop stall ${r.ctl.stall.toFixed(0)} ms`;
	const base = await phase(0, 5);
	const load = async () => (await import('node:os')).loadavg()[0].toFixed(1);
	diag(`idle baseline (this machine, load ${await load()}): ${fmt(base)}`);
	const r = await phase(RATE, SECONDS);
	let count = 0, lost = 0;
	for (let i = 0; i < 100; i++) {
		const c = await page.$eval('#counts', (e) => [Number(e.dataset.count), Number(e.dataset.lost)]).catch(() => null);
		if (!c) { // the page is gone: say why
			ok(false, 'the traffic view is still there after the load', errors.slice(0, 5));
			break;
		}
		[count, lost] = c;
		if (count + lost >= r.sent + HISTORY) break;
		await sleep(200);
	}
	const rows = await page.$$eval('.row[data-id]', (x) => x.length);
	// Who read and parsed the stream (api.js's streamMode(): 'worker', or 'page' when it could not start one).
	const parsedBy = await page.$eval('#counts', (e) => e.dataset.parser || '(not said: a page before the worker)');
	ok(parsedBy === 'worker', `the stream was parsed in the Web Worker (the page says: ${parsedBy})`);
	diag(`emitted ${r.sent} in ${r.took.toFixed(1)} s (${(r.sent / r.took).toFixed(0)}/s); page counted ${count}, lost ${lost}; ${rows} rows in the DOM`);
	diag(`under load (load average ${await load()} after): ${fmt(r)}`);
	ok(r.sent / r.took >= RATE * 0.95, `the fixture emitted ${RATE} entries/s for ${SECONDS} s`);
	if (HISTORY) diag(`the list held ${HISTORY} entries of history before the load`);
	ok(count + lost === r.sent + HISTORY, 'every entry was shown or counted lost (count + lost = emitted + history)', { count, lost, sent: r.sent, HISTORY });
	ok(rows < 200, `virtualized: ${rows} rows in the DOM for ${Math.min(count, 100000)} in the list`);
	if (cdp) ok(r.heapMax > 0 && r.heapMax < HEAP_MAX, `JS heap under 200 MiB (max ${MiB(r.heapMax)} MiB)`);
	else diag('JS heap: not measurable in Firefox over WebDriver BiDi (the browser RSS above is)');
	// Frame times are figures, not a verdict: on a shared machine the idle page alone can miss.
	const frames = (!cdp || (r.tasks > 0 && r.longest <= FRAME_MAX_MS)) && r.gaps.max <= FRAME_MAX_MS && r.gaps.stall <= FRAME_MAX_MS;
	diag(`frames ${frames ? 'within' : 'NOT within'} ${FRAME_MAX_MS} ms under load${frames || base.gaps.max <= FRAME_MAX_MS ? '' : ' (nor idle: the machine is busy)'}`);
	ok(errors.length === 0, 'no console errors', errors.slice(0, 5));
} finally {
	await browser.close();
	fx.stdin.end('quit\n');
}
