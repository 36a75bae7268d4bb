/**
 * No install scripts but reviewed ones: every package of package-lock.json that has an install script (preinstall,
 * install, postinstall) must be named in package.json's `allowScripts`, allowed (true) or denied (false), so a new
 * dependency that brings one fails here until someone has looked at it (docs/security.md, "Dependencies").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '#config';

const read = (file: string) => JSON.parse(readFileSync(join(projectRoot(), file), 'utf8')) as Record<string, unknown>;

describe('install scripts', () => {
  it('are all reviewed in allowScripts', () => {
    const lock = read('package-lock.json') as { packages: Record<string, { hasInstallScript?: boolean }> };
    const allowed = (read('package.json').allowScripts ?? {}) as Record<string, boolean>;
    const withScripts = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.length).toBeGreaterThan(0);
    expect([...new Set(withScripts)].filter((name) => !(name in allowed))).toEqual([]);
  });
});
