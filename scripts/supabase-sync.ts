/**
 * `npm run supabase:sync`: writes supabase/migrations/*.sql from the TypeORM migrations, and removes
 * generated files whose migration no longer exists. Hand-written SQL files (without the marker) are left alone.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '#config';
import { GENERATED_MARKER, renderSupabaseMigrations } from './supabase-sql.js';

async function main(): Promise<void> {
  const dir = join(projectRoot(), 'supabase', 'migrations');
  mkdirSync(dir, { recursive: true });
  const files = await renderSupabaseMigrations();
  const wanted = new Set(files.map((f) => f.fileName));
  for (const existing of readdirSync(dir).filter((f) => f.endsWith('.sql') && !wanted.has(f))) {
    if (readFileSync(join(dir, existing), 'utf8').startsWith(GENERATED_MARKER)) {
      rmSync(join(dir, existing));
      console.log(`removed  supabase/migrations/${existing}`);
    }
  }
  for (const file of files) {
    const path = join(dir, file.fileName);
    let current: string | undefined;
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === file.sql) {
      console.log(`ok       supabase/migrations/${file.fileName}`);
      continue;
    }
    writeFileSync(path, file.sql);
    console.log(`written  supabase/migrations/${file.fileName}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
