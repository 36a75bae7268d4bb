/**
 * Reads definition files (YAML or JSON) from a file or a folder, ordered so that a definition comes after
 * the definitions it runs as sub-orchestrations: applying them in this order never trips over a reference
 * to an orchestration that is about to be created. Shared by the seed runner and `definitions:apply`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parse } from 'yaml';

export interface DefinitionFile {
  path: string;
  text: string;
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** The definition files at `target`: the file itself, or the YAML/JSON files directly inside the folder. */
export function readDefinitionFiles(target: string): DefinitionFile[] {
  const paths = statSync(target).isDirectory()
    ? readdirSync(target)
        .filter((name) => EXTENSIONS.has(extname(name).toLowerCase()))
        .sort()
        .map((name) => join(target, name))
    : [target];
  return orderByReferences(paths.map((path) => ({ path, text: readFileSync(path, 'utf8') })));
}

interface Parsed {
  slug?: string;
  references: string[];
}

/** Slug and sub-orchestration references of a file; files that do not parse keep their place (apply reports them). */
function inspect(text: string): Parsed {
  try {
    const doc: unknown = parse(text);
    if (typeof doc !== 'object' || doc === null) return { references: [] };
    const { slug, steps } = doc as { slug?: unknown; steps?: unknown };
    const references = Array.isArray(steps)
      ? steps.flatMap((step: unknown) => {
          const ref = typeof step === 'object' && step !== null ? (step as { orchestration?: unknown }).orchestration : undefined;
          return typeof ref === 'string' ? [ref] : [];
        })
      : [];
    return { slug: typeof slug === 'string' ? slug : undefined, references };
  } catch {
    return { references: [] };
  }
}

/** Depth-first topological order, stable on file name; a reference cycle is left for validation to report. */
export function orderByReferences(files: DefinitionFile[]): DefinitionFile[] {
  const parsed = new Map(files.map((file) => [file, inspect(file.text)]));
  const bySlug = new Map<string, DefinitionFile>();
  for (const [file, info] of parsed) if (info.slug && !bySlug.has(info.slug)) bySlug.set(info.slug, file);
  const ordered: DefinitionFile[] = [];
  const visiting = new Set<DefinitionFile>();
  const done = new Set<DefinitionFile>();
  const visit = (file: DefinitionFile) => {
    if (done.has(file) || visiting.has(file)) return;
    visiting.add(file);
    for (const ref of parsed.get(file)?.references ?? []) {
      const dependency = bySlug.get(ref);
      if (dependency) visit(dependency);
    }
    visiting.delete(file);
    done.add(file);
    ordered.push(file);
  };
  files.forEach(visit);
  return ordered;
}
