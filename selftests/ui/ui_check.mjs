// The web UI in a real headless browser (Debian's chromium over the DevTools protocol, or
// firefox-esr over WebDriver BiDi, both driven by puppeteer-core: BROWSER=chromium|firefox)
// against a real floe-hub over a real floe-agent tapping pods (selftests/integration/test_ui.sh
// sets it up; it runs this once per browser).
// Oracles: the hub's own API for the same queries, what the client sent (its header and
// body), tshark on the downloaded PCAP, the pods' names. Prints "ok<TAB>desc",
// "fail<TAB>desc", "diag<TAB>text" lines for the test's `checks`.
//
// Environment: UI (the page's base URL), TRAFFIC (a script making the test traffic), PING (one
// more Redis command), MARK (the
// header value the client's POST carries), BODY (its JSON body), POD_A, POD_B (pod names),
// SHOTS (screenshot directory), DL (download directory), BROWSER, BROWSER_BIN (its binary),
// KEY (the Redis key this run's SET writes), TOKEN_UI and TOKEN (a second hub over the same
// agent, started with --token TOKEN). RESTART_UI (optional: a third hub over the same agent,
// which the test restarts when this check creates the file RESTART, creating RESTARTED once the
// new hub serves). SLOW (a script making a slow HTTP request: its response's two chunks $1 s
// apart, creating the file $2 when over), SLOW_DONE (the file the one across the restart makes).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(new URL('../../ui/package.json', import.meta.url));
const puppeteer = require('puppeteer-core');
const env = process.env;
const UI = env.UI.replace(/\/$/, '');
const FIREFOX = env.BROWSER === 'firefox';

