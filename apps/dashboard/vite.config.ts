// Vite builds the dashboard into dist/dashboard (served by the API at /dashboard); vitest runs its unit tests.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/dashboard/',
  // No @vitejs/plugin-react: Vite's own transform (oxc) compiles JSX with the automatic runtime; we need no fast refresh
  // in the build, and the plugin's optional peers conflict with jest's babel in one tree.
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  build: { outDir: fileURLToPath(new URL('../../dist/dashboard', import.meta.url)), emptyOutDir: true, chunkSizeWarningLimit: 1000 },
  server: { port: 5178, proxy: { '^/(auth|orchestrations|webhooks|agents|docs-json)': 'http://localhost:3108' } },
  // css.include: vitest stubs CSS as empty unless told; theme.test.ts reads styles.css?raw to check its contrast.
  test: { environment: 'happy-dom', include: ['src/**/*.test.{ts,tsx}'], root: here, css: { include: [/styles\.css/] } },
});
