/**
 * An accessibility audit of the document as rendered, run inside the page by the browser suite
 * (test/dashboard-audit.ts): the contrast of every visible text against what is painted behind it (WCAG 1.4.3; SVG
 * text against the shape it sits on), accessible names of controls and fields (4.1.2, 1.3.1), one h1, unique ids,
 * a lang and a main landmark. Self-contained (it is serialized into the page); `ratio` is lib/contrast.ts's
 * contrastRatio. Returns one line per problem. Not part of the app bundle.
 */
export function auditDocument(ratio: (fg: string, bg: string) => number): string[] {
  const problems: string[] = [];
  const rgba = (colour: string): number[] => {
    const parts = /rgba?\(([^)]+)\)/.exec(colour)?.[1]?.split(/[\s,/]+/).filter(Boolean).map(Number) ?? [0, 0, 0, 0];
    return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0, parts[3] ?? 1];
  };
  const over = (top: string, under: string): string => {
    const [r, g, b, a] = rgba(top) as [number, number, number, number];
    const [ur, ug, ub] = rgba(under) as [number, number, number];
    return `rgb(${r * a + ur * (1 - a)}, ${g * a + ug * (1 - a)}, ${b * a + ub * (1 - a)})`;
  };
  /** What is painted behind an element: its own and its ancestors' backgrounds, translucent ones blended. */
  const backgroundOf = (element: Element): string => {
    const layers: string[] = [];
    for (let e: Element | null = element; e; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      if (rgba(bg)[3] === 0) continue;
      layers.push(bg);
      if (rgba(bg)[3] === 1) break;
    }
    return layers.reverse().reduce((under, layer) => over(layer, under), 'rgb(255, 255, 255)');
  };
  const name = (e: Element): string => {
    const text = (e.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 50);
    return `<${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${typeof e.className === 'string' && e.className ? `.${e.className.trim().split(/\s+/).join('.')}` : ''}> "${text}"`;
  };
  const shown = (e: Element): boolean => {
    const box = e.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) return false; // not rendered, or visually hidden on purpose (.sr-only)
    if (e.closest('details:not([open]) > :not(summary)')) return false;
    const style = getComputedStyle(e);
    return style.visibility !== 'hidden' && Number(style.opacity) > 0;
  };

  // Contrast (WCAG 1.4.3): every element with text of its own; SVG text against the shape it sits on.
  for (const e of document.body.querySelectorAll('*')) {
    const ownText = [...e.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && (n.textContent ?? '').trim() !== '');
    const field = e.matches('input:not([type=checkbox]):not([type=radio]):not([type=hidden]), textarea, select') && (e as HTMLInputElement).value !== '';
    if ((!ownText && !field) || e.matches('option, title, script, style') || !shown(e)) continue;
    if (e.closest('button:disabled, [aria-disabled="true"], input:disabled, select:disabled, textarea:disabled')) continue; // exempt
    const style = getComputedStyle(e);
    const svg = e instanceof SVGElement;
    const fg = svg ? style.fill : style.color;
    const shape = svg ? e.closest('g')?.querySelector(':scope > rect') : null;
    const bg = shape ? over(getComputedStyle(shape).fill, backgroundOf(e.closest('svg')!.parentElement!)) : backgroundOf(svg ? e.closest('svg')!.parentElement! : e);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const needed = large ? 3 : 4.5;
    const measured = ratio(fg, bg);
    if (measured < needed) problems.push(`contrast ${measured.toFixed(2)}:1 < ${needed}:1 for ${name(e)} (${fg} on ${bg})`);
  }

  // Accessible names (WCAG 4.1.2, 1.3.1): every control, link and focusable element; fields by a label.
  const labelled = (e: Element): boolean => {
    if (e.getAttribute('aria-label')?.trim()) return true;
    const by = e.getAttribute('aria-labelledby');
    if (by && by.split(/\s+/).some((id) => document.getElementById(id)?.textContent?.trim())) return true;
    const labels = (e as HTMLInputElement).labels;
    if (labels && [...labels].some((l) => l.textContent?.trim())) return true;
    if (e.matches('input, select, textarea')) return false; // a placeholder is not a label
    return Boolean(e.textContent?.trim() || e.getAttribute('title')?.trim());
  };
  const controls = 'a[href], button, input:not([type=hidden]), select, textarea, progress, [role=button], [role=link], [role=img], [role=group], [tabindex]:not([tabindex="-1"])';
  for (const e of document.querySelectorAll(controls)) if (shown(e) && !labelled(e)) problems.push(`no accessible name: ${name(e)}`);

  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) problems.push(`${h1} h1 headings (one expected)`);
  const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
  for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) problems.push(`duplicate id ${id}`);
  if (!document.documentElement.lang) problems.push('no lang on <html>');
  if (!document.querySelector('main')) problems.push('no <main> landmark');
  return problems;
}
