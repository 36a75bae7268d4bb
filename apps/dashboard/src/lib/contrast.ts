/**
 * WCAG 2 contrast ratio of a foreground colour over an opaque background (`#rgb`, `#rrggbb`, `rgb()` or `rgba()`;
 * a translucent foreground is blended over the background first). Self-contained on purpose: the browser suite
 * injects its source into the page to measure the rendered colours (test/dashboard-a11y.ts), and theme.test.ts
 * checks the theme's pairings with it.
 */
export function contrastRatio(foreground: string, background: string): number {
  const parse = (colour: string): [number, number, number, number] => {
    const value = colour.trim().toLowerCase();
    const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/.exec(value)?.[1];
    if (hex) {
      const full = hex.length === 3 ? [...hex].map((c) => c + c).join('') : hex;
      return [parseInt(full.slice(0, 2), 16), parseInt(full.slice(2, 4), 16), parseInt(full.slice(4, 6), 16), 1];
    }
    const rgb = /^rgba?\(([^)]+)\)$/.exec(value)?.[1];
    if (!rgb) throw new Error(`not a colour: ${colour}`);
    const parts = rgb.split(/[\s,/]+/).filter(Boolean).map(Number);
    return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0, parts[3] ?? 1];
  };
  const luminance = ([r, g, b]: number[]): number => {
    const [lr, lg, lb] = [r!, g!, b!].map((c) => {
      const s = c / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * lr! + 0.7152 * lg! + 0.0722 * lb!;
  };
  const bg = parse(background);
  const [fr, fg, fb, alpha] = parse(foreground);
  const blended = [fr, fg, fb].map((c, i) => c * alpha + bg[i]! * (1 - alpha));
  const [light, dark] = [luminance(blended), luminance(bg)].sort((a, b) => b - a) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}
