import type { StatsPoint } from '../../../../core/api-client.js';
import { shortTime } from './format.js';

const W = 640;
const H = 180;
const PAD = { left: 44, right: 8, top: 10, bottom: 24 };

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function ticks(series: StatsPoint[]): Array<{ x: number; label: string }> {
  const n = series.length;
  if (n === 0) return [];
  const step = Math.max(1, Math.ceil(n / 6));
  const out = [];
  for (let i = 0; i < n; i += step) {
    const p = series[i] as StatsPoint;
    out.push({ x: PAD.left + ((i + 0.5) * (W - PAD.left - PAD.right)) / n, label: shortTime(p.t) });
  }
  return out;
}

/**
 * Succeeded and failed deliveries per bucket, stacked bars. Plain SVG (no inline style:
 * colours come from the stylesheet's classes), with a summary for screen readers.
 */
export function DeliveryChart({ series, title }: { series: StatsPoint[]; title: string }) {
  const max = niceMax(Math.max(0, ...series.map((p) => p.succeeded + p.failed)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const bw = series.length ? plotW / series.length : plotW;
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const ok = series.reduce((s, p) => s + p.succeeded, 0);
  const bad = series.reduce((s, p) => s + p.failed, 0);
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${title}: ${ok} succeeded, ${bad} failed`}
      >
        <title>{title}</title>
        <line class="axis" x1={PAD.left} x2={W - PAD.right} y1={y(0)} y2={y(0)} />
        <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={y(max)} y2={y(max)} />
        <text class="label" x={PAD.left - 6} y={y(max) + 4} text-anchor="end">
          {max}
        </text>
        <text class="label" x={PAD.left - 6} y={y(0) + 4} text-anchor="end">
          0
        </text>
        {series.map((p, i) => {
          const x = PAD.left + i * bw + bw * 0.1;
          const w = Math.max(1, bw * 0.8);
          return (
            <g key={p.t}>
              <rect
                class="bar-ok"
                x={x}
                width={w}
                y={y(p.succeeded)}
                height={y(0) - y(p.succeeded)}
              >
                <title>{`${shortTime(p.t)}: ${p.succeeded} succeeded, ${p.failed} failed`}</title>
              </rect>
              <rect
                class="bar-failed"
                x={x}
                width={w}
                y={y(p.succeeded + p.failed)}
                height={y(p.succeeded) - y(p.succeeded + p.failed)}
              />
            </g>
          );
        })}
        {ticks(series).map((t) => (
          <text key={t.x} class="label" x={t.x} y={H - 6} text-anchor="middle">
            {t.label}
          </text>
        ))}
      </svg>
      <figcaption>
        <span class="key key-ok">succeeded {ok}</span>
        <span class="key key-failed">failed {bad}</span>
      </figcaption>
    </figure>
  );
}

/** Average attempt duration per bucket, a line; gaps where a bucket had no attempt. */
export function LatencyChart({ series, title }: { series: StatsPoint[]; title: string }) {
  const values = series.map((p) => p.avg_ms);
  const max = niceMax(Math.max(0, ...values.map((v) => v ?? 0)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const n = series.length;
  const x = (i: number) => PAD.left + ((i + 0.5) * plotW) / Math.max(1, n);
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || v === undefined) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  const seen = values.filter((v): v is number => typeof v === 'number');
  const avg = seen.length ? Math.round(seen.reduce((a, b) => a + b, 0) / seen.length) : null;
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${title}: ${avg === null ? 'no attempts' : `about ${avg} ms on average`}`}
      >
        <title>{title}</title>
        <line class="axis" x1={PAD.left} x2={W - PAD.right} y1={y(0)} y2={y(0)} />
        <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={y(max)} y2={y(max)} />
        <text class="label" x={PAD.left - 6} y={y(max) + 4} text-anchor="end">
          {`${max} ms`}
        </text>
        <path class="line" d={d} />
        {values.map((v, i) =>
          v === null || v === undefined ? null : (
            <circle key={series[i]?.t} class="dot" cx={x(i)} cy={y(v)} r={2.5}>
              <title>{`${shortTime((series[i] as StatsPoint).t)}: ${Math.round(v)} ms`}</title>
            </circle>
          ),
        )}
        {ticks(series).map((t) => (
          <text key={t.x} class="label" x={t.x} y={H - 6} text-anchor="middle">
            {t.label}
          </text>
        ))}
      </svg>
      <figcaption>
        <span class="key key-line">average duration{avg === null ? '' : `, ${avg} ms`}</span>
      </figcaption>
    </figure>
  );
}
