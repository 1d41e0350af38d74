// Health: the agents the hub knows, their capture counters and drops, TLS blind spots (the
// processes whose TLS floe cannot read, from each agent's stats "tls_blind"), the triggers
// (GET /api/v1/triggers; a hub without that route, 404, shows none) and the hub's own figures.
import { useEffect, useState } from 'preact/hooks';
import { getJSON } from './api.js';

function flatten(o, prefix = '', out = {}) {
	for (const [k, v] of Object.entries(o || {})) {
		if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, `${prefix}${k}.`, out);
		else if (typeof v === 'number') out[prefix + k] = v;
	}
	return out;
}

export function Health() {
	const [agents, setAgents] = useState(null);
	const [stats, setStats] = useState(null);
	const [triggers, setTriggers] = useState(null);
	const [err, setErr] = useState('');
	const [tick, setTick] = useState(0);
	useEffect(() => {
		Promise.all([getJSON('api/v1/agents'), getJSON('api/v1/stats')]).then(([a, s]) => {
			setAgents(a.agents);
			setStats(s);
			setErr('');
		}, (x) => setErr(x.message));
		getJSON('api/v1/triggers').then((t) => setTriggers(t.triggers || []),
			(x) => x.status === 404 ? setTriggers(null) : setErr(`triggers: ${x.message}`));
		const t = setTimeout(() => setTick(tick + 1), 3000);
		return () => clearTimeout(t);
	}, [tick]);
	return (
		<div class="health" id="health">
			{err && <p class="err">{err}</p>}
			<h2>Agents</h2>
			<table id="agents">
				<thead><tr><th>name</th><th>node</th><th>address</th><th>version</th><th>state</th></tr></thead>
				<tbody>
					{(agents || []).map((a) => (
						<tr data-agent={a.name}><td>{a.name}</td><td>{a.node}</td><td>{a.address}</td><td>{a.version}</td>
							<td class={a.connected ? 'ok' : 'err'}>{a.connected ? 'connected' : `down: ${a.error || ''}`}</td></tr>
					))}
				</tbody>
			</table>
			<Triggers triggers={triggers} />
			<TlsBlind agents={stats?.agents} />
			{stats && (
				<>
					<h2>Hub</h2>
					<table><tbody>{Object.entries(stats.hub).map(([k, v]) => <tr><td>{k}</td><td>{v}</td></tr>)}</tbody></table>
					{stats.agents.map((a) => {
						const f = flatten(a.stats);
						const drops = Object.entries(f).filter(([k]) => /drop|lost|gap|evict|miss/.test(k));
						return (
							<div data-agent-stats={a.name}>
								<h2>{a.name} {a.error && <span class="err">{a.error}</span>}</h2>
								<h3>drops and losses</h3>
								<table><tbody>{drops.map(([k, v]) => <tr><td>{k}</td><td class={v ? 'warn' : ''}>{v}</td></tr>)}</tbody></table>
								<details><summary>all counters ({Object.keys(f).length})</summary>
									<table><tbody>{Object.entries(f).map(([k, v]) => <tr><td>{k}</td><td>{v}</td></tr>)}</tbody></table>
								</details>
							</div>
						);
					})}
				</>
			)}
		</div>
	);
}

const TRIGGER_COUNTERS = ['matched', 'sent', 'retried', 'failed', 'rate_limited', 'deduplicated'];

// Triggers and what each agent did with them; nothing when the hub has no triggers route.
function Triggers({ triggers }) {
	if (!triggers) return null;
	return (
		<>
			<h2>Triggers</h2>
			{!triggers.length ? <p class="muted" id="triggers-none">no triggers</p> : (
				<table id="triggers">
					<thead><tr><th>name</th><th>query</th><th>actions</th><th>source</th><th>agent</th>{TRIGGER_COUNTERS.map((k) => <th>{k.replace('_', ' ')}</th>)}</tr></thead>
					<tbody>
						{triggers.flatMap((t) => {
							const per = Object.entries(t.agents || {});
							const rows = per.length ? per : [['', {}]];
							return rows.map(([agent, c], i) => (
								<tr data-trigger={t.name} data-agent={agent}>
									{i === 0 ? <><td rowspan={rows.length}>{t.name}</td><td rowspan={rows.length}><code>{t.query}</code></td>
										<td rowspan={rows.length}>{(t.actions || []).map((a) => (typeof a === 'string' ? a : a.type || a.kind || JSON.stringify(a))).join(', ')}</td>
										<td rowspan={rows.length}>{t.source}</td></> : null}
									<td>{agent}</td>
									{TRIGGER_COUNTERS.map((k) => <td data-counter={k} class={(k === 'failed' || k === 'rate_limited') && c[k] ? 'warn' : ''}>{c[k] ?? ''}</td>)}
								</tr>
							));
						})}
					</tbody>
				</table>
			)}
		</>
	);
}

const BLIND_COLUMNS = ['namespace', 'pod', 'pid', 'process', 'library', 'reason'];

// Processes doing TLS that floe cannot see into, per agent (its stats' "tls_blind", when the
// agent reports it).
function TlsBlind({ agents }) {
	const withBlind = (agents || []).filter((a) => Array.isArray(a.stats?.tls_blind));
	if (!withBlind.length) return null;
	return (
		<>
			<h2>TLS blind spots</h2>
			<table id="tls-blind">
				<thead><tr><th>agent</th>{BLIND_COLUMNS.map((k) => <th>{k}</th>)}</tr></thead>
				<tbody>
					{withBlind.flatMap((a) => (a.stats.tls_blind.length ? a.stats.tls_blind.map((b) => (
						<tr data-agent={a.name} data-pid={b.pid}><td>{a.name}</td>{BLIND_COLUMNS.map((k) => <td data-col={k} class={k === 'reason' ? 'warn' : ''}>{b[k] ?? ''}</td>)}</tr>
					)) : [<tr data-agent={a.name}><td>{a.name}</td><td colspan={BLIND_COLUMNS.length} class="ok">none: every TLS process is read</td></tr>]))}
				</tbody>
			</table>
		</>
	);
}
