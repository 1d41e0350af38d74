// The page's stream without a browser (docs/ui.md, Limits): api.js's openStream with the real
// stream worker (stream.worker.js, run in this process behind a stand-in Worker that delivers
// messages both ways asynchronously) reading a stand-in WebSocket. Oracle: the entries the
// socket sent. Checks: the rows come out in the socket's order, each once, with the other
// messages (live, lost) in place; the worker sends one message and holds the rest until the
// page takes it (then one message with all that came meanwhile); what it holds is bounded
// (stream.js's Outbox: the oldest go past the cap, counted); rows received before the socket
// closed are delivered before the close; a refused handshake with a token asks the hub and
// opens again; when the worker fails, the stream starts over in the page (onRestart) and the
// page reads the socket itself, every entry once. Bundled here with esbuild.
// Prints "ok<TAB>desc" / "fail<TAB>desc" lines.
// Usage: node selftests/ui/stream_check.mjs TMPDIR
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

const require = createRequire(new URL('../../ui/package.json', import.meta.url));
const { build } = require('esbuild');
const tmp = process.argv[2] || '/tmp';
const ok = (c, d, x) => { console.log(`${c ? 'ok' : 'fail'}\t${d}`); if (!c && x !== undefined) console.log(`diag\t${JSON.stringify(x)}`); };
const src = new URL('../../ui/src', import.meta.url).pathname;
const bundle = async (name, contents) => {
	const out = join(tmp, `${name}-${process.pid}.mjs`);
	await build({
		stdin: { contents, resolveDir: src, loader: 'js' }, bundle: true, format: 'esm', platform: 'node', outfile: out,
		logLevel: 'warning', define: { 'import.meta.url': '"http://127.0.0.1/app.js"' },
	});
	return out;
};
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const until = async (f) => { for (let i = 0; i < 200 && !f(); i++) await tick(10); return f(); };

// The sockets made (in the worker or the page), newest last.
const sockets = [];
globalThis.WebSocket = class {
	constructor(url, protocols) {
		Object.assign(this, { url, protocols, closed: false });
		sockets.push(this);
	}
	close() { this.closed = true; }
	open() { this.onopen?.(); }
	send(msgs) { this.onmessage?.({ data: JSON.stringify(msgs) }); }
	end(code) { this.onclose?.({ code, reason: '' }); }
};
globalThis.location = { href: 'http://127.0.0.1/' };
const store = new Map();
globalThis.sessionStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) };
let fetches = 0;
globalThis.fetch = async () => { fetches++; return { status: 200, ok: true }; };

// The worker's side runs here: its `self` is this stand-in, its messages cross asynchronously.
let toPage = [], fromPage = [], failed = false;
globalThis.self = { postMessage: (m) => toPage.push(m) };
const workerMod = await bundle('worker', "import './stream.worker.js'; export { Outbox } from './stream.js';");
const { Outbox } = await import(workerMod);
rmSync(workerMod);
const workerSide = globalThis.self;
globalThis.Worker = class {
	static made = [];
	constructor() {
		Worker.made.push(this);
		this.timer = setInterval(() => {
			if (failed) return;
			const a = fromPage, b = toPage;
			fromPage = [];
			toPage = [];
			for (const m of a) workerSide.onmessage({ data: structuredClone(m) });
			for (const m of b) this.onmessage({ data: structuredClone(m) });
		}, 2);
	}
	postMessage(m) { fromPage.push(m); }
	terminate() { clearInterval(this.timer); }
	fail() {
		failed = true;
		this.onerror({ preventDefault() {} });
	}
};
const apiMod = await bundle('api', "export { openStream, streamMode } from './api.js';");
const { openStream, streamMode } = await import(apiMod);
rmSync(apiMod);

