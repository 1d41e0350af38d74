// The service map: pods and services as nodes (grouped by namespace), an edge per client,
// server and protocol with its request rate, error rate and p50/p99 latency over a window,
// for the entries the same KFL query matches, as the hub aggregates them over every agent's
// history (GET /api/v1/servicemap). Laid out by d3-force.
import { useEffect, useState } from 'preact/hooks';
import { forceCollide, forceLink, forceManyBody, forceSimulation, forceX, forceY } from 'd3-force';
import { serviceMap } from './api.js';
import { KflBox } from './kflbox.jsx';

const WINDOWS = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600 };

// The hub's graph (GET /api/v1/servicemap, aggregated over every agent's history there) in the
// shape the drawing uses: nodes with a namespace, edges with their ends' names.
function fromHub(m) {
	const nodes = m.nodes.map((n) => ({ id: n.id, name: n.name, ns: n.namespace, kind: n.kind }));
	const byId = new Map(nodes.map((n) => [n.id, n]));
	const edges = m.edges.map((e) => ({
		id: `${e.source}|${e.target}|${e.protocol}`, source: e.source, target: e.target, protocol: e.protocol,
		n: e.requests, errors: e.errors, rate: e.rate, errorRate: e.error_rate, p50: e.p50_ms, p99: e.p99_ms,
		srcName: byId.get(e.source)?.name, dstName: byId.get(e.target)?.name,
	}));
	return { nodes, edges, entries: m.entries, dropped: m.dropped };
}

function layout(g, w, h) {
	const spaces = [...new Set(g.nodes.map((n) => n.ns))];
	const cx = (ns) => ((spaces.indexOf(ns) + 1) * w) / (spaces.length + 1);
	const sim = forceSimulation(g.nodes)
		.force('link', forceLink(g.edges.map((e) => ({ ...e }))).id((n) => n.id).distance(140))
		.force('charge', forceManyBody().strength(-400))
		.force('x', forceX((n) => cx(n.ns)).strength(0.3))
		.force('y', forceY(h / 2).strength(0.1))
		.force('collide', forceCollide(40))
		.stop();
	for (let i = 0; i < 300; i++) sim.tick();
	return spaces;
}

const fmtRate = (r) => (r >= 10 ? r.toFixed(0) : r.toPrecision(2));
const f1 = (x) => (x === null || x === undefined ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(0));

export function ServiceMap({ q, setQuery, openEdge }) {
	const [win, setWin] = useState('15m');
	const [g, setG] = useState(null);
	const [err, setErr] = useState('');
	const [tick, setTick] = useState(0);
	useEffect(() => {
		let gone = false;
		const until = BigInt(Date.now()) * 1000000n;
		const since = until - BigInt(WINDOWS[win]) * 1000000000n;
		serviceMap(q, String(since), String(until)).then((m) => {
			if (gone) return;
			const agg = fromHub(m);
			agg.spaces = layout(agg, 900, 520);
			setG(agg);
			setErr('');
		}, (x) => !gone && setErr(x.message));
		const t = setTimeout(() => setTick(tick + 1), 5000); // refresh
		return () => { gone = true; clearTimeout(t); };
	}, [q, win, tick]);
	const pos = new Map((g?.nodes || []).map((n) => [n.id, n]));
	return (
		<div class="traffic">
			<div class="querybar">
				<KflBox value={q} onApply={setQuery} />
				<select aria-label="window" value={win} onChange={(e) => setWin(e.target.value)}>
					{Object.keys(WINDOWS).map((w) => <option value={w}>last {w}</option>)}
				</select>
			</div>
			{err && <p class="err">{err}</p>}
			{g && <p class="muted" id="map-counts" data-entries={g.entries}>{g.entries} entries in the last {win}{g.dropped ? `; ${g.dropped} beyond the map's node/edge limits, not drawn` : ''}</p>}
			<div class="map" id="map">
				<svg viewBox="0 0 900 520" role="img" aria-label="service map">
					<defs><marker id="arrow" viewBox="0 0 10 10" refX="22" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="currentColor" /></marker></defs>
					{g && g.spaces.map((ns) => {
						const ns_nodes = g.nodes.filter((n) => n.ns === ns);
						const xs = ns_nodes.map((n) => n.x), ys = ns_nodes.map((n) => n.y);
						const x0 = Math.min(...xs) - 50, y0 = Math.min(...ys) - 40;
						return (
							<g class="ns" data-ns={ns}>
								<rect x={x0} y={y0} width={Math.max(...xs) - x0 + 50} height={Math.max(...ys) - y0 + 40} rx="8" />
								<text x={x0 + 6} y={y0 + 14} class="muted">{ns || '(no namespace)'}</text>
							</g>
						);
					})}
					{g && g.edges.map((e) => {
						const a = pos.get(e.source), b = pos.get(e.target);
						// Edges of one pair (one per protocol) are bent apart so each stays readable.
						const pair = g.edges.filter((x) => x.source === e.source && x.target === e.target);
						const off = (pair.indexOf(e) - (pair.length - 1) / 2) * 36;
						const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
						const nx = -dy / len, ny = dx / len, mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;
						return (
							<g class="edge-g" data-protocol={e.protocol} data-src={e.srcName} data-dst={e.dstName} data-rate={e.rate}>
								<path class={'edge' + (e.errors ? ' bad' : '')} d={`M${a.x},${a.y} Q${mx + nx * off * 2},${my + ny * off * 2} ${b.x},${b.y}`}
									marker-end="url(#arrow)" tabindex="0" onClick={() => openEdge(e)} onKeyDown={(k) => k.key === 'Enter' && openEdge(e)}>
									<title>{e.protocol}: {fmtRate(e.rate)}/s, errors {(e.errorRate * 100).toFixed(1)}%, p50 {f1(e.p50)} ms, p99 {f1(e.p99)} ms</title>
								</path>
								<text x={mx + nx * off} y={my + ny * off - 4} text-anchor="middle">{e.protocol} {fmtRate(e.rate)}/s</text>
							</g>
						);
					})}
					{g && g.nodes.map((n) => (
						<g class="node" data-name={n.name} transform={`translate(${n.x},${n.y})`}>
							<circle r="12" />
							<text y="26" text-anchor="middle">{n.name}</text>
						</g>
					))}
				</svg>
				{g && (
					<table class="edges" id="edges">
						<thead><tr><th>client → server</th><th>protocol</th><th>req/s</th><th>errors</th><th>p50 ms</th><th>p99 ms</th></tr></thead>
						<tbody>
							{g.edges.map((e) => (
								<tr data-protocol={e.protocol} onClick={() => openEdge(e)} style="cursor:pointer">
									<td>{e.srcName} → {e.dstName}</td><td>{e.protocol}</td><td class="rate">{fmtRate(e.rate)}</td>
									<td class={e.errors ? 'err' : ''}>{(e.errorRate * 100).toFixed(1)}%</td><td>{f1(e.p50)}</td><td>{f1(e.p99)}</td>
								</tr>
							))}
						</tbody>
					</table>
				)}
			</div>
		</div>
	);
}
