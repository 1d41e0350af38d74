// The traffic view: the live stream (history, then live), newest first or following the
// tail, paused or not; a virtualized list (only the visible rows are in the DOM), bounded
// to MAX_ROWS entries so memory stays bounded at any rate.
//
// Memory: an entry is kept only as its row (rows.js: a dozen short strings, cut at 200
// characters, packed into one string), not as the entry the stream sent (headers, bodies:
// kilobytes each); the details view fetches the entry in full. The stream's text is parsed
// and made rows in a Web Worker (api.js's parser()): the main thread only stores rows and
// unpacks and draws the ones in view. The rows are a ring of MAX_ROWS (the oldest leave in
// O(1), no array shifting), and so are the rows waiting while paused: at most 2 x MAX_ROWS.
//
// The rows all have one height, so the rows in view follow from the scroll offset alone
// (rowWindow): no per-row measurements. A general virtualizer (@tanstack/virtual-core, used
// before) rebuilds its table of every row's offset whenever the count changes: 100,000
// objects ten times a second at 5,000 entries/s, whose garbage collection stalled frames.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { openStream, parser } from './api.js';
import { isRow, rowId, unpack } from './rows.js';
import { KflBox } from './kflbox.jsx';
import { Details } from './details.jsx';

export const MAX_ROWS = 100000;
const ROW = 26;
const UPDATE_MS = 100;
const RANGES = { '5m': 300, '15m': 900, '1h': 3600, '24h': 86400, all: 0 };
const OVERSCAN = 10;

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

// Rows as they arrive, outside Preact's state: a render per UPDATE_MS at most. evicted:
// rows that left (the oldest, past MAX_ROWS; or waiting while paused, past MAX_ROWS).
class Store {
	constructor() {
		this.rows = new Ring(MAX_ROWS);
		this.pending = new Ring(MAX_ROWS);
		this.evicted = 0;
	}
	reset() {
		this.rows.clear();
		this.pending.clear();
		this.evicted = 0;
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
}

const indexes = (a, b) => Array.from({ length: b - a }, (_, k) => a + k);

function Row({ r, style, sel, onClick }) {
	return (
		<div class={"row" + (sel ? " sel" : "")} style={style} role="row" data-id={r.id} data-proto={r.protocol} data-version={r.version} data-status={r.status} aria-selected={sel} onClick={onClick}>
			<span class="muted">{r.time}</span>
			<span class="proto">{r.protocol}</span>
			<span title={r.what}><b>{r.method}</b> {r.what}</span>
			<span class={r.bad ? 'err' : 'ok'}>{r.status}</span>
			<span title={r.ends}>{r.ends}</span>
			<span>{r.elapsed}</span>
			<span class="muted">{r.sizes}</span>
		</div>
	);
}

export function Traffic({ q, id, range, setQuery, setId, setRange }) {
	const store = useRef(new Store()).current;
	const [version, setVersion] = useState(0);
	const [paused, setPaused] = useState(false);
	const [newestFirst, setNewestFirst] = useState(true);
	const [status, setStatus] = useState({ live: false, lost: 0, error: '', agents: [] });
	const list = useRef();
	const [view, setView] = useState({ top: 0, height: 800 });
	const pausedRef = useRef(paused);
	pausedRef.current = paused;

	// (Re)open the stream when the query or the range changes.
	useEffect(() => {
		store.reset();
		setVersion((v) => v + 1);
		setStatus({ live: false, lost: 0, error: '', agents: [] });
		const secs = RANGES[range];
		const since = secs ? String(BigInt(Date.now() - secs * 1000) * 1000000n) : '0';
		// At most one render per UPDATE_MS: at thousands of entries a second a render per
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
			if (pausedRef.current || store.flush()) setVersion((v) => v + 1);
		};
		const close = openStream({ q, since }, {
			// A batch of rows (one WebSocket message, parsed and made rows by the worker):
			// stored as they come, drawn at the next tick, all that came since the last one in
			// one render. While paused they wait, bounded too (the oldest go first).
			onRows: (rows) => {
				store.add(rows);
				if (!raf) raf = requestAnimationFrame(tick);
			},
			onLive: () => setStatus((s) => ({ ...s, live: true })),
			onLost: (n, total) => setStatus((s) => ({ ...s, lost: total })),
			onAgent: (m) => setStatus((s) => ({ ...s, agents: [...s.agents.slice(-4), `${m.agent}: ${m.error}`] })),
			onClose: (reason) => setStatus((s) => ({ ...s, live: false, error: reason })),
		});
		return () => {
			close();
			if (raf) cancelAnimationFrame(raf);
		};
	}, [q, range]);