// 1. Through the worker: rows in order, messages coalesced while the page has not taken one.
const entry = (id) => ({ type: 'entry', entry: { id, protocol: 'http', request: { method: 'GET', path: `/${id}` } } });
const got = [];
let restarts = 0, dropped = 0, closedWith = null;
const cb = {
	onRows: (rows) => { for (const r of rows) got.push(r.slice(0, r.indexOf('\x1f'))); },
	onDropped: (n) => { dropped += n; },
	onLive: () => got.push('live'),
	onLost: (n, total) => got.push(`lost ${total}`),
	onAgent: () => {},
	onClose: (reason) => { closedWith = reason; },
	onRestart: () => { restarts++; got.length = 0; },
};
const close = openStream({ q: '', since: '0' }, cb);
await until(() => sockets.length === 1);
const ws = sockets[0];
ok(ws.url.startsWith('ws://127.0.0.1/api/v1/stream?') && ws.url.includes('batch=1000'), 'the worker opened the stream\'s socket', ws.url);
ws.open();
const want = [];
// Page messages seen crossing: count the 'ops' ones.
let opsMessages = 0;
const countOps = workerSide.postMessage;
workerSide.postMessage = (m) => { if (m.type === 'ops') opsMessages++; countOps(m); };
for (let i = 0; i < 20; i++) {
	const batch = [entry(`a${i}-0`), entry(`a${i}-1`)];
	want.push(`a${i}-0`, `a${i}-1`);
	if (i === 9) { batch.push({ type: 'live' }); want.push('live'); }
	if (i === 14) { batch.push({ type: 'lost', lost: 3, total: 3 }); want.push('lost 3'); }
	ws.send(batch); // synchronously, all 20 before the page took the first
}
await until(() => got.length === want.length);
ok(JSON.stringify(got) === JSON.stringify(want), `the page got the ${want.length - 2} rows and the live and lost messages in the socket's order, each once`, { got, want });
ok(opsMessages === 2, `20 socket messages while the page had not taken the first: 2 messages to the page (${opsMessages})`);
ok(streamMode() === 'worker', `the page says the worker reads the stream (${streamMode()})`);

// 2. The worker's outbox is bounded: the oldest go, counted.
const box = new Outbox(5);
box.add([{ rows: ['r1', 'r2', 'r3'] }, { type: 'live' }, { rows: ['r4', 'r5', 'r6'] }]);
box.add([{ rows: ['r7', 'r8'] }]);
const t = box.take();
ok(JSON.stringify(t) === JSON.stringify({ ops: [{ type: 'live' }, { rows: ['r4', 'r5', 'r6', 'r7', 'r8'] }], dropped: 3 }) && box.empty,
	'the outbox keeps the newest rows past its cap and counts the rest', t);

// 3. Rows received before the socket closed come before the close.
got.length = 0;
ws.send([entry('b0')]);
ws.send([entry('b1')]);
ws.end(1006);
await until(() => closedWith);
ok(JSON.stringify(got) === '["b0","b1"]' && closedWith === 'closed (1006)', `rows before the close, then the close (${got.join(' ')}; ${closedWith})`);
close();

// 4. A handshake refused with a token set: the page asks the hub (a fetch) and opens again.
sessionStorage.setItem('floe.token', 'tok');
closedWith = null;
const close2 = openStream({ q: 'x', since: '0' }, cb);
await until(() => sockets.length === 2);
sockets[1].end(1006); // never opened
await until(() => sockets.length === 3);
ok(sockets.length === 3 && fetches === 1 && sockets[2].protocols?.[1]?.startsWith('floe.bearer.') && !closedWith,
	'a refused handshake: the hub is asked and the stream opened again with the token', { sockets: sockets.length, fetches, closedWith });

// 5. The worker fails: the stream starts over in the page, which reads the socket itself.
sockets[2].open();
got.length = 0;
sockets[2].send([entry('c0')]);
await until(() => got.length === 1);
ok(Worker.made.length === 1, 'one worker for the page, whatever the number of streams');
Worker.made[0].fail();
await until(() => sockets.length === 4);
const pageWs = sockets[3];
pageWs.open();
pageWs.send([entry('c0'), entry('c1')]);
await until(() => got.length === 2);
ok(restarts === 1 && streamMode() === 'page' && JSON.stringify(got) === '["c0","c1"]',
	`the worker failed: the stream started over in the page (restarts ${restarts}, mode ${streamMode()}, rows ${got.join(' ')})`, { restarts, mode: streamMode(), got });
ok(dropped === 0, 'nothing dropped on the way');
close2();
ok(pageWs.closed, 'closing the stream closes the page\'s socket');
