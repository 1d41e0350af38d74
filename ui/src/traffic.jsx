// The traffic view: the live stream (history, then live), newest first or following the
// tail, paused or not; a virtualized list (only the visible rows are in the DOM), bounded
// to MAX_ROWS entries so memory stays bounded at any rate.
//
// Memory: an entry is kept only as its row (rows.js: a dozen short strings, cut at 200
// characters, packed into one string), not as the entry the stream sent (headers, bodies:
// kilobytes each); the details view fetches the entry in full. The stream's text is parsed
// and made rows in a Web Worker, which reads the WebSocket itself (api.js: openStream): the
// main thread only stores ready rows and unpacks and draws the ones in view. The rows are a
// ring of MAX_ROWS (the oldest leave in O(1), no array shifting), and so are the rows waiting
// while paused: at most 2 x MAX_ROWS (and MAX_ROWS more in the worker, not yet taken).
//
// The rows all have one height, so the rows in view follow from the scroll offset alone
// (rowWindow): no per-row measurements. A general virtualizer (@tanstack/virtual-core, used
// before) rebuilds its table of every row's offset whenever the count changes: 100,000
// objects ten times a second at 5,000 entries/s, whose garbage collection stalled frames.
//
// The list is drawn apart from the rest of the view (ListView, below): a batch of entries
// redraws the rows in view and the counts line (Counts), nothing else; the query bar, the KFL
// box and the details render only on what the user does.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { openStream, streamMode } from './api.js';
import { MAX_ROWS } from './stream.js';
import { isRow, rowId, unpack } from './rows.js';
import { KflBox } from './kflbox.jsx';
import { Details } from './details.jsx';

const ROW = 26;
const IDLE = { live: false, lost: 0, error: '', agents: [], reconnecting: 0, reconnects: 0, gapMs: 0, gapRows: null };
const UPDATE_MS = 100;
const RANGES = { '5m': 300, '15m': 900, '1h': 3600, '24h': 86400, all: 0 };
// Rows drawn beyond the view, above and below: they cover a scroll the compositor makes ahead
// of the next draw. Each costs its layout and paint at every draw while entries stream in
// (every row in view is new at 5,000 entries/s), so only a few.
const OVERSCAN = 3;

// The indexes [first, last) of the rows to draw for a scroll offset and a view height.
export function rowWindow(scrollTop, height, count) {
	const first = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
	const last = Math.min(count, Math.ceil((scrollTop + height) / ROW) + OVERSCAN);
	return [first, Math.max(first, last)];
}

// A bounded FIFO: push() past the capacity overwrites the oldest (and says so).
export class Ring {
	constructor(cap) {
		this.cap = cap;
		this.a = new Array(cap);
		this.head = 0;
		this.length = 0;
	}
	// Empty, letting go of what it held (the array itself is kept).
	clear() {
		for (let i = 0; i < this.length; i++) this.a[(this.head + i) % this.cap] = undefined;
		this.head = 0;
		this.length = 0;
	}
	push(x) {
		if (this.length < this.cap) {
			this.a[(this.head + this.length++) % this.cap] = x;
			return 0;
		}
		this.a[this.head] = x;
		this.head = (this.head + 1) % this.cap;
		return 1;
	}
	at(i) {
		return i >= 0 && i < this.length ? this.a[(this.head + i) % this.cap] : undefined;
	}
	findIndex(f) {
		for (let i = 0; i < this.length; i++) if (f(this.a[(this.head + i) % this.cap])) return i;
		return -1;
	}
}

// Rows as they arrive, outside Preact's state. evicted: rows that left (the oldest, past
// MAX_ROWS; or waiting while paused, past MAX_ROWS). status: the counts line's stream state
// (reconnecting: the attempt under way, 0 when none; reconnects: how many times the stream came
// back; gapMs: how long the last drop lasted; gapRows: the rows its history brought, null when
// the stream could not resume where it was and the gap is not shown).
// Who shows them subscribes: changed(rows) tells them, at most once per UPDATE_MS for rows
// (rows: whether the list's rows changed, or only the counts).
class Store {
	constructor() {
		this.rows = new Ring(MAX_ROWS);
		this.pending = new Ring(MAX_ROWS);
		this.evicted = 0;
		this.status = { ...IDLE };
		this.subs = new Set();
	}
	reset() {
		this.rows.clear();
		this.pending.clear();
		this.evicted = 0;
		this.status = { ...IDLE };
		this.changed(true);
	}
	add(rows) {
		for (const r of rows) this.evicted += this.pending.push(r);
	}
	flush() {
		if (!this.pending.length) return false;
		for (let i = 0; i < this.pending.length; i++) this.evicted += this.rows.push(this.pending.at(i));
		this.pending.clear();
		return true;
	}
	setStatus(patch) {
		this.status = { ...this.status, ...patch };
		this.changed(false);
	}
	subscribe(fn) {
		this.subs.add(fn);
		return () => this.subs.delete(fn);
	}
	changed(rows) {
		for (const f of this.subs) f(rows);
	}
}

