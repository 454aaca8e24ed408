// SVG -> PNG through resvg (prebuilt native binaries from the npm registry).
//
// resvg draws text only with fonts it is given, and CI machines may have no
// system fonts at all; so the font ships with the project (the npm package
// `dejavu-fonts-ttf`) and is the only one loaded: the pictures come out the
// same on every machine, fonts installed or not.
import { createRequire } from 'node:module';
import { Resvg } from '@resvg/resvg-js';
import { TwnnError } from '../common/errors.js';

import { CHART_FONT_FAMILY } from './chart-specs.js';

/** The family every chart's text is set in; `CHART_FONT_FILE` provides it. */
export { CHART_FONT_FAMILY };

/** DejaVu Sans from the `dejavu-fonts-ttf` package (the package has no `exports` map, so the file resolves directly). */
export const CHART_FONT_FILE = createRequire(import.meta.url).resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf');

export interface PngOptions {
  /** Scale the picture to this many pixels wide, keeping its aspect ratio (default: the SVG's own size). */
  width?: number;
}

/**
 * Rasterise SVG text to PNG bytes, on a white background, with the bundled font.
 *
 * @example
 * const png = svgToPng(await lineChart({ title: 'loss', xLabel: 'step', yLabel: 'loss', series }));
 */
export function svgToPng(svg: string, options: PngOptions = {}): Uint8Array {
  const { width } = options;
  if (width !== undefined && (!Number.isInteger(width) || width < 1)) throw new TwnnError(`svgToPng: width must be a positive integer, got ${width}`);
  let renderer: Resvg;
  try {
    renderer = new Resvg(svg, {
      font: { loadSystemFonts: false, fontFiles: [CHART_FONT_FILE], defaultFontFamily: CHART_FONT_FAMILY, sansSerifFamily: CHART_FONT_FAMILY },
      background: 'white',
      fitTo: width === undefined ? { mode: 'original' } : { mode: 'width', value: width },
      logLevel: 'off',
    });
  } catch (err) {
    throw new TwnnError(`svgToPng: not a valid SVG document (${String((err as Error).message ?? err).split('\n')[0]})`);
  }
  return new Uint8Array(renderer.render().asPng());
}