	useEffect(() => {
		if (!paused && store.flush()) setVersion((v) => v + 1);
	}, [paused]);

	const count = store.rows.length;
	// The packed row at a position of the list (rows.js: one string a row).
	const at = (i) => store.rows.at(newestFirst ? count - 1 - i : i);

	// The list's height: measured, and again when the window (so the list) changes size.
	useLayoutEffect(() => {
		const el = list.current;
		const measure = () => setView((w) => (w.height === el.clientHeight ? w : { ...w, height: el.clientHeight }));
		measure();
		const ro = new ResizeObserver(measure);
		ro.observe(el);
		return () => ro.disconnect();
	}, []);
	const scrollToIndex = (i) => {
		const el = list.current;
		const top = i * ROW, bottom = top + ROW - (el.clientHeight - ROW); // the header row is sticky
		if (el.scrollTop > top) el.scrollTop = top;
		else if (el.scrollTop < bottom) el.scrollTop = bottom;
	};
	useLayoutEffect(() => {
		// Following: newest first keeps the top in view; oldest first follows the tail.
		if (!paused && !newestFirst && follow.current && count) list.current.scrollTop = count * ROW;
	});
	const follow = useRef(true);

	const selAt = id ? store.rows.findIndex((r) => isRow(r, id)) : -1;
	function onListKey(ev) {
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
			<div class="counts" id="counts" data-count={count + store.evicted} data-lost={status.lost} data-parser={parser().mode}>
				<span id="count">{count + store.evicted}</span> matching
				{store.evicted ? ` (${store.evicted} oldest dropped from view)` : ''}
				{' · '}<span class={status.lost ? 'warn' : 'muted'}>lost: <span id="lost">{status.lost}</span></span>
				{' · '}{status.live ? <span class="ok">live</span> : <span class="muted">history</span>}
				{paused ? <span class="warn"> · paused ({store.pending.length} waiting)</span> : ''}
				{status.error && <span class="err" id="stream-error"> · stream: {status.error}</span>}
				{status.agents.map((a) => <span class="warn"> · {a}</span>)}
			</div>
			<div class="split">
				<div class="list" ref={list} tabindex="0" role="grid" aria-label="entries" onKeyDown={onListKey}
					onScroll={(ev) => {
						const el = ev.target;
						follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW * 2;
						setView((w) => (w.top === el.scrollTop ? w : { ...w, top: el.scrollTop }));
					}}>
					<div class="row head" role="row">
						<span>time</span><span>proto</span><span>request</span><span>status</span>
						<span>source → destination</span><span>elapsed</span><span>req/resp</span>
					</div>
					<div style={{ height: `${count * ROW}px`, position: 'relative' }}>
						{/* Keyed by position, not by entry: as entries arrive (newest first) each
						    row element stays where it is and only its text changes, instead of
						    every row element moving and new ones being styled. */}
						{indexes(...rowWindow(view.top, view.height, count)).map((i) => {
							const p = at(i), e = p && unpack(p);
							return e && (
								<Row key={i} r={e} sel={e.id === id} onClick={() => setId(e.id)}
									style={{ transform: `translateY(${i * ROW}px)` }} />
							);
						})}
					</div>
				</div>
				{id && <Details id={id} onClose={() => setId('')} />}
			</div>
		</div>
	);
}
