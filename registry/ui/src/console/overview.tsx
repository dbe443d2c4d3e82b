import { useState } from 'preact/hooks';
import { DeliveryChart } from '../shared/chart.js';
import { Empty, Show } from '../shared/components.js';
import { useSession } from '../shared/context.js';
import { percent } from '../shared/format.js';
import { useAsync, useInterval } from '../shared/hooks.js';

const RANGES = {
  hour: { label: 'Last hour', ms: 3600_000, bucket: '1m', per: 'per minute' },
  day: { label: 'Last day', ms: 86_400_000, bucket: '1h', per: 'per hour' },
} as const;
type Range = keyof typeof RANGES;

/** Deliveries over time (aggregated by the store, through /v1/stats), backlog, failing endpoints. */
export function Overview() {
  const { api } = useSession();
  const [range, setRange] = useState<Range>('hour');
  const r = RANGES[range];
  const stats = useAsync(() => {
    const to = new Date();
    return api.stats({
      from: new Date(to.getTime() - r.ms).toISOString(),
      to: to.toISOString(),
      bucket: r.bucket,
    });
  }, [range]);
  useInterval(stats.reload, 15_000, true);
  return (
    <>
      <h1>Overview</h1>
      <Show state={stats} what="Loading statistics">
        {(s) => {
          const total = s.totals.succeeded + s.totals.failed;
          return (
            <>
              <div class="cards">
                <div class="card">
                  <span>Succeeded</span>
                  <b data-testid="succeeded">{s.totals.succeeded}</b>
                </div>
                <div class="card">
                  <span>Failed attempts</span>
                  <b data-testid="failed">{s.totals.failed}</b>
                </div>
                <div class="card">
                  <span>Success rate</span>
                  <b>{percent(s.totals.succeeded, total)}</b>
                </div>
                <div class="card">
                  <span>Backlog (pending)</span>
                  <b data-testid="backlog">{s.backlog.pending}</b>
                </div>
                {s.backlog.parked === null ? null : (
                  <div class="card">
                    <span>Parked (waiting for a later retry)</span>
                    <b data-testid="parked">{s.backlog.parked}</b>
                  </div>
                )}
                <div class="card">
                  <span>Failed deliveries</span>
                  <b>
                    <a href="/deliveries?status=failed">{s.backlog.failed}</a>
                  </b>
                </div>
              </div>
              <section class="panel" aria-label="Deliveries over time">
                <div class="spread">
                  <h2>Deliveries {r.per}</h2>
                  <div class="tabs">
                    {(Object.keys(RANGES) as Range[]).map((k) => (
                      <button
                        key={k}
                        type="button"
                        aria-pressed={k === range}
                        onClick={() => setRange(k)}
                      >
                        {RANGES[k].label}
                      </button>
                    ))}
                  </div>
                </div>
                <DeliveryChart
                  series={s.series}
                  title={`Deliveries ${r.per}, ${r.label.toLowerCase()}`}
                />
              </section>
              <section class="panel" aria-label="Failing endpoints">
                <h2>Endpoints failing most</h2>
                {s.failing_endpoints.length === 0 ? (
                  <Empty>No endpoint failed in this period.</Empty>
                ) : (
                  <div class="table-wrap">
                    <table>
                      <thead>
                        <tr>
                          <th>Endpoint</th>
                          <th>Failed</th>
                          <th>Succeeded</th>
                          <th class="opt">Last error</th>
                        </tr>
                      </thead>
                      <tbody>
                        {s.failing_endpoints.map((e) => (
                          <tr key={e.endpoint_id}>
                            <td class="wrap">
                              <a href={`/endpoints/${encodeURIComponent(e.endpoint_id)}`}>
                                {e.url}
                              </a>
                            </td>
                            <td>{e.failed}</td>
                            <td>{e.succeeded}</td>
                            <td class="opt">{e.last_error ?? '–'}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </section>
            </>
          );
        }}
      </Show>
    </>
  );
}