// A component that draws from the store: rendered again at each change of it, alone.
function useStore(store) {
	const [, bump] = useState(0);
	useEffect(() => store.subscribe(() => bump((v) => v + 1)), [store]);
}

// The counts line: its own component, so that a batch re-renders it and not the view.
function Counts({ store, paused }) {
	useStore(store);
	const count = store.rows.length, s = store.status;
	return (
		<div class="counts" id="counts" data-count={count + store.evicted} data-lost={s.lost} data-parser={streamMode()}
			data-reconnecting={s.reconnecting} data-reconnects={s.reconnects}>
			<span id="count">{count + store.evicted}</span> matching
			{store.evicted ? ` (${store.evicted} oldest dropped from view)` : ''}
			{' · '}<span class={s.lost ? 'warn' : 'muted'}>lost: <span id="lost">{s.lost}</span></span>
			{' · '}{s.live ? <span class="ok">live</span> : <span class="muted">history</span>}
			{paused ? <span class="warn"> · paused ({store.pending.length} waiting)</span> : ''}
			{s.reconnecting ? <span class="warn" id="stream-reconnecting"> · stream: {s.error}; reconnecting (attempt {s.reconnecting})</span> : ''}
			{!s.reconnecting && s.gapMs ? <span class="warn" id="stream-gap"> · reconnected after {(s.gapMs / 1000).toFixed(1)} s: {s.gapRows === null ? 'entries during the gap are not shown' : `${s.gapRows} entries from the gap shown`}</span> : ''}
			{!s.reconnecting && s.error && <span class="err" id="stream-error"> · stream: {s.error}</span>}
			{s.agents.map((a) => <span class="warn"> · {a}</span>)}
		</div>
	);
}

/*
 * The list's rows, drawn straight into the DOM: the list is a rendering island. Preact renders
 * the list's frame once (the scroller, its header, the element the rows go in) and never the
 * rows: a batch of entries (ten a second under load) costs the page this draw() only, not a
 * render of the traffic view (the query bar, the KFL box, the details) and a diff of its tree.
 *
 * Each row in view is an element kept for its position in the list (as entries arrive newest
 * first, the element for position 3 stays and only its text changes: no element moves, none is
 * styled anew), filled from its packed string, and only the fields that differ from what it
 * shows are written. Elements of positions scrolled out of view are reused for those scrolled
 * in; the DOM keeps them in the list's order (for assistive technology, and for whoever reads
 * the rows in document order). draw() reads no layout: the scroll offset comes from the scroll
 * events and the height from a ResizeObserver, so setting the list's height does not force a
 * layout in the middle of the frame.
 */
