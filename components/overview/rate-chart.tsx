'use client';
import { Area, AreaChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { RateRow } from '@/lib/series';
import { shortTime } from '../ui/format';

export const SERIES_COLORS = ['#5b9cff', '#f5a524', '#3ecf8e', '#ef5da8', '#a78bfa', '#22d3ee', '#f87171', '#94a3b8'];

/**
 * A stacked area chart of per-second rates. Plain rows in, nothing computed
 * here; `data-keys` lists the series drawn (tests and the latency probe read it).
 */
export function RateChart({ rows, keys, height, testId, updatedAt }: { rows: RateRow[]; keys: string[]; height?: number; testId?: string; updatedAt?: number }) {
  return (
    <div className={`chart${height ? '' : ' chart-fill'}`} data-testid={testId} data-keys={keys.join(',')} data-updated-at={updatedAt ?? 0} data-points={rows.length}>
      <ResponsiveContainer width="100%" height={height ?? '100%'}>
        <AreaChart data={rows} margin={{ top: 8, right: 12, bottom: 0, left: -12 }}>
          <CartesianGrid stroke="var(--grid)" strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="t" type="number" domain={['dataMin', 'dataMax']} tickFormatter={shortTime} stroke="var(--muted)" fontSize={11} minTickGap={40} />
          <YAxis stroke="var(--muted)" fontSize={11} allowDecimals={false} width={48} />
          <Tooltip
            contentStyle={{ background: 'var(--panel-2)', border: '1px solid var(--border)', fontSize: 12 }}
            labelFormatter={(t) => shortTime(Number(t))}
            formatter={(v, name) => [`${Number(v)} /s`, String(name)]}
          />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          {keys.map((k, i) => (
            <Area
              key={k}
              dataKey={k}
              name={k}
              stackId="1"
              type="monotone"
              stroke={SERIES_COLORS[i % SERIES_COLORS.length]}
              fill={SERIES_COLORS[i % SERIES_COLORS.length]}
              fillOpacity={0.25}
              isAnimationActive={false}
              dot={false}
            />
          ))}
        </AreaChart>
      </ResponsiveContainer>
    </div>
  );
}
