import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** Rows of the demo KPI schema `kpi_demo` (not tenant data: the example every organization's tool agents may read). */
export interface KpiDemoRows {
  regions: { code: string; name: string }[];
  kpis: { metric: string; name: string; unit: string; higherIsBetter: boolean }[];
  metrics: { quarter: string; region: string; metric: string; value: number; target: number }[];
  targets: { year: number; region: string; metric: string; target: number }[];
  revenue: { quarter: string; region: string; revenue: number; cost: number }[];
}

@Injectable()
export class KpiDemoRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Inserts the rows that are missing (by primary key) in one transaction; returns how many it inserted. Never updates. */
  async insertMissing(rows: KpiDemoRows): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const insert = async (sql: string, columns: unknown[][]): Promise<number> => {
        const result: unknown[] = await manager.query(sql, columns);
        return result.length;
      };
      const col = <T, K extends keyof T>(items: T[], key: K) => items.map((i) => i[key]);
      let inserted = 0;
      inserted += await insert(
        `INSERT INTO kpi_demo.regions (code, name) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING RETURNING 1`,
        [col(rows.regions, 'code'), col(rows.regions, 'name')],
      );
      inserted += await insert(
        `INSERT INTO kpi_demo.kpis (metric, name, unit, higher_is_better)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[]) ON CONFLICT DO NOTHING RETURNING 1`,
        [col(rows.kpis, 'metric'), col(rows.kpis, 'name'), col(rows.kpis, 'unit'), col(rows.kpis, 'higherIsBetter')],
      );
      inserted += await insert(
        `INSERT INTO kpi_demo.kpi_metrics (quarter, region, metric, value, target)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[]) ON CONFLICT DO NOTHING RETURNING 1`,
        [
          col(rows.metrics, 'quarter'),
          col(rows.metrics, 'region'),
          col(rows.metrics, 'metric'),
          col(rows.metrics, 'value'),
          col(rows.metrics, 'target'),
        ],
      );
      inserted += await insert(
        `INSERT INTO kpi_demo.kpi_targets (year, region, metric, target)
         SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::numeric[]) ON CONFLICT DO NOTHING RETURNING 1`,
        [col(rows.targets, 'year'), col(rows.targets, 'region'), col(rows.targets, 'metric'), col(rows.targets, 'target')],
      );
      inserted += await insert(
        `INSERT INTO kpi_demo.revenue_by_region (quarter, region, revenue, cost)
         SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::numeric[]) ON CONFLICT DO NOTHING RETURNING 1`,
        [col(rows.revenue, 'quarter'), col(rows.revenue, 'region'), col(rows.revenue, 'revenue'), col(rows.revenue, 'cost')],
      );
      return inserted;
    });
  }
}
