/**
 * User-facing errors. Every error twnn raises on bad input is a `TwnnError`:
 * the CLI prints its message on one line and exits 2, without a stack trace.
 *
 * @example
 * try { defineModel({ name: 'bad name!', input: { shape: ['B', 4] }, net: dense(4, 2) }); } catch (err) { if (err instanceof TwnnError) console.error(err.message); }
 */
export class TwnnError extends Error {
  override name = 'TwnnError';
}

/**
 * A shape or dtype mismatch found while a graph is built.
 *
 * @example if (err instanceof ShapeError) console.error(`fix the layer sizes: ${err.message}`);
 */
export class ShapeError extends TwnnError {
  override name = 'ShapeError';
}

/**
 * A malformed model spec (graph definition, region, layer arguments).
 *
 * @example try { dense(0, 4); } catch (err) { console.log(err instanceof SpecError); } // true: 'dense: inFeatures must be a positive integer, got 0'
 */
export class SpecError extends TwnnError {
  override name = 'SpecError';
}

/**
 * A file that cannot be read as what it claims to be (corrupt, truncated, foreign).
 *
 * @example await openSession('notes.txt').catch((err) => err instanceof FormatError); // true
 */
export class FormatError extends TwnnError {
  override name = 'FormatError';
}
