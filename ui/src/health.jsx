// Health: the agents the hub knows, their capture counters and drops, the hub's own figures.
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
	const [err, setErr] = useState('');
	const [tick, setTick] = useState(0);
	useEffect(() => {
		Promise.all([getJSON('api/v1/agents'), getJSON('api/v1/stats')]).then(([a, s]) => {
			setAgents(a.agents);
			setStats(s);
			setErr('');
		}, (x) => setErr(x.message));
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
