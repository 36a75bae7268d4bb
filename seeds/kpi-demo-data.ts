/**
 * The demo KPI data of the kpi-tracking example (tables of schema `kpi_demo`, created by the migration
 * SqlToolKpiDemo): four regions, five KPIs, five quarters (2025-Q4 to 2026-Q4) of values with their targets,
 * annual targets and revenue by region. Values are computed, not random, so every install (and every test)
 * sees the same numbers; some KPIs miss their target in some quarters so an analysis has something to flag.
 */
import type { KpiDemoRows } from '#persistence';

const REGIONS = [
  { code: 'EMEA', name: 'Europe, Middle East and Africa' },
  { code: 'NA', name: 'North America' },
  { code: 'APAC', name: 'Asia Pacific' },
  { code: 'LATAM', name: 'Latin America' },
];

const KPIS = [
  { metric: 'revenue', name: 'Revenue', unit: 'kUSD', higherIsBetter: true, base: 1200, growth: 0.04, target: 1.05 },
  { metric: 'gross_margin', name: 'Gross margin', unit: '%', higherIsBetter: true, base: 41, growth: 0.005, target: 1.02 },
  { metric: 'new_customers', name: 'New customers', unit: 'count', higherIsBetter: true, base: 180, growth: 0.03, target: 1.04 },
  { metric: 'churn_rate', name: 'Customer churn', unit: '%', higherIsBetter: false, base: 3.2, growth: -0.02, target: 0.95 },
  { metric: 'nps', name: 'Net promoter score', unit: 'points', higherIsBetter: true, base: 38, growth: 0.01, target: 1.03 },
];

export const KPI_DEMO_QUARTERS = ['2025-Q4', '2026-Q1', '2026-Q2', '2026-Q3', '2026-Q4'];

/** Region size and a per-region, per-quarter wobble (deterministic) so regions and quarters differ. */
const REGION_SCALE: Record<string, number> = { EMEA: 1, NA: 1.35, APAC: 0.8, LATAM: 0.45 };
const wobble = (region: number, quarter: number, kpi: number) => Math.sin(region * 1.7 + quarter * 2.3 + kpi * 0.9) * 0.06;
const round2 = (n: number) => Math.round(n * 100) / 100;

export function kpiDemoRows(): KpiDemoRows {
  const metrics: KpiDemoRows['metrics'] = [];
  const revenue: KpiDemoRows['revenue'] = [];
  REGIONS.forEach((region, r) => {
    KPI_DEMO_QUARTERS.forEach((quarter, q) => {
      KPIS.forEach((kpi, k) => {
        const scale = kpi.unit === '%' || kpi.unit === 'points' ? 1 : REGION_SCALE[region.code];
        const planned = kpi.base * scale * Math.pow(1 + kpi.growth, q);
        const value = round2(planned * (1 + wobble(r, q, k)));
        metrics.push({ quarter, region: region.code, metric: kpi.metric, value, target: round2(planned * kpi.target) });
      });
      const income = metrics.find((m) => m.quarter === quarter && m.region === region.code && m.metric === 'revenue')!.value;
      const margin = metrics.find((m) => m.quarter === quarter && m.region === region.code && m.metric === 'gross_margin')!.value;
      revenue.push({ quarter, region: region.code, revenue: income, cost: round2(income * (1 - margin / 100)) });
    });
  });
  const targets: KpiDemoRows['targets'] = [];
  for (const year of [2025, 2026])
    for (const region of REGIONS)
      for (const kpi of KPIS) {
        const quarterly = metrics.filter((m) => m.region === region.code && m.metric === kpi.metric && m.quarter.startsWith(String(year)));
        const sum = quarterly.reduce((acc, m) => acc + m.target, 0);
        const additive = kpi.unit === 'kUSD' || kpi.unit === 'count';
        targets.push({ year, region: region.code, metric: kpi.metric, target: round2(additive ? sum : sum / quarterly.length) });
      }
  return {
    regions: REGIONS,
    kpis: KPIS.map(({ metric, name, unit, higherIsBetter }) => ({ metric, name, unit, higherIsBetter })),
    metrics,
    targets,
    revenue,
  };
}