const COLS = 7;
class ListView {
	constructor(el, body, store) {
		Object.assign(this, { el, body, store, top: 0, height: el.clientHeight, count: -1, follow: true });
		Object.assign(this, { newestFirst: true, paused: false, id: '' });
		this.shown = new Map(); // position -> row view { el, cells, i, p, f, sel }
		this.free = [];
	}
	set(opts) {
		Object.assign(this, opts);
		this.draw();
	}
	measure() {
		if (this.el.clientHeight === this.height) return;
		this.height = this.el.clientHeight;
		this.draw();
	}
	scrolled() {
		const el = this.el;
		this.follow = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW * 2;
		if (el.scrollTop === this.top) return;
		this.top = el.scrollTop;
		this.draw();
	}
	make() {
		const el = document.createElement('div');
		el.setAttribute('role', 'row');
		const cells = [];
		for (let k = 0; k < COLS; k++) cells.push(el.appendChild(document.createElement('span')));
		cells[0].className = 'muted';
		cells[1].className = 'proto';
		cells[6].className = 'muted';
		// The request cell: the method in bold, then the path (two nodes, written apart).
		const b = cells[2].appendChild(document.createElement('b'));
		const what = cells[2].appendChild(document.createTextNode(''));
		return { el, cells, b, what, i: -1, p: null, f: {}, sel: null };
	}
	// One row view showing packed row p (rows.js), selected or not.
	fill(r, p) {
		const sel = this.id !== '' && isRow(p, this.id);
		if (sel !== r.sel) {
			r.sel = sel;
			r.el.className = sel ? 'row sel' : 'row';
			r.el.setAttribute('aria-selected', String(sel));
		}
		if (r.p === p) return;
		r.p = p;
		const e = unpack(p), f = r.f, c = r.cells, d = r.el.dataset;
		const text = (el, k, v) => { if (f[k] !== v) el.textContent = v; };
		if (f.id !== e.id) d.id = e.id;
		if (f.protocol !== e.protocol) d.proto = e.protocol;
		if (f.version !== e.version) d.version = e.version;
		if (f.status !== e.status) d.status = e.status;
		text(c[0], 'time', e.time);
		text(c[1], 'protocol', e.protocol);
		if (f.what !== e.what) {
			c[2].title = e.what;
			r.what.data = ` ${e.what}`;
		}
		text(r.b, 'method', e.method);
		text(c[3], 'status', e.status);
		if (f.bad !== e.bad) c[3].className = e.bad ? 'err' : 'ok';
		if (f.ends !== e.ends) c[4].title = e.ends;
		text(c[4], 'ends', e.ends);
		text(c[5], 'elapsed', e.elapsed);
		text(c[6], 'sizes', e.sizes);
		r.f = e;
	}
	draw() {
		const rows = this.store.rows, count = rows.length;
		if (count !== this.count) {
			this.count = count;
			this.body.style.height = `${count * ROW}px`;
		}
		// Following: newest first keeps the top in view; oldest first follows the tail (the
		// header row is sticky: the list scrolls ROW further than its rows).
		if (!this.paused && !this.newestFirst && this.follow && count) {
			const end = Math.max(0, (count + 1) * ROW - this.height);
			if (this.top !== end) {
				this.el.scrollTop = end;
				this.top = end;
			}
		}
		const [first, last] = rowWindow(this.top, this.height, count);
		for (const [i, r] of this.shown) {
			if (i >= first && i < last) continue;
			this.shown.delete(i);
			r.el.remove();
			this.free.push(r);
		}
		let prev = null;
		for (let i = first; i < last; i++) {
			const p = rows.at(this.newestFirst ? count - 1 - i : i);
			let r = this.shown.get(i);
			if (!r) {
				r = this.free.pop() || this.make();
				this.shown.set(i, r);
			}
			if (r.i !== i) {
				r.i = i;
				r.el.style.transform = `translateY(${i * ROW}px)`;
			}
			this.fill(r, p);
			// In the list's order in the DOM; a row kept in place is not moved.
			if (r.el.previousSibling !== prev || !r.el.parentNode) this.body.insertBefore(r.el, prev ? prev.nextSibling : this.body.firstChild);
			prev = r.el;
		}
	}
}

function List({ store, newestFirst, paused, id, setId }) {
	const list = useRef(), body = useRef(), view = useRef(null);
	useLayoutEffect(() => {
		const v = (view.current = new ListView(list.current, body.current, store));
		// Only a change of the rows redraws it (a status line change is the counts' alone).
		const off = store.subscribe((rows) => rows && v.draw());
		const ro = new ResizeObserver(() => v.measure());
		ro.observe(list.current);
		return () => {
			off();
			ro.disconnect();
		};
	}, [store]);
	// The props (the user's doing, not the stream's): the order, paused, the selection.
	useLayoutEffect(() => view.current.set({ newestFirst, paused, id }), [newestFirst, paused, id]);

	const scrollToIndex = (i) => {
		const el = list.current;
		const top = i * ROW, bottom = top + ROW - (el.clientHeight - ROW); // the header row is sticky
		if (el.scrollTop > top) el.scrollTop = top;
		else if (el.scrollTop < bottom) el.scrollTop = bottom;
	};
	function onKey(ev) {
		const rows = store.rows, count = rows.length;
		const at = (i) => rows.at(newestFirst ? count - 1 - i : i);
		// The selection's position, looked for only on a key (not at every batch).
		const selAt = id ? rows.findIndex((r) => isRow(r, id)) : -1;
		const idx = selAt < 0 ? -1 : newestFirst ? count - 1 - selAt : selAt;
		let n = idx;
		if (ev.key === 'ArrowDown' || ev.key === 'j') n = Math.min(count - 1, idx + 1);
		else if (ev.key === 'ArrowUp' || ev.key === 'k') n = Math.max(0, idx - 1);
		else if (ev.key === 'Escape') return setId('');
		else return;
		ev.preventDefault();
		if (n >= 0 && at(n)) {
			setId(rowId(at(n)));
			scrollToIndex(n);
		}
	}
	const onClick = (ev) => {
		const row = ev.target.closest('.row[data-id]');
		if (row) setId(row.dataset.id);
	};
	return (
		<div class="list" ref={list} tabindex="0" role="grid" aria-label="entries" onKeyDown={onKey} onClick={onClick}
			onScroll={() => view.current.scrolled()}>
			<div class="row head" role="row">
				<span>time</span><span>proto</span><span>request</span><span>status</span>
				<span>source → destination</span><span>elapsed</span><span>req/resp</span>
			</div>
			{/* The rows (ListView's): Preact renders this element without children, so it never
			    touches those ListView puts in. */}
			<div class="rows" ref={body} />
		</div>
	);
}

