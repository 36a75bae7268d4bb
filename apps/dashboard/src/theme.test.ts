// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { contrastRatio } from './lib/contrast';
import css from './styles.css?raw';

/** The theme's colours, from :root in styles.css. */
const theme = Object.fromEntries([...css.matchAll(/--([\w-]+):\s*(#[0-9a-fA-F]{3,6})\s*;/g)].map((m) => [m[1]!, m[2]!]));
const TEXT = 4.5; // WCAG 1.4.3, normal text
const GRAPHIC = 3; // WCAG 1.4.11, non-text contrast: borders of controls, chart bars, focus rings

/** [foreground, background, minimum, where styles.css pairs them] */
const PAIRS: [string, string, number, string][] = [
  ...['bg', 'card', 'neutral-bg', 'th-bg', 'code-bg', 'dag-bg', 'warn-bg'].map((bg): [string, string, number, string] => ['text', bg, TEXT, 'body text']),
  ...['bg', 'card', 'neutral-bg', 'th-bg', 'dag-bg', 'ok-bg', 'bad-bg', 'warn-bg', 'active-bg', 'info-bg'].map((bg): [string, string, number, string] => [
    'muted',
    bg,
    TEXT,
    'secondary text, table headers, DAG node state lines',
  ]),
  ...['bg', 'card', 'warn-bg', 'th-bg'].map((bg): [string, string, number, string] => ['accent', bg, TEXT, 'links (also in notices)']),
  ['ok', 'ok-bg', TEXT, 'badge, diff'],
  ['ok', 'card', TEXT, '.ok-text, live indicator'],
  ['bad', 'bad-bg', TEXT, 'badge, inline errors, diff'],
  ['bad', 'card', TEXT, 'field errors'],
  ['warn', 'warn-bg', TEXT, 'badge'],
  ['active', 'active-bg', TEXT, 'badge'],
  ['info', 'info-bg', TEXT, 'badge'],
  ['on-accent', 'accent', TEXT, 'primary buttons'],
  ['on-accent', 'bad', TEXT, 'danger buttons'],
  ['on-accent', 'topbar-bg', TEXT, 'brand'],
  ['topbar-text', 'topbar-bg', TEXT, 'navigation links'],
  ['text', 'card', TEXT, 'current navigation link'],
  ['on-accent', 'topbar-role-bg', TEXT, 'role chip'],
  ['line-strong', 'card', GRAPHIC, 'input borders, DAG node borders'],
  ['line-strong', 'dag-bg', GRAPHIC, 'DAG edges'],
  ['focus', 'bg', GRAPHIC, 'focus ring on the page'],
  ['focus', 'card', GRAPHIC, 'focus ring on cards'],
  ['focus', 'topbar-bg', GRAPHIC, 'focus ring in the top bar'],
  ...['ok', 'bad', 'active', 'chart-warn', 'line-strong'].map((bar): [string, string, number, string] => [bar, 'card', GRAPHIC, 'Gantt bars']),
  ...(['ok', 'bad', 'warn', 'active'] as const).map((tone): [string, string, number, string] => [tone, 'card', GRAPHIC, 'DAG node icons and borders']),
  ['chart-warn', 'warn-bg', GRAPHIC, 'DAG node border, awaiting approval'],
];

describe('theme contrast (WCAG AA)', () => {
  it('computes ratios as WCAG defines them', () => {
    expect(contrastRatio('#000', '#fff')).toBeCloseTo(21, 5);
    expect(contrastRatio('#777777', '#ffffff')).toBeCloseTo(4.48, 2);
    expect(contrastRatio('rgba(0, 0, 0, 0.5)', 'rgb(255, 255, 255)')).toBeCloseTo(contrastRatio('#808080', '#fff'), 1);
  });

  it.each(PAIRS)('%s on %s is at least %s:1 (%s)', (fg, bg, minimum) => {
    expect(theme[fg], `--${fg} in :root`).toBeDefined();
    expect(theme[bg], `--${bg} in :root`).toBeDefined();
    expect(Math.round(contrastRatio(theme[fg]!, theme[bg]!) * 100) / 100).toBeGreaterThanOrEqual(minimum);
  });

  it('uses no colour outside :root, so every pairing above is the one on screen', () => {
    const rules = css.replace(/:root\s*\{[^}]*\}/, '');
    expect(rules.match(/#[0-9a-fA-F]{3,6}\b/g) ?? []).toEqual([]);
  });
});