let failed = 0;
const ok = (cond, desc, detail) => {
	console.log(`${cond ? 'ok' : 'fail'}\t${desc}`);
	if (!cond) {
		failed++;
		if (detail !== undefined) console.log(`diag\t${String(JSON.stringify(detail)).slice(0, 600)}`);
	}
	return cond;
};
const diag = (t) => console.log(`diag\t${t}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, ms = 15000, step = 100) {
	const end = Date.now() + ms;
	for (;;) {
		const v = await fn().catch(() => undefined);
		if (v) return v;
		if (Date.now() > end) return v;
		await sleep(step);
	}
}
async function api(path, params, base = UI, token = '') {
	const u = new URL(base + path);
	for (const [k, v] of Object.entries(params || {})) u.searchParams.set(k, v);
	const r = await fetch(u, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
	return { status: r.status, body: await r.json() };
}
const hubCount = async (q) => (await api('/api/v1/entries', { q, limit: 10000 })).body.entries.length;

mkdirSync(env.SHOTS, { recursive: true });
mkdirSync(env.DL, { recursive: true });
// Firefox saves downloads where its preferences say, without asking; Chromium is told below
// over the DevTools protocol (Browser.setDownloadBehavior).
const browser = FIREFOX
	? await puppeteer.launch({
		browser: 'firefox', executablePath: env.BROWSER_BIN || '/usr/bin/firefox-esr', headless: true,
		userDataDir: `${env.DL}/profile`,
		extraPrefsFirefox: {
			'browser.download.dir': env.DL, 'browser.download.folderList': 2, 'browser.download.useDownloadDir': true,
			'browser.download.always_ask_before_handling_new_types': false,
			'browser.helperApps.neverAsk.saveToDisk': 'application/vnd.tcpdump.pcap,application/octet-stream',
		},
	})
	: await puppeteer.launch({
		executablePath: env.BROWSER_BIN || '/usr/bin/chromium',
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', `--user-data-dir=${env.DL}/profile`],
	});
diag(`${env.BROWSER || 'chromium'}: ${await browser.version()}`);
const consoleErrors = [];
const page = await browser.newPage();
// phase: said before each line logged while a check provokes an error on purpose (below).
let phase = '';
page.on('console', (m) => m.type() === 'error' && consoleErrors.push(`${phase}${page.url()}: ${m.text()} (${m.location()?.url || ''})`));
page.on('pageerror', (e) => consoleErrors.push(`${phase}${page.url()}: ${e.message}`));
// A request the browser cancelled because the test navigated away (health refreshes every 3 s;
// on a loaded machine one can be in flight at page.goto) is not the page's error: Firefox
// reports it as NS_BINDING_ABORTED, Chromium as net::ERR_ABORTED.
page.on('requestfailed', (r) => !/\/api\/v1\/(stream|pcap)/.test(r.url()) && !/ABORTED/.test(r.failure()?.errorText || '') &&
	consoleErrors.push(`${phase}failed ${r.url()} (${r.failure()?.errorText || '?'})`));
// Not errors of the page: the browser's own line for an answer the page expects (a hub
// without a triggers route: 404; a hub with --token before the token: 401; the refused
// WebSocket handshake that makes the page ask for it).
// Nor the browser's line for worker.js refused on purpose (8a).
const expected = (t) => (/status of 404/.test(t) && /\/api\/v1\/triggers\b/.test(t)) ||
	(t.startsWith('[without worker.js] ') && /worker\.js/.test(t)) ||
	(t.startsWith(env.TOKEN_UI) && (/status of 401/.test(t) || /api\/v1\/stream/.test(t))) ||
	// The hub restarted on purpose (8c): its stream's socket and the page's fetches fail meanwhile.
	(t.startsWith('[hub restart] ') && /api\/v1\/stream|ERR_CONNECTION_REFUSED/.test(t));
await page.setViewport({ width: 1500, height: 1600 });
const shot = (name) => page.screenshot({ path: join(env.SHOTS, `${name}.png`) });
const rows = () => page.$$eval('.row[data-id]', (rs) => rs.map((r) => ({ id: r.dataset.id, proto: r.dataset.proto, version: r.dataset.version })));
// Empty an input as a user would (select all, delete): a triple click selects all in Chromium
// but not through Firefox's BiDi input.
const clear = async (sel) => {
	await page.focus(sel);
	await page.$eval(sel, (e) => e.select());
	await page.keyboard.press('Backspace');
};
const count = () => page.$eval('#count', (e) => Number(e.textContent));
// Every row id of the list, scrolled through half a view at a time (only the rows in view are
// in the DOM), down to the end and back up to the top. In a short window (the list ~10 rows high), so that the
// list holds more rows than its view and scrolling reuses the row elements (traffic.jsx's
// ListView); at each step the rows in the DOM must be consecutive positions of the list in
// document order (each one row below the one before), else the id list says so.
const listIds = async () => {
	await page.setViewport({ width: 1500, height: 420 });
	const ids = await page.evaluate(async () => {
		const el = document.querySelector('.list');
		const ids = [];
		const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
		await frame();
		// Down to the end, then back up to the top: the elements are reused both ways.
		const step = Math.max(1, el.clientHeight >> 1), tops = [];
		for (let top = 0; tops.length < 2000; top += step) {
			tops.push(top);
			if (top >= el.scrollHeight) break;
		}
		for (const top of [...tops, ...tops.slice(0, -1).reverse()]) {
			el.scrollTop = top;
			await frame();
			const rs = [...document.querySelectorAll('.row[data-id]')];
			const at = rs.map((r) => Number(/translateY\((\d+)px\)/.exec(r.style.transform)?.[1]));
			if (at.some((y, i) => i && y !== at[i - 1] + rs[0].offsetHeight)) return [`rows out of order at ${top}: ${at.join(' ')}`];
			for (const r of rs) if (!ids.includes(r.dataset.id)) ids.push(r.dataset.id);
		}
		return ids;
	});
	await page.setViewport({ width: 1500, height: 1600 });
	return ids;
};
// What the stream's WebSocket receives, beside the page's own handler: messages, how many were
// arrays (the hub's batches, ?batch=), the largest, and every entry id in arrival order. The
// socket is the worker's (api.js): the page's Worker is started from a script that wraps the
// worker's WebSocket, telling this page what it receives (a BroadcastChannel), then loads
// the page's worker script (importScripts; a worker.js that fails to load fails that worker
// as it would the real one). A socket the page opens itself (without the worker) is wrapped
// too; each socket is counted where it was opened (sockets.worker, sockets.page).
await page.evaluateOnNewDocument(() => {
	const s = (window.__ws = { messages: 0, arrays: 0, maxBatch: 0, ids: [], sockets: { worker: 0, page: 0 }, workerScripts: [] });
	const got = (data) => {
		s.messages++;
		let m;
		try { m = JSON.parse(data); } catch { return; }
		if (Array.isArray(m)) { s.arrays++; s.maxBatch = Math.max(s.maxBatch, m.length); }
		for (const x of [].concat(m)) if (x && x.type === 'entry') s.ids.push(x.entry.id);
	};
	const W = window.WebSocket;
	window.WebSocket = class extends W {
		constructor(...a) {
			super(...a);
			s.sockets.page++;
			this.addEventListener('message', (ev) => got(ev.data));
		}
	};
	const spy = new BroadcastChannel('floe-test-ws');
	spy.onmessage = (ev) => (ev.data.open ? s.sockets.worker++ : got(ev.data.text));
	const PageWorker = window.Worker;
	window.Worker = class extends PageWorker {
		constructor(url, opts) {
			const script = new URL(url, location.href).href;
			s.workerScripts.push(script);
			const wrap = `const spy = new BroadcastChannel('floe-test-ws'), W = self.WebSocket;
				self.WebSocket = class extends W {
					constructor(...a) { super(...a); spy.postMessage({ open: true }); this.addEventListener('message', (ev) => spy.postMessage({ text: ev.data })); }
				};
				importScripts(${JSON.stringify(script)});`;
			super(URL.createObjectURL(new Blob([wrap], { type: 'text/javascript' })), opts);
		}
	};
});

try {
	// 1. Live: the page is open and streaming before the traffic is made.
	await page.goto(`${UI}/`, { waitUntil: 'load' });
	ok(await until(() => page.$eval('#counts', (e) => e.textContent.includes('live'))), 'the traffic view opens and goes live');
	const before = await count();
	execFileSync('bash', [env.TRAFFIC], { stdio: 'ignore', timeout: 60000 });
	const kinds = (rs) => ({
		h1: rs.some((r) => r.proto === 'http' && r.version === '1.1'),
		h2: rs.some((r) => r.proto === 'http' && r.version === '2'),
		grpc: rs.some((r) => r.proto === 'grpc'),
		redis: rs.some((r) => r.proto === 'redis'),
	});
	const seen = await until(async () => { const k = kinds(await rows()); return Object.values(k).every(Boolean) && k; }, 20000);
	ok(seen, 'entries appear live: HTTP/1.1, h2c, gRPC and Redis rows', kinds(await rows()));
	// Once the hub's count is stable, the page shows exactly its entries.
	let n = -1, m = -2;
	await until(async () => { m = n; n = await hubCount(''); return n === m && (await count()) === n; }, 15000, 500);
	ok(n > before && (await count()) === n, `the page counts the hub's ${n} entries`, { page: await count(), hub: n, before });
	const all = new Set((await api('/api/v1/entries', { limit: 10000 })).body.entries.map((e) => e.id));
	// Batches: the page asked for them (every message an array) and got every entry of the hub
	// exactly once across them (history and live, one stream since the page opened).
	// The spy's messages from the worker may trail the page's rows by a moment.
	const wsNow = () => page.evaluate(() => ({ ...window.__ws, ids: [...window.__ws.ids] }));
	await until(async () => (await wsNow()).ids.length >= all.size, 5000);
	const ws = await wsNow();
	ok(ws.messages > 0 && ws.arrays === ws.messages, `the stream came in batches: ${ws.messages} WebSocket messages, all arrays, the largest of ${ws.maxBatch}`, { messages: ws.messages, arrays: ws.arrays });
	ok(ws.ids.length === all.size && new Set(ws.ids).size === ws.ids.length && ws.ids.every((id) => all.has(id)),
		`the batches held each of the hub's ${all.size} entries exactly once`, { got: ws.ids.length, distinct: new Set(ws.ids).size, hub: all.size });
	const shown = await rows();
	ok(shown.length > 0 && shown.every((r) => all.has(r.id)), `the ${shown.length} rows in view are hub entries`);
	// The stream is read and parsed in the Web Worker (api.js: the page says 'worker' once the
	// worker has answered; 'page' when it reads the stream itself): the worker opened the
	// socket, the page's main thread none; the worker's script is worker.js (in Chromium the
	// DevTools protocol lists the worker running too).
	const parsedBy = await page.$eval('#counts', (e) => e.dataset.parser);
	const workers = FIREFOX ? [] : page.workers().map((w) => w.url());
	ok(parsedBy === 'worker' && ws.sockets.worker >= 1 && ws.sockets.page === 0 && ws.workerScripts.includes(`${UI}/worker.js`) && (FIREFOX || workers.length >= 1),
		`the stream's socket is read and parsed in a Web Worker (worker.js): ${ws.sockets.worker} socket(s) in the worker, ${ws.sockets.page} in the page${FIREFOX ? '' : `; running: ${workers.length}`}`,
		{ parsedBy, sockets: ws.sockets, scripts: ws.workerScripts, workers });
	// Shown == sent: scrolled through, the list's rows are exactly the entries the WebSocket
	// brought (each once), none lost or doubled between the worker and the list.
	const listed = await listIds();
	ok(listed.length === ws.ids.length && new Set(listed).size === listed.length && listed.every((id) => ws.ids.includes(id)),
		`scrolled through, the list holds the ${ws.ids.length} entries the stream sent, each once`, { listed: listed.length, sent: ws.ids.length });
	await shot('traffic');

	// Pause: new entries wait (counted) and appear on resume; the order toggles.
	await page.click('#pause');
	execFileSync('bash', [env.PING], { stdio: 'ignore', timeout: 20000 });
	const waiting = await until(() => page.$eval('#counts', (e) => /paused \(1 waiting\)/.test(e.textContent)));
	ok(waiting && (await count()) === n, 'paused: the new entry waits, the list stays as it was', await page.$eval('#counts', (e) => e.textContent));
	await page.click('#pause');
	ok(await until(async () => (await count()) === n + 1 && (await rows())[0].proto === 'redis'), 'resumed: it is shown, newest first');
	await page.click('#order');
	const oldest = (await api('/api/v1/entries', { limit: 1 })).body.entries[0].id;
	ok(await until(async () => (await rows())[0].id === oldest), 'oldest first: the first row is the hub\'s oldest entry');
	await page.click('#order');

	// 2. The KFL box: filters with Enter; completion from the schema.
	await page.click('#kfl');
	await page.keyboard.type('request.comm');
	// The list for the whole text typed (the page answers each keystroke: an earlier answer,
	// e.g. for "request", may be the one showing first).
	const suggestions = () => page.$$eval('#kfl-complete li', (l) => l.map((x) => x.textContent));
	const sugg = (await until(async () => { const l = await suggestions(); return l.includes('request.command') && l; })) ||
		(await suggestions().catch(() => []));
	ok(sugg && sugg.includes('request.command'), 'completion offers request.command for "request.comm"', sugg);
	await page.keyboard.press('Tab');
	await page.keyboard.type(' == "SET" or redis');
	const typed = await page.$eval('#kfl', (e) => e.value);
	ok(typed === 'request.command == "SET" or redis', 'Tab completes the field name', typed);
	await until(() => page.$eval('#kfl', (e) => e.getAttribute('aria-invalid') === 'false'));
	await page.keyboard.press('Enter');
	const nRedis = await hubCount('redis');
	await until(async () => (await count()) === nRedis && (await rows()).every((r) => r.proto === 'redis'));
	const rr = await rows();
	ok(nRedis > 0 && (await count()) === nRedis && rr.length === nRedis && rr.every((r) => r.proto === 'redis'),
		`the KFL box filters: ${nRedis} redis rows, as the hub answers`, { page: await count(), hub: nRedis });
	ok(new URL(page.url()).searchParams.get('q') === 'request.command == "SET" or redis', 'the query is in the URL');
	await shot('traffic-filtered');

	// 3. An invalid query is marked at its column (the hub's column for it).
	for (const bad of ['http and response.statu >= 500', 'redis and (request.command == ']) {
		await clear('#kfl');
		await page.keyboard.type(bad);
		// The answer for this text (not the last one's): its first line is the query.
		const col = await until(() => page.$eval('#kfl-error', (e, t) => e.textContent.split('\n')[0] === t && Number(e.dataset.column), bad));
		const hub = await api('/api/v1/entries', { q: bad, limit: 1 });
		const caret = await page.$eval('#kfl-error', (e) => e.textContent.split('\n')[1] || '');
		ok(hub.status === 400 && col === hub.body.column && caret.indexOf('^') === col - 1,
			`"${bad}": marked invalid at column ${col}, the hub's column`, { col, hub: hub.body, caret });
	}
	await shot('traffic-invalid');
	await page.keyboard.press('Escape');

	// 4. ?q= opens filtered.
	const q = 'request.method == "POST"';
	await page.goto(`${UI}/?q=${encodeURIComponent(q)}`, { waitUntil: 'load' });
	const nPost = await hubCount(q);
	await until(async () => (await count()) === nPost);
	ok(nPost >= 1 && (await count()) === nPost && (await page.$eval('#kfl', (e) => e.value)) === q,
		`?q= opens filtered: ${nPost} POST entries, the box holds the query`, { page: await count(), hub: nPost });

	// 5. Details: the client's header and body; the entry id in the URL.
	const post = (await api('/api/v1/entries', { q: `request.headers["x-floe-test"] == "${env.MARK}"`, limit: 10 })).body.entries;
	ok(post.length === 1, 'the hub has the client\'s POST (by its header)', post.length);
	await page.click(`.row[data-id="${post[0].id}"]`);
	ok(await until(() => page.$eval('#details', (e) => e.dataset.id)) === post[0].id && new URL(page.url()).searchParams.get('id') === post[0].id,
		'clicking the row opens its details, its id in the URL');
	const hdr = await until(() => page.$$eval('#request-headers tr', (t) => Object.fromEntries(t.map((r) => [r.cells[0].textContent, r.cells[1].textContent]))).then((h) => h['x-floe-test'] && h));
	ok(hdr && hdr['x-floe-test'] === env.MARK && hdr['content-type'] === 'application/json', 'details show the headers the client sent', hdr);
	const body = await until(() => page.$eval('#request-body', (e) => ({ kind: e.dataset.kind, text: e.textContent })));
	let same = false;
	try { same = body.kind === 'json' && JSON.stringify(JSON.parse(body.text)) === JSON.stringify(JSON.parse(env.BODY)) && body.text.includes('\n'); } catch { /* not JSON */ }
	ok(same, 'and the body it sent, pretty-printed JSON', body);
	await shot('details');
	// A link with the id opens the same details.
	await page.goto(`${UI}/?id=${encodeURIComponent(post[0].id)}`, { waitUntil: 'load' });
	ok(await until(() => page.$eval('#details', (e) => e.dataset.id)) === post[0].id, 'a URL with the entry id opens its details');
	await until(() => page.$('#copy-curl'));
	await page.click('#copy-curl');
	const curl = await page.evaluate(() => window.__floeLastCopy);
	ok(curl && curl.includes(`x-floe-test: ${env.MARK}`) && curl.includes('-X POST') && curl.includes('/echo'),
		'copy as curl: the method, the header and the URL', curl);
	// And it does what the client did: run in pod a, the server echoes the same body back.
	let again = '';
	try {
		again = execFileSync('ip', ['netns', 'exec', env.POD_A, 'sh', '-c', `${curl} -sS --max-time 5`], { encoding: 'utf8', timeout: 10000 });
	} catch (e) { again = `failed: ${e.message}`; }
	ok(again === env.BODY, 'the copied curl, run in pod a, sends the same body (the server echoes it)', again);

	// Redis in its own layout: the command the client sent and the server's reply.
	const set = (await api('/api/v1/entries', { q: 'redis and request.command == "SET"', limit: 100 })).body.entries
		.filter((e) => JSON.stringify(e.request).includes(env.KEY));
	if (ok(set.length === 1, 'the hub has the client\'s SET (its key)', set.length)) {
		await page.goto(`${UI}/?id=${encodeURIComponent(set[0].id)}`, { waitUntil: 'load' });
		const red = await until(() => page.$eval('#redis', (e) => e.textContent));
		ok(red && red.includes(`SET ${env.KEY} ui`) && red.includes('OK'), 'Redis details: the command, its arguments and the reply', red);
		await shot('details-redis');
	}
	await page.goto(`${UI}/?id=${encodeURIComponent(post[0].id)}`, { waitUntil: 'load' });
	await until(() => page.$('#pcap'));

	// 6. The PCAP of the connection, downloaded by the browser, opens in tshark.
	if (!FIREFOX) {
		const cdp = await page.createCDPSession();
		await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: env.DL });
	}
	await page.click('#pcap');
	const file = await until(() => {
		const f = readdirSync(env.DL).filter((x) => x.endsWith('.pcap'));
		return Promise.resolve(f.length && statSync(join(env.DL, f[0])).size > 24 && join(env.DL, f[0]));
	}, 20000, 200);
	ok(file, 'the PCAP download completes', readdirSync(env.DL));
	if (file) {
		await sleep(300);
		let out = '';
		try {
			out = execFileSync('tshark', ['-r', file, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.method', '-e', 'http.request.uri'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
		} catch (e) { out = `tshark failed: ${e.stderr || e.message}`; }
		ok(out.trim().split('\n').some((l) => l === 'POST\t/echo'), 'tshark reads it: the POST /echo is in it', out);
	}

	// 7. The service map: both pods, an HTTP edge between them with a rate.
	await page.goto(`${UI}/?view=map`, { waitUntil: 'load' });
	const edge = await until(() => page.$$eval('.edge-g', (es, a, b) => es.map((e) => ({ ...e.dataset })).find((d) => d.src === a && d.dst === b && d.protocol === 'http'), env.POD_A, env.POD_B));
	const names = await page.$$eval('.node', (ns) => ns.map((n) => n.dataset.name));
	ok(names.includes(env.POD_A) && names.includes(env.POD_B), 'the service map shows both pods', names);
	const nHttp = (await api('/api/v1/entries', { q: `protocol == "http" and src.pod == "${env.POD_A}" and dst.pod == "${env.POD_B}"`, limit: 10000 })).body.entries.length;
	ok(edge && Math.abs(Number(edge.rate) - nHttp / 900) < 1e-9, `an HTTP edge a → b with its rate (${nHttp} in 15 min)`, { edge, nHttp });
	const spaces = await page.$$eval('.ns', (ns) => ns.map((n) => n.dataset.ns));
	ok(spaces.includes('front') && spaces.includes('back'), 'nodes grouped by namespace', spaces);
	await shot('map');

	// 7b. gRPC: each call's row shows its grpc-status (the client's own view of the call, from
	// its log), streaming calls included, never the HTTP status; a call the client cancelled
	// (a bidi stream reset) says so in the list and the details.
	const clientCodes = new Map(readFileSync(env.GRPC_LOG, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((c) => [c.call_id, c.code_name]));
	const grpcs = (await api('/api/v1/entries', { q: 'grpc', limit: 1000 })).body.entries;
	const callOf = (e) => e.request?.headers?.['x-call-id'];
	await page.goto(`${UI}/?q=grpc`, { waitUntil: 'load' });
	await until(async () => (await count()) === grpcs.length);
	const grows = await page.$$eval('.row[data-id]', (rs) => rs.map((r) => ({ id: r.dataset.id, status: r.dataset.status })));
	const byId = new Map(grpcs.map((e) => [e.id, e]));
	const streaming = grows.filter((r) => { const g = byId.get(r.id)?.grpc || {}; return g.request_count > 1 || g.response_count > 1; });
	const wrong = grows.filter((r) => {
		const e = byId.get(r.id), want = clientCodes.get(callOf(e));
		if (r.status === '200') return true;
		if (typeof e?.grpc?.status === 'number') return r.status !== want; // the client saw that status
		return !(want === 'CANCELLED' && /^reset CANCEL/.test(r.status)) && !(want === 'DEADLINE_EXCEEDED' && /^reset|^no status/.test(r.status));
	});
	ok(grows.length > 0 && streaming.length >= 3 && wrong.length === 0,
		`gRPC rows show the client's status (${grows.length} calls, ${streaming.length} streaming), never HTTP 200`, { wrong, grows: grows.slice(0, 20) });
	const reset = grpcs.find((e) => callOf(e) === 'bidi-cancelled');
	if (ok(reset && typeof reset.grpc?.status !== 'number', 'the hub has the cancelled bidi call, without a grpc-status', reset && { grpc: reset.grpc?.status, rst: reset.rst_error })) {
		await page.goto(`${UI}/?id=${encodeURIComponent(reset.id)}`, { waitUntil: 'load' });
		const gs = await until(() => page.$eval('#grpc-status', (e) => e.textContent));
		ok(gs && /reset CANCEL/.test(gs) && !gs.includes('200'), 'its details: the reset, not 200', gs);
		await shot('details-grpc-reset');
	}

	// 8. Health: the agent, connected; no triggers route on this hub (404): no triggers shown.
	await page.goto(`${UI}/?view=health`, { waitUntil: 'load' });
	const st = await until(() => page.$$eval('#agents tbody tr', (t) => t.map((r) => r.textContent).join(' | ')).then((s) => s.includes('connected') && s));
	ok(st, 'health: the agent is connected', st);
	const trig0 = await api('/api/v1/triggers');
	const none = await until(() => page.$('#triggers-none'));
	ok(trig0.status === 200 && trig0.body.triggers.length === 0 && none && !(await page.$('#triggers tbody tr')),
		'health: the hub has no triggers: "no triggers" shown', trig0);
	await shot('health');
	// A trigger defined through the hub (POST /api/v1/triggers, run on the agent): health lists
	// it with its query, its action and the agent's counters as the hub's GET gives them.
	const tpost = await fetch(`${UI}/api/v1/triggers`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ name: 'errors-5xx', query: 'http and response.status >= 500', actions: [{ counter: true }] }) });
	ok(tpost.status === 201, 'POST /api/v1/triggers: 201', tpost.status);
	// TLS blind spots from a fixture: the agent's real stats with a tls_blind list added (a
	// process floe cannot read is made by test_tls_coverage.sh, which checks the hub's routes).
	const blind = [
		{ pod: env.POD_A, namespace: 'front', pid: 4242, process: 'curl', library: 'libgnutls.so.30', reason: 'no uprobe support for this library' },
		{ pod: env.POD_B, namespace: 'back', pid: 77, process: 'server', library: 'static (stripped Go)', reason: 'no symbols' },
	];
	await page.setRequestInterception(true);
	const fixtures = async (req) => {
		const path = new URL(req.url()).pathname;
		if (path === '/api/v1/stats') {
			const real = (await api('/api/v1/stats')).body;
			real.agents[0].stats = { ...real.agents[0].stats, tls_blind: blind };
			return req.respond({ status: 200, contentType: 'application/json', body: JSON.stringify(real) });
		}
		return req.continue();
	};
	page.on('request', fixtures);
	await page.goto(`${UI}/?view=health`, { waitUntil: 'load' });
	const shownBlind = await until(() => page.$$eval('#tls-blind tbody tr', (t) => t.map((r) => Object.fromEntries([...r.querySelectorAll('td[data-col]')].map((c) => [c.dataset.col, c.textContent])))).then((r) => r.length && r));
	ok(shownBlind && shownBlind.length === blind.length && blind.every((b, i) => Object.entries(b).every(([k, v]) => shownBlind[i][k] === String(v))),
		'health: the TLS blind spots, one row per process with pod, namespace, pid, process, library and reason', shownBlind);
	const shownTrig = await until(() => page.$$eval('#triggers tbody tr', (t) => t.map((r) => ({ name: r.dataset.trigger, c: Object.fromEntries([...r.querySelectorAll('td[data-counter]')].map((c) => [c.dataset.counter, Number(c.textContent)])), text: r.textContent }))).then((r) => r.length && r));
	const trig = (await api('/api/v1/triggers')).body.triggers;
	const tAgent = trig.length === 1 && Object.values(trig[0].agents || {})[0];
	const shownC = shownTrig && shownTrig[0] && shownTrig[0].c;
	ok(shownTrig && shownTrig.length === 1 && shownTrig[0].name === 'errors-5xx' && tAgent &&
		Object.keys(shownC).length > 0 && Object.entries(shownC).every(([k, v]) => tAgent[k] === v) &&
		shownTrig[0].text.includes('counter') && shownTrig[0].text.includes('response.status >= 500'),
		'health: the hub\'s trigger with its query, action and the agent\'s counters (as GET /api/v1/triggers)', { shownTrig, trig });
	const del = await fetch(`${UI}/api/v1/triggers/errors-5xx`, { method: 'DELETE' });
	ok(del.status === 200, 'DELETE /api/v1/triggers/errors-5xx: 200', del.status);
	await shot('health-fixtures');
	page.off('request', fixtures);
	await page.setRequestInterception(false);

	// 8a. Without the worker (worker.js answered 404: a proxy or an old install without it):
	// the page parses the stream itself, says so, and still shows every entry of the hub.
	const noWorker = (req) => (new URL(req.url()).pathname === '/worker.js' ? req.respond({ status: 404, contentType: 'text/javascript', body: '' }) : req.continue());
	await page.setRequestInterception(true);
	page.on('request', noWorker);
	phase = '[without worker.js] ';
	await page.goto(`${UI}/`, { waitUntil: 'load' });
	const nwAll = new Set((await api('/api/v1/entries', { limit: 10000 })).body.entries.map((e) => e.id)), nw = nwAll.size;
	const nwShown = await until(async () => (await count()) === nw && (await page.$eval('#counts', (e) => e.dataset.parser)) === 'page', 15000);
	const nwIds = nwShown ? await listIds() : [];
	ok(nwShown && nwIds.length === nw && new Set(nwIds).size === nw && nwIds.every((x) => nwAll.has(x)), `without worker.js the page parses the stream itself: the hub's ${nw} entries, all listed`,
		{ page: await count(), hub: nw, parser: await page.$eval('#counts', (e) => e.dataset.parser), listed: nwIds.length });
	const nwWs = await page.evaluate(() => window.__ws.sockets);
	ok(nwWs.page >= 1 && nwWs.worker === 0, `without worker.js the page reads the socket itself (${nwWs.page} in the page, ${nwWs.worker} in a worker)`, nwWs);
	page.off('request', noWorker);
	await page.setRequestInterception(false);
	phase = '';

	// 8b. --token: a second hub over the same agent wants one. The page asks for it, a wrong
	// one is asked for again, the right one opens the stream (the WebSocket's subprotocol) and
	// the page counts that hub's entries; it is kept for the tab (sessionStorage) only.
	await page.goto(`${env.TOKEN_UI}/`, { waitUntil: 'load' });
	ok(await until(() => page.$('#token-form')), 'with --token: the page asks for the token');
	await page.type('#token', 'not-the-token');
	await page.keyboard.press('Enter');
	ok(await until(() => page.$eval('#token-form', (f) => f.textContent.includes('refused'))), 'a wrong token is refused and asked for again');
	await clear('#token');
	await page.type('#token', env.TOKEN);
	await page.keyboard.press('Enter');
	const tokN = (await api('/api/v1/entries', { limit: 10000 }, env.TOKEN_UI, env.TOKEN)).body.entries.length;
	const tokLive = await until(async () => (await page.$eval('#counts', (e) => e.textContent.includes('live'))) && (await count()) === tokN && !(await page.$('#token-form')), 20000);
	ok(tokLive && tokN > 0, `the right one: the stream is live with the hub's ${tokN} entries`, { page: await count().catch(() => -1), hub: tokN });
	ok(await page.evaluate(() => sessionStorage.getItem('floe.token')) === env.TOKEN && !(await page.evaluate(() => localStorage.getItem('floe.token'))), 'kept in sessionStorage, not localStorage');
	await shot('token');
	await page.goto(`${env.TOKEN_UI}/?view=health`, { waitUntil: 'load' });
	ok(await until(() => page.$$eval('#agents tbody tr', (t) => t.length)) && !(await page.$('#token-form')), 'a reload of the tab needs no new prompt (health answers)');

	// 8c. The hub restarts under an open page: the page says it is reconnecting, comes back by
	// itself (no reload: a mark set in the page before is still there), keeps its rows, shows
	// the entries of the gap (test_ui.sh: a Redis PING made while the hub was down, the agent
	// kept it; and a slow request started before the page got entries that came before the
	// stop, which completed while the hub was down: its timestamp is older than theirs, so the
	// stream resumes a window back, rows.js: resumeSince) and says so, shows none twice, and a
	// new entry appears live.
	if (env.RESTART_UI) {
		await page.goto(`${env.RESTART_UI}/`, { waitUntil: 'load' });
		const counts = () => page.$eval('#counts', (e) => ({ text: e.textContent, reconnecting: Number(e.dataset.reconnecting), reconnects: Number(e.dataset.reconnects) }));
		ok(await until(async () => (await counts()).text.includes('live')), 'a third hub: the stream is live');
		const was = await count();
		await page.evaluate(() => { window.__notReloaded = true; });
		// A 4 s request, then 0.5 s later a 10 s one (across the stop), 2.5 s later a PING; the
		// page gets the PING and the 4 s request (the longest it has seen: its window, 5 s), the
		// hub stops, the 10 s request completes.
		const bg = (delay, done) => spawn('bash', [env.SLOW, String(delay), done], { stdio: 'ignore' });
		const slowAt = Date.now();
		bg(4, `${env.SLOW_DONE}-4`);
		await sleep(500);
		bg(10, env.SLOW_DONE);
		await sleep(2500);
		execFileSync('bash', [env.PING], { stdio: 'ignore', timeout: 20000 });
		const before = await until(async () => (await count()) === was + 2, 10000);
		ok(before && !existsSync(env.SLOW_DONE), `before the stop the page got the PING and the 4 s request, the 10 s one still running (${Date.now() - slowAt} ms)`, { count: await count(), was });
		phase = '[hub restart] ';
		writeFileSync(env.RESTART, '');
		const down = await until(async () => { const c = await counts(); return c.reconnecting >= 1 && c; }, 20000);
		ok(down && /reconnecting \(attempt \d+\)/.test(down.text), `the hub stopped: "${down?.text}"`, down);
		ok(await until(async () => existsSync(env.RESTARTED), 40000, 200), 'the test restarted the hub');
		const back = await until(async () => { const c = await counts(); return c.reconnects >= 1 && !c.reconnecting && c; }, 30000);
		ok(back && /live/.test(back.text) && /reconnected after [\d.]+ s: 2 entries from the gap shown/.test(back.text) &&
			await until(async () => (await count()) === was + 4 && (await rows())[0].proto === 'redis') &&
			await page.evaluate(() => window.__notReloaded === true),
		`the hub is back: the page reconnected by itself, no reload, its ${was + 2} rows kept and the gap's 2 entries shown: "${back?.text}"`, { back, count: await count(), was });
		// The oracle: the hub's entries. The 10 s request is older than the PING before the stop
		// (which the old resume point, the newest timestamp, would have skipped it for) and shown.
		const all = (await api('/api/v1/entries', { limit: 10000 }, env.RESTART_UI)).body.entries;
		const slow10 = all.find((e) => /delay=10/.test(JSON.stringify(e.request ?? {})));
		const pingBefore = all.filter((e) => e.protocol === 'redis').map((e) => e.request_time).sort().at(-2);
		const shown = (await rows()).map((r) => r.id);
		ok(slow10 && pingBefore && slow10.request_time < pingBefore && shown.includes(slow10.id) && all.length === was + 4,
			`the slow request that completed while the hub was down, ${slow10?.request_time} before the PING shown before the stop (${pingBefore}), is shown; the page counts the hub's ${all.length}`,
			{ slow10: slow10 && [slow10.id, slow10.request_time], pingBefore, shown: shown.slice(0, 5), hub: all.length, was });
		phase = '';
		execFileSync('bash', [env.PING], { stdio: 'ignore', timeout: 20000 });
		ok(await until(async () => (await count()) === was + 5 && (await rows())[0].proto === 'redis'),
			'after the restart a new entry streams in without a reload', { count: await count(), was });
		const ids = (await rows()).map((r) => r.id);
		ok(ids.length >= 5 && new Set(ids).size === ids.length, `no row twice across the reconnection (${ids.length} rows in view)`, ids);
		await shot('reconnected');
	}

	// 9. Keyboard and dark mode.
	await page.keyboard.press('t');
	await until(() => page.$('#kfl'));
	await page.keyboard.press('/');
	ok(await page.evaluate(() => document.activeElement?.id === 'kfl'), 'keyboard: t opens traffic, / focuses the query');
	await page.keyboard.press('Escape');
	// The list (drawn apart from the view, traffic.jsx's ListView) by keyboard: ↓ selects the
	// first row, ↓ the second, ↑ the first again, each in the URL, the details and the row's
	// own selected state; Esc lets go. The rows in document order are the list's order.
	await until(async () => (await rows()).length >= 2);
	await page.focus('.list');
	const order = (await rows()).map((r) => r.id);
	const selState = () => page.evaluate(() => ({
		url: new URL(location.href).searchParams.get('id') || '',
		details: document.querySelector('#details')?.dataset.id || '',
		rows: [...document.querySelectorAll('.row[data-id][aria-selected=true]')].map((r) => r.classList.contains('sel') && r.dataset.id),
	}));
	const selectedIs = (id) => until(async () => { const s = await selState(); return s.url === id && s.details === id && s.rows.length === 1 && s.rows[0] === id && s; }, 5000);
	const keySteps = [];
	for (const [key, want] of [['ArrowDown', order[0]], ['ArrowDown', order[1]], ['ArrowUp', order[0]]]) {
		await page.keyboard.press(key);
		keySteps.push(Boolean(await selectedIs(want)));
	}
	await page.keyboard.press('Escape');
	const cleared = await until(async () => { const s = await selState(); return !s.url && !s.details && !s.rows.length; }, 5000);
	ok(keySteps.every(Boolean) && cleared, 'keyboard in the list: ↓ ↓ ↑ select rows 1, 2, 1 (URL, details, the row marked), Esc clears', { keySteps, now: await selState() });
	const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
	const b1 = await bg();
	await page.click('#theme');
	const b2 = await bg();
	ok(b1 !== b2, `dark/light toggle changes the page (${b1} → ${b2})`);
	await shot('traffic-theme2');
	await page.click('#theme');
} catch (e) {
	ok(false, `the browser run ended early: ${e.message}`);
} finally {
	const errs = consoleErrors.filter((t) => !expected(t));
	ok(errs.length === 0, 'no console errors on any page', errs);
	if (consoleErrors.length !== errs.length) diag(`expected browser lines: ${consoleErrors.filter(expected).slice(0, 4).join(' | ')}`);
	await browser.close();
}
process.exit(0);