export function Traffic({ q, id, range, setQuery, setId, setRange }) {
	const [store] = useState(() => new Store());
	const [paused, setPaused] = useState(false);
	const [newestFirst, setNewestFirst] = useState(true);
	const pausedRef = useRef(paused);
	pausedRef.current = paused;

	// (Re)open the stream when the query or the range changes.
	useEffect(() => {
		store.reset();
		const secs = RANGES[range];
		const since = secs ? String(BigInt(Date.now() - secs * 1000) * 1000000n) : '0';
		// At most one draw per UPDATE_MS: at thousands of entries a second a draw per
		// animation frame would spend the main thread on layout; ten a second still read live.
		let raf = 0, last = 0;
		const tick = () => {
			raf = 0;
			if (performance.now() - last < UPDATE_MS) {
				raf = requestAnimationFrame(tick);
				return;
			}
			last = performance.now();
			// Paused: only the counts line changes (how many wait).
			if (pausedRef.current) store.changed(false);
			else if (store.flush()) store.changed(true);
		};
		const close = openStream({ q, since }, {
			// A batch of rows (one WebSocket message, parsed and made rows by the worker):
			// stored as they come, drawn at the next tick, all that came since the last one in
			// one draw. While paused they wait, bounded too (the oldest go first).
			onRows: (rows) => {
				store.add(rows);
				if (!raf) raf = requestAnimationFrame(tick);
			},
			// Rows the worker let go before the page took them (past MAX_ROWS): the oldest.
			onDropped: (n) => { store.evicted += n; },
			// The stream starts over: the rows go; a reconnection under way is still told.
			onRestart: () => {
				const { reconnecting, reconnects, error } = store.status;
				store.reset();
				store.setStatus({ reconnecting, reconnects, error });
			},
			onLive: () => store.setStatus({ live: true }),
			onLost: (n, total) => store.setStatus({ lost: total }),
			onAgent: (m) => store.setStatus({ agents: [...store.status.agents.slice(-4), `${m.agent}: ${m.error}`] }),
			onClose: (reason) => store.setStatus({ live: false, error: reason, reconnecting: 0 }),
			// The stream dropped and is opened again by itself: the rows stay, the line says so.
			onReconnecting: (attempt, ms, reason) => store.setStatus({ live: false, error: reason, reconnecting: attempt }),
			onReconnected: (gapMs, gapRows) => store.setStatus({ error: '', reconnecting: 0, reconnects: store.status.reconnects + 1, gapMs, gapRows }),
		});
		return () => {
			close();
			if (raf) cancelAnimationFrame(raf);
		};
	}, [q, range]);

	useEffect(() => {
		if (!paused && store.flush()) store.changed(true);
	}, [paused]);

	return (
		<div class="traffic">
			<div class="querybar">
				<KflBox value={q} onApply={setQuery} />
				<select aria-label="time range" value={range} onChange={(e) => setRange(e.target.value)}>
					{Object.keys(RANGES).map((r) => <option value={r}>{r === 'all' ? 'all history' : `last ${r}`}</option>)}
				</select>
				<button id="pause" aria-pressed={paused} onClick={() => setPaused(!paused)} title="p">
					{paused ? 'Resume' : 'Pause'}
				</button>
				<button id="order" onClick={() => setNewestFirst(!newestFirst)} title="o">
					{newestFirst ? 'Newest first' : 'Follow tail'}
				</button>
			</div>
			<Counts store={store} paused={paused} />
			<div class="split">
				<List store={store} newestFirst={newestFirst} paused={paused} id={id} setId={setId} />
				{id && <Details id={id} onClose={() => setId('')} />}
			</div>
		</div>
	);
}
